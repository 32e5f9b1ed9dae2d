/**
 * The per-call media token: an HMAC over the call id and the pinned assistant,
 * so the media endpoint can trust the pinning without a lookup and without any
 * other process's memory. The key is derived from the server secret.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export class CallTokens {
  private readonly key: Buffer;

  constructor(serverSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', serverSecret, 'switchboard', 'media-token-v1', 32));
  }

  sign(callId: string, assistantId: string): string {
    return createHmac('sha256', this.key).update(`${callId}\0${assistantId}`).digest('base64url');
  }

  verify(callId: string, assistantId: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length !== 43) return false;
    const expected = Buffer.from(this.sign(callId, assistantId));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
