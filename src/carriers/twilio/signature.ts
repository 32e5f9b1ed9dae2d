/**
 * X-Twilio-Signature, exactly as Twilio computes it (carriers.md):
 *   1. the full URL Twilio requested, query string as configured;
 *   2. form POSTs: parameter names sorted by code unit, each appended as
 *      name + value; a repeated name appends its distinct values, sorted;
 *   3. HMAC-SHA1 with the auth token, base64, compared in constant time;
 *   4. JSON bodies: the URL carries bodySHA256=<hex sha256(body)>, the
 *      signature covers the URL alone, the body hash is checked separately;
 *   5. accepted with and without the default port (:443 / :80), as the
 *      official validator does.
 *
 * The URL comes from SWITCHBOARD_PUBLIC_URL plus the raw path and query as
 * received, never the Host header (a TLS-terminating proxy makes the server
 * see http://internal-host) and never re-encoded (`'` → %27, `+` → %20 and
 * re-sorting the query are each a reported signature bug elsewhere).
 */
import { createHash, createHmac } from 'node:crypto';
import { safeEqual } from '../safe-equal.js';
import type { FormParams } from '../form.js';

export function twilioSignature(authToken: string, url: string, params: FormParams | null): string {
  // Built as one string and hashed with one update(): each update() is a
  // call into C++, and this runs on every webhook.
  let data = url;
  if (params) {
    const names = [...params.keys()].sort();
    for (const name of names) {
      const values = params.get(name)!;
      if (values.length === 1) {
        data += name + values[0];
      } else {
        for (const v of [...new Set(values)].sort()) data += name + v;
      }
    }
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** The URL with the default port added, or removed if present: Twilio may have signed either. */
export function alternatePortUrl(url: string): string | null {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return null;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const defaultPort = scheme.toLowerCase() === 'https' ? '443' : '80';
  const hostPort = /^(.*?)(?::(\d+))?$/.exec(authority)!;
  const host = hostPort[1]!;
  const port = hostPort[2];
  if (port === undefined) return `${scheme}://${host}:${defaultPort}${rest}`;
  if (port === defaultPort) return `${scheme}://${host}${rest}`;
  return null;
}

/** Validates a form-encoded webhook. */
export function validateTwilioForm(authToken: string, signature: string | undefined, url: string, params: FormParams): boolean {
  if (!signature) return false;
  if (safeEqual(signature, twilioSignature(authToken, url, params))) return true;
  const alt = alternatePortUrl(url);
  return alt !== null && safeEqual(signature, twilioSignature(authToken, alt, params));
}

/** Validates a JSON-bodied webhook: signature over the URL, then the bodySHA256 query parameter. */
export function validateTwilioJson(authToken: string, signature: string | undefined, url: string, rawBody: Buffer | string): boolean {
  if (!signature) return false;
  const q = url.indexOf('?');
  const bodySha = q >= 0 ? new URLSearchParams(url.slice(q + 1)).get('bodySHA256') : null;
  if (!bodySha) return false;
  const ok =
    safeEqual(signature, twilioSignature(authToken, url, null)) ||
    (() => {
      const alt = alternatePortUrl(url);
      return alt !== null && safeEqual(signature, twilioSignature(authToken, alt, null));
    })();
  return ok && safeEqual(bodySha, createHash('sha256').update(rawBody).digest('hex'));
}
