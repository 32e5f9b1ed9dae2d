/**
 * Request targets as sent, split without `new URL` (which throws on `//`,
 * `//:99999/...`, and friends, and normalises what a signature must see raw).
 *
 * RFC 9112 3.2 allows four forms: origin-form (`/path?q`), absolute-form
 * (`http://host/path`), authority-form (CONNECT) and asterisk-form (`OPTIONS *`).
 * The gateway serves origin-form only; anything else has no path here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export interface RequestTarget {
  /** The path exactly as received (no decoding), or null when the target is not origin-form. */
  readonly path: string | null;
  /** The query string without its '?', exactly as received ('' when none). */
  readonly query: string;
}

/** Longest target the gateway looks at; Node already caps the whole header block at 16 KiB. */
const MAX_TARGET = 8192;

export function splitTarget(raw: string | undefined): RequestTarget {
  if (raw === undefined || raw.length === 0 || raw.length > MAX_TARGET || raw.charCodeAt(0) !== 0x2f /* '/' */) {
    return { path: null, query: '' };
  }
  const q = raw.indexOf('?');
  return q < 0 ? { path: raw, query: '' } : { path: raw.slice(0, q), query: raw.slice(q + 1) };
}

/**
 * Answers a request whose target is not a path (absolute-form, asterisk-form,
 * garbage) with 400 in the catalogue's shape, before express (whose router
 * would answer such a target with a bare HTML 404).
 */
export function refuseTarget(req: IncomingMessage, res: ServerResponse, log: Logger): void {
  const body = JSON.stringify({ error: { code: 'INVALID_REQUEST', message: 'The request target must be a path such as /api/teams (origin-form).' } });
  res.writeHead(400, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    Connection: 'close',
  });
  res.end(body);
  log.info({ method: req.method, status: 400, error: 'INVALID_REQUEST' }, 'request');
}

/** A query parameter's value, or null. URLSearchParams never throws (a bad %-escape stays as written). */
export function queryParam(query: string, name: string): string | null {
  return query === '' ? null : new URLSearchParams(query).get(name);
}
