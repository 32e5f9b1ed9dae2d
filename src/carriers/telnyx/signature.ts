/**
 * Telnyx webhook signatures (carriers.md, "Telnyx"): Ed25519 over the bytes
 * `"<telnyx-timestamp>|<raw body>"`, the signature base64 in
 * `telnyx-signature-ed25519`, the timestamp in unix seconds, refused when it
 * is more than 300 s away from now (either way, as the official SDK does).
 *
 * The public key (TELNYX_PUBLIC_KEY, from the Telnyx portal) is the base64 of
 * the raw 32-byte Ed25519 key; Node's crypto takes it wrapped as SPKI DER.
 * Node accepts any 32 bytes there without checking that they encode a curve
 * point, and a key of small order (the identity point `AQAA...AA=`, all
 * zeros, ...) makes forged signatures verify for any body: a placeholder
 * pasted into the configuration would turn signature checking off. Such keys
 * are refused when the configuration is read, as are non-canonical encodings.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** SPKI DER header of an Ed25519 public key (RFC 8410), followed by the 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** How far the timestamp may be from now, in seconds (the SDK's and carriers.md's 5 minutes). */
export const TELNYX_TIMESTAMP_TOLERANCE_S = 300;

export type TelnyxHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Reads TELNYX_PUBLIC_KEY. Throws an error naming the variable (never echoing
 * its value) for anything but the base64 of a 32-byte Ed25519 public key that
 * is a canonical curve point of large order.
 */
export function parseTelnyxPublicKey(base64: string): KeyObject {
  const text = typeof base64 === 'string' ? base64.trim() : '';
  const expected = 'TELNYX_PUBLIC_KEY must be the base64 of the 32-byte Ed25519 public key shown in the Telnyx portal';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error(`${expected} (it is not base64)`);
  const raw = Buffer.from(text, 'base64');
  // Buffer.from ignores what it cannot decode; re-encoding catches a truncated or padded-wrong value.
  if (raw.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) throw new Error(`${expected} (it is not canonical base64)`);
  if (raw.length !== 32) throw new Error(`${expected} (it decodes to ${raw.length} bytes)`);
  const problem = ed25519PointProblem(raw);
  if (problem) throw new Error(`${expected} (${problem})`);
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    throw new Error(`${expected} (Node refused it as an Ed25519 key)`);
  }
}

/**
 * Checks a webhook. Returns null when it is authentic and fresh, else a short
 * reason safe to log (it quotes no header value).
 */
export function verifyTelnyx(key: KeyObject, headers: TelnyxHeaders, rawBody: Buffer | string, nowMs: number): string | null {
  const signature = header(headers, 'telnyx-signature-ed25519');
  const timestamp = header(headers, 'telnyx-timestamp');
  if (signature === undefined) return 'missing telnyx-signature-ed25519 header';
  if (timestamp === undefined) return 'missing telnyx-timestamp header';
  if (signature === null) return 'repeated telnyx-signature-ed25519 header';
  if (timestamp === null) return 'repeated telnyx-timestamp header';
  if (!/^\d{1,12}$/.test(timestamp)) return 'malformed telnyx-timestamp header';
  // Whole seconds, as the SDK compares them: exactly 300 s away is still accepted.
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > TELNYX_TIMESTAMP_TOLERANCE_S) return 'stale telnyx-timestamp (more than 300 s from now)';
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return 'malformed telnyx-signature-ed25519 header (not 64 bytes of base64)';
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const signed = Buffer.concat([Buffer.from(`${timestamp}|`, 'ascii'), body]);
  let ok = false;
  try {
    ok = verify(null, signed, key, Buffer.from(signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : 'signature mismatch';
}

/** A header's single value; undefined when absent, null when sent more than once (ambiguous: refused). */
function header(headers: TelnyxHeaders, name: string): string | undefined | null {
  let found: string | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    const values = typeof v === 'string' ? [v] : v;
    if (values.length === 0) continue;
    if (found !== undefined || values.length > 1) return null;
    found = values[0];
  }
  return found === undefined ? undefined : found.trim();
}

// --- Ed25519 point checks (RFC 8032, 5.1.3), once at start-up -------------

const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function pow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

/** Why 32 bytes are not a usable Ed25519 public key, or null when they are. */
function ed25519PointProblem(raw: Buffer): string | null {
  const bytes = Buffer.from(raw);
  const sign = (bytes[31]! & 0x80) !== 0;
  bytes[31]! &= 0x7f;
  const y = BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
  if (y >= P) return 'not a canonical curve point';
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const x2 = mod(u * inverse(v));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - x2) !== 0n) return 'not a point on the curve';
  if (x === 0n && sign) return 'not a canonical curve point';
  // Small order: 8·A is the neutral element (0, 1). Such a key verifies forged signatures.
  let pt: [bigint, bigint] = [x, y];
  for (let i = 0; i < 3; i++) pt = add(pt, pt);
  if (pt[0] === 0n && pt[1] === 1n) return 'a point of small order, which would accept forged signatures';
  return null;
}

/** Twisted Edwards addition (a = -1), affine. */
function add([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inverse(1n + t)), mod((y1 * y2 + x1 * x2) * inverse(1n - t))];
}
