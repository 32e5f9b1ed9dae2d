/**
 * Telnyx webhook signatures (src/carriers/telnyx/signature.ts), checked
 * against the official `telnyx` SDK's own verification (TelnyxWebhook,
 * client.webhooks.unwrap) as the oracle: whatever one accepts the other
 * accepts, whatever one refuses the other refuses. Signatures are made with
 * Node's own Ed25519 (generateKeyPairSync + crypto.sign), as Telnyx's are.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import Telnyx from 'telnyx';
import { TelnyxWebhook } from 'telnyx/lib/webhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseTelnyxPublicKey, verifyTelnyx } from '../../src/carriers/telnyx/signature.js';

function keyPair(): { privateKey: KeyObject; publicBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  // SPKI DER of Ed25519 = 12-byte header + the 32 raw key bytes (what the Telnyx portal shows, base64).
  expect(der.subarray(0, 12).toString('hex')).toBe('302a300506032b6570032100');
  return { privateKey, publicBase64: der.subarray(12).toString('base64') };
}

function signed(privateKey: KeyObject, body: string, ts: number): Record<string, string> {
  const signature = sign(null, Buffer.from(`${ts}|${body}`), privateKey).toString('base64');
  return { 'telnyx-signature-ed25519': signature, 'telnyx-timestamp': String(ts) };
}

/** The SDK's verdict: null when it accepts, else its message. It reads the clock itself (Date.now). */
async function sdkVerdict(publicBase64: string, body: string, headers: Record<string, string>): Promise<string | null> {
  try {
    await new TelnyxWebhook(publicBase64).verify(body, headers);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const A = keyPair();
const B = keyPair();
const keyA = parseTelnyxPublicKey(A.publicBase64);
const BODY = JSON.stringify({
  data: {
    event_type: 'number_order.complete',
    id: '0ccc7b54-4df3-4bca-a65a-3da1ecc777f0',
    occurred_at: '2026-01-01T00:00:00.000Z',
    payload: { id: 'f1e2', status: 'success', phone_numbers: [{ phone_number: '+14155550100', status: 'success' }], customer_reference: 'num_1' },
  },
});

afterEach(() => {
  vi.useRealTimers();
});

describe('known answers: Node-signed webhooks, our verifier and the SDK agree', () => {
  const now = Date.now();
  const ts = Math.floor(now / 1000);
  const good = signed(A.privateKey, BODY, ts);

  it('a correct signature is accepted by both', async () => {
    expect(verifyTelnyx(keyA, good, BODY, now)).toBeNull();
    expect(verifyTelnyx(keyA, good, Buffer.from(BODY), now)).toBeNull();
    expect(await sdkVerdict(A.publicBase64, BODY, good)).toBeNull();
  });

  it('the SDK client (webhooks.unwrap with the key) accepts it and returns the event', async () => {
    const client = new Telnyx({ apiKey: 'KEY_not_used', baseURL: 'http://127.0.0.1:9/v2', publicKey: A.publicBase64, clientID: null, clientSecret: null });
    const event = await client.webhooks.unwrap(BODY, { headers: good });
    expect((event as unknown as { data: { event_type: string } }).data.event_type).toBe('number_order.complete');
    await expect(client.webhooks.unwrap(BODY.replace('success', 'failure'), { headers: good })).rejects.toThrow(/signature/i);
  });

  const cases: Array<[string, string, Record<string, string>, KeyObject, string]> = [
    ['tampered body', BODY.replace('+14155550100', '+14155550101'), good, keyA, 'signature mismatch'],
    ['body with a trailing newline', `${BODY}\n`, good, keyA, 'signature mismatch'],
    ['tampered timestamp (signed one second earlier)', BODY, { ...good, 'telnyx-timestamp': String(ts - 1) }, keyA, 'signature mismatch'],
    ['signed by another key', BODY, signed(B.privateKey, BODY, ts), keyA, 'signature mismatch'],
    ['checked with another key', BODY, good, parseTelnyxPublicKey(B.publicBase64), 'signature mismatch'],
    [
      'signature of another body',
      BODY,
      { ...good, 'telnyx-signature-ed25519': signed(A.privateKey, '{}', ts)['telnyx-signature-ed25519']! },
      keyA,
      'signature mismatch',
    ],
    [
      'signed without the timestamp',
      BODY,
      { ...good, 'telnyx-signature-ed25519': sign(null, Buffer.from(BODY), A.privateKey).toString('base64') },
      keyA,
      'signature mismatch',
    ],
    [
      'truncated signature',
      BODY,
      { ...good, 'telnyx-signature-ed25519': good['telnyx-signature-ed25519']!.slice(0, 80) },
      keyA,
      'malformed telnyx-signature-ed25519 header (not 64 bytes of base64)',
    ],
    [
      'signature not base64',
      BODY,
      { ...good, 'telnyx-signature-ed25519': '!'.repeat(88) },
      keyA,
      'malformed telnyx-signature-ed25519 header (not 64 bytes of base64)',
    ],
    ['no signature header', BODY, { 'telnyx-timestamp': String(ts) }, keyA, 'missing telnyx-signature-ed25519 header'],
    ['no timestamp header', BODY, { 'telnyx-signature-ed25519': good['telnyx-signature-ed25519']! }, keyA, 'missing telnyx-timestamp header'],
    ['timestamp not a number', BODY, { ...good, 'telnyx-timestamp': `${ts}.5` }, keyA, 'malformed telnyx-timestamp header'],
  ];
  it.each(cases)('refused by both: %s', async (_name, body, headers, key, reason) => {
    expect(verifyTelnyx(key, headers, body, now)).toBe(reason);
    const keyBase64 = key === keyA ? A.publicBase64 : B.publicBase64;
    expect(await sdkVerdict(keyBase64, body, headers)).not.toBeNull();
  });

  it('header names are case-insensitive (Express lower-cases them; the SDK looks them up either way)', async () => {
    const mixed = { 'Telnyx-Signature-Ed25519': good['telnyx-signature-ed25519']!, 'Telnyx-Timestamp': good['telnyx-timestamp']! };
    expect(verifyTelnyx(keyA, mixed, BODY, now)).toBeNull();
    expect(await sdkVerdict(A.publicBase64, BODY, mixed)).toBeNull();
  });

  it('a header sent twice is refused (which one was signed?)', () => {
    const twice = {
      'telnyx-signature-ed25519': [good['telnyx-signature-ed25519']!, good['telnyx-signature-ed25519']!],
      'telnyx-timestamp': good['telnyx-timestamp']!,
    };
    expect(verifyTelnyx(keyA, twice, BODY, now)).toBe('repeated telnyx-signature-ed25519 header');
  });

  it('the raw bytes are what is signed: a UTF-8 body verifies from its Buffer, and re-encoding it does not', () => {
    const body = JSON.stringify({ data: { payload: { city: 'Düsseldorf', note: 'Zürich – ✓' } } });
    const h = signed(A.privateKey, body, ts);
    expect(verifyTelnyx(keyA, h, Buffer.from(body, 'utf8'), now)).toBeNull();
    expect(verifyTelnyx(keyA, h, Buffer.from(body, 'latin1'), now)).toBe('signature mismatch');
  });
});

describe('the ±300 s window, with the clock at a fixed instant for both verifiers', () => {
  const nowMs = Date.parse('2026-03-01T12:00:00.250Z');
  const nowS = Math.floor(nowMs / 1000);
  it.each([
    ['300 s old', -300, true],
    ['301 s old', -301, false],
    ['300 s ahead', 300, true],
    ['301 s ahead', 301, false],
    ['an hour old (a replay)', -3600, false],
    ['now', 0, true],
  ])('%s', async (_name, offset, accepted) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(nowMs);
    const h = signed(A.privateKey, BODY, nowS + offset);
    expect(verifyTelnyx(keyA, h, BODY, nowMs)).toBe(accepted ? null : 'stale telnyx-timestamp (more than 300 s from now)');
    expect((await sdkVerdict(A.publicBase64, BODY, h)) === null).toBe(accepted);
  });
});

describe('parseTelnyxPublicKey (TELNYX_PUBLIC_KEY)', () => {
  it('accepts the base64 of a raw 32-byte key, with surrounding spaces, and verifies with it', () => {
    const k = parseTelnyxPublicKey(`  ${A.publicBase64}\n`);
    expect(k.asymmetricKeyType).toBe('ed25519');
    const ts = Math.floor(Date.now() / 1000);
    expect(verifyTelnyx(k, signed(A.privateKey, BODY, ts), BODY, Date.now())).toBeNull();
  });

  it.each([
    ['empty', '', /not base64/],
    ['not base64', 'not a key!', /not base64/],
    ['31 bytes', Buffer.alloc(31, 7).toString('base64'), /decodes to 31 bytes/],
    ['33 bytes', Buffer.alloc(33, 7).toString('base64'), /decodes to 33 bytes/],
    [
      'the SPKI DER (44 bytes) instead of the raw key',
      Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.alloc(32, 9)]).toString('base64'),
      /decodes to 44 bytes/,
    ],
    ['a PEM', '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----', /not base64/],
    ['hex instead of base64 (64 hex digits are base64 characters too)', 'ab'.repeat(32), /decodes to 48 bytes/],
    ['base64 cut short', A.publicBase64.slice(0, 40), /not canonical base64|decodes to/],
    ['the identity point (AQAA...=), which verifies forged signatures', `AQ${'A'.repeat(41)}=`, /small order/],
    ['all zeros (a point of order 4)', Buffer.alloc(32).toString('base64'), /small order/],
    ['y ≥ p: not canonical', Buffer.alloc(32, 0xff).fill(0x7f, 31).toString('base64'), /not a canonical curve point/],
  ])('refuses %s, naming TELNYX_PUBLIC_KEY and never echoing the value', (_name, value, pattern) => {
    let message = '';
    try {
      parseTelnyxPublicKey(value);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^TELNYX_PUBLIC_KEY must be the base64 of the 32-byte Ed25519 public key/);
    expect(message).toMatch(pattern);
    if (value.length > 8) expect(message).not.toContain(value.trim());
  });

  it('refuses bytes that are not a curve point (about half of all 32-byte strings)', () => {
    // y = 2 gives x² = 3 / (4d + 1), not a square mod p.
    const notOnCurve = Buffer.alloc(32);
    notOnCurve[0] = 2;
    expect(() => parseTelnyxPublicKey(notOnCurve.toString('base64'))).toThrow(/not a point on the curve/);
  });

  it('why small-order keys are refused: with the identity point as key, Node (and the SDK) accept a forged signature for any body', async () => {
    const identity = `AQ${'A'.repeat(41)}=`;
    const ts = Math.floor(Date.now() / 1000);
    // R = identity, S = 0: [S]B = R + [k]A holds for every message when A is the identity.
    const forged = Buffer.concat([Buffer.from([1]), Buffer.alloc(31), Buffer.alloc(32)]).toString('base64');
    const headers = { 'telnyx-signature-ed25519': forged, 'telnyx-timestamp': String(ts) };
    expect(await sdkVerdict(identity, '{"anything":"at all"}', headers)).toBeNull();
    expect(() => parseTelnyxPublicKey(identity)).toThrow(/small order/);
  });

  it('a private key pasted by mistake is not a public key', () => {
    const der = createPrivateKey(A.privateKey.export({ format: 'pem', type: 'pkcs8' })).export({ format: 'der', type: 'pkcs8' });
    expect(() => parseTelnyxPublicKey(der.toString('base64'))).toThrow(/decodes to 48 bytes/);
  });
});
