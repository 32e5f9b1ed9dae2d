/**
 * What a failed Twilio call means, in the port's terms (ProviderError kinds),
 * and whether Twilio may have done it anyway. The second matters for one
 * request only, the purchase: Twilio has no idempotency key (carriers.md,
 * "Buy"), so after a timeout or a 5xx the number may be ours although we got
 * no answer, and only a lookup tells.
 *
 * Codes from Twilio's error dictionary (twilio.com/docs/errors/NNNNN) as
 * carriers.md lists them. Messages name the code and never a credential: the
 * SDK's own errors carry the request (with its Authorization header) and are
 * never logged or passed on.
 */
import { ProviderError, type ProviderErrorKind } from '../provider.js';
import { TwilioHostRefused, TwilioHttpError, TwilioUnparsableAnswer } from './http-client.js';

/**
 * - `nothing-done`: Twilio refused, or the request never left (connection refused, DNS).
 * - `maybe-done`: sent, and we do not know what happened (timeout, reset, 5xx, an unreadable 2xx).
 */
export type Certainty = 'nothing-done' | 'maybe-done';

export interface Classified {
  error: ProviderError;
  certainty: Certainty;
}

/** Sold or reserved meanwhile (21422); a number Twilio will not sell (21421 invalid). */
const UNAVAILABLE = new Set([21421, 21422]);

/**
 * Regulatory requirements Twilio checks at purchase, and what the operator has
 * to set up in the Twilio console (Phone Numbers → Regulatory Compliance) for
 * the number's country before Switchboard can buy there.
 */
const REGULATORY: ReadonlyMap<number, string> = new Map([
  [21631, 'an address (AddressSid)'],
  [21613, 'a local address or certification'],
  [21615, 'a local address (AddressSid)'],
  [21649, 'an approved regulatory bundle (BundleSid)'],
  [21650, 'an address that matches the regulatory bundle'],
]);

/** Connection errors raised before a byte of the request was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL']);

function fail(kind: ProviderErrorKind, message: string, details?: ProviderError['details']): ProviderError {
  return new ProviderError('twilio', kind, message, details);
}

function fromAnswer(e: TwilioHttpError, ctx: { op: string; country?: string | undefined }): Classified {
  const { status, code } = e;
  const details = { status, ...(code === undefined ? {} : { code }), ...(e.retryAfterS === undefined ? {} : { retryAfterS: e.retryAfterS }) };
  const said = e.twilioMessage ? `: ${e.twilioMessage}` : '';
  const tag = `HTTP ${status}${code === undefined ? '' : `, code ${code}`}`;
  if (code !== undefined && UNAVAILABLE.has(code)) {
    return { certainty: 'nothing-done', error: fail('unavailable', `Twilio cannot sell this number (${tag})${said}`, details) };
  }
  const need = code === undefined ? undefined : REGULATORY.get(code);
  if (need !== undefined) {
    const where = ctx.country ? ` in ${ctx.country}` : '';
    return {
      certainty: 'nothing-done',
      error: fail(
        'regulatory',
        `Twilio requires ${need} to buy numbers${where}: set it up in the Twilio console (Phone Numbers → Regulatory Compliance) for that country (${tag})`,
        details,
      ),
    };
  }
  if (code === 20003 || status === 401 || status === 403) {
    return { certainty: 'nothing-done', error: fail('auth', `Twilio refused the account credentials (${tag}): check the Account SID and auth token`, details) };
  }
  if (code === 20429 || status === 429) {
    return { certainty: 'nothing-done', error: fail('unavailable_provider', `Twilio is rate limiting requests (${tag})`, details) };
  }
  if (status >= 500) {
    return { certainty: 'maybe-done', error: fail('unavailable_provider', `Twilio failed to answer ${ctx.op} (${tag})`, details) };
  }
  if (code === 20404 || status === 404) {
    return { certainty: 'nothing-done', error: fail('not_found', `Twilio has no such resource (${tag})`, details) };
  }
  return { certainty: 'nothing-done', error: fail('invalid_request', `Twilio refused ${ctx.op} (${tag})${said}`, details) };
}

/** Classifies anything a Twilio SDK call rejected with. */
export function classify(err: unknown, ctx: { op: string; country?: string | undefined }): Classified {
  if (err instanceof ProviderError) return { error: err, certainty: 'nothing-done' };
  if (err instanceof TwilioHttpError) return fromAnswer(err, ctx);
  if (err instanceof TwilioUnparsableAnswer) {
    // A success status with a body we cannot read: the purchase may well have happened.
    return { certainty: 'maybe-done', error: fail('bad_response', `Twilio's answer to ${ctx.op} is not JSON (HTTP ${err.status})`, { status: err.status }) };
  }
  if (err instanceof TwilioHostRefused) return { certainty: 'nothing-done', error: fail('unavailable_provider', err.message) };
  if (err instanceof SyntaxError) {
    // The SDK's own JSON.parse (a body that is a JSON string, say).
    return { certainty: 'maybe-done', error: fail('bad_response', `Twilio's answer to ${ctx.op} could not be read`) };
  }
  // Transport errors (axios, below the SDK): only the code is kept, never the error
  // itself, which holds the request config and so the Authorization header.
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : 'unknown';
  if (NOT_SENT.has(code)) {
    return { certainty: 'nothing-done', error: fail('unavailable_provider', `Twilio is unreachable (${code})`, { code }) };
  }
  const timeout = code === 'ECONNABORTED' || code === 'ETIMEDOUT';
  return {
    certainty: 'maybe-done',
    error: fail('unavailable_provider', timeout ? `Twilio did not answer ${ctx.op} in time` : `the connection to Twilio failed during ${ctx.op} (${code})`, {
      code,
    }),
  };
}
