/**
 * The per-call media token: `<issued at, base 36 ms>.<HMAC over the call id,
 * the pinned assistant and the issue time>`, so the media endpoint can trust
 * the pinning without any other process's memory. The key is derived from
 * the server secret.
 *
 * The issue time is the call record's createdAt, so a carrier retry answered
 * from the record gets the very same token. The media server accepts a token
 * only within SWITCHBOARD_MEDIA_TOKEN_TTL_S of it, and only once (the call
 * record's media claim), so a token copied out of a log or a TwiML document
 * is worthless a minute later, or once its stream has opened.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

const MAC_LENGTH = 43; // 32 bytes, base64url

export class CallTokens {
  private readonly key: Buffer;

  constructor(serverSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', serverSecret, 'switchboard', 'media-token-v2', 32));
  }

  sign(callId: string, assistantId: string, issuedAt: number): string {
    const at = Math.trunc(issuedAt).toString(36);
    return `${at}.${this.mac(callId, assistantId, at)}`;
  }

  private mac(callId: string, assistantId: string, at: string): string {
    return createHmac('sha256', this.key).update(`${callId}\0${assistantId}\0${at}`).digest('base64url');
  }

  /** Whether the token was made by this gateway for this call and assistant (its age is checked apart, see issuedAt). */
  verify(callId: string, assistantId: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 64) return false;
    const dot = token.indexOf('.');
    if (dot < 1 || dot > 12 || token.length - dot - 1 !== MAC_LENGTH) return false;
    const at = token.slice(0, dot);
    if (!/^[0-9a-z]+$/.test(at)) return false;
    const expected = Buffer.from(this.mac(callId, assistantId, at));
    const given = Buffer.from(token.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** When a (verified) token was issued, in ms since the epoch. */
  issuedAt(token: string): number {
    return parseInt(token.slice(0, token.indexOf('.')), 36);
  }
}
