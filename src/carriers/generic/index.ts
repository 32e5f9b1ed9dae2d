/**
 * The generic JSON carrier endpoint, for SIP servers and carriers that are not
 * Twilio-compatible (examples/kamailio shows one). Signed like Stripe webhooks,
 * with the endpoint bound in:
 *   X-Switchboard-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(secret, "<t>.<path>.<raw body>")>
 * where <path> is the request path without its query (`/carriers/generic/inbound`),
 * so a body signed for one endpoint is refused by another. Rejected when t is
 * more than 300 s from now (replays). Several v2 values may be sent, so a
 * secret can be rotated without downtime. (v1, which did not bind the path, is
 * gone: a v1-only header is refused.)
 *
 * Its media endpoint is /media/generic/<callId>?token=..., and frames are
 * relayed untouched in both directions, binary included.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { CALL_PROGRESS } from '../../domain/call-status.js';
import { AppError } from '../../errors.js';
import type { Carrier, CarrierContext, InboundAnswer, MediaDialect, RawRequest, Rendered, StatusUpdate } from '../carrier.js';
import { mediaBase } from '../carrier.js';
import { safeEqual } from '../safe-equal.js';

export const SIGNATURE_TOLERANCE_S = 300;

export function genericSignature(secret: string, t: number, path: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.${path}.`).update(rawBody).digest('hex');
}

/** The X-Switchboard-Signature header for a body sent to `path` (e.g. /carriers/generic/inbound). */
export function signGeneric(secret: string, path: string, rawBody: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v2=${genericSignature(secret, t, path, rawBody)}`;
}

const str = (max: number) => z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(max, 'is too long');
// `from` may be missing: anonymous and withheld callers have none.
const inboundBody = z.object({ callId: str(128), from: z.string({ message: 'must be a string' }).max(128).default(''), to: str(128) });
/**
 * The generic endpoint speaks the gateway's own call progress. Twilio's
 * `queued` and `in-progress` are accepted too, as `initiated` and `answered`
 * (SIP servers scripted against the first version send them).
 */
const LEGACY: Readonly<Record<string, (typeof CALL_PROGRESS)[number]>> = { queued: 'initiated', 'in-progress': 'answered' };
const statusBody = z.object({
  callId: str(128),
  status: z
    .string({ message: 'must be a string' })
    .transform((s) => (Object.hasOwn(LEGACY, s) ? LEGACY[s]! : s))
    .pipe(z.enum(CALL_PROGRESS, { message: `must be one of ${CALL_PROGRESS.join(', ')}` })),
  durationSec: z.number({ message: 'must be a number' }).int().min(0).optional(),
  sequence: z.number({ message: 'must be a number' }).int().min(0).optional(),
});

export interface GenericCarrierConfig {
  /** SWITCHBOARD_WEBHOOK_SECRET. */
  secret: string | undefined;
}

const MEDIA_PATH = /^\/media\/generic\/([A-Za-z0-9-]{1,64})$/;

export const genericMedia: MediaDialect = {
  pathHint: '/media/generic/<callId>',
  match(path, queryParam) {
    const m = MEDIA_PATH.exec(path);
    return m ? { kind: 'url', callId: m[1]!, token: queryParam('token') } : null;
  },
  binaryToCarrier: true,
  session: () => null,
};

export function define(config: GenericCarrierConfig, ctx: CarrierContext): Carrier {
  const secret = config.secret;
  const parsed = new WeakMap<RawRequest, unknown>();

  const verify = (req: RawRequest): string | null => {
    if (!secret) return null;
    const header = req.headers['x-switchboard-signature'];
    if (typeof header !== 'string') return 'The X-Switchboard-Signature header is missing.';
    if (header.length > 1024) return 'The X-Switchboard-Signature header is too long.';
    let t: number | undefined;
    const v2: string[] = [];
    for (const part of header.split(',')) {
      const eq = part.indexOf('=');
      const k = part.slice(0, eq).trim();
      const v = part.slice(eq + 1).trim();
      if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
      else if (k === 'v2') v2.push(v);
    }
    if (t === undefined || v2.length === 0) {
      return 'X-Switchboard-Signature must be "t=<unix seconds>,v2=<hex HMAC-SHA256 of \'<t>.<path>.<body>\'>".';
    }
    const skew = ctx.now() / 1000 - t;
    if (Math.abs(skew) > SIGNATURE_TOLERANCE_S) {
      return `X-Switchboard-Signature has a stale timestamp: t is ${Math.round(Math.abs(skew))} s ${skew > 0 ? 'in the past' : 'in the future'} (at most ${SIGNATURE_TOLERANCE_S} s allowed); check the sender's clock.`;
    }
    const q = req.url.indexOf('?');
    const path = q >= 0 ? req.url.slice(0, q) : req.url;
    const expected = genericSignature(secret, t, path, req.body);
    if (v2.some((s) => safeEqual(s, expected))) return null;
    return `X-Switchboard-Signature does not match: sign "<t>.${path}.<raw body>" with SWITCHBOARD_WEBHOOK_SECRET.`;
  };

  const json = (req: RawRequest): unknown => {
    if (parsed.has(req)) return parsed.get(req);
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    if (!ct.startsWith('application/json')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json (got ${JSON.stringify(ct || 'none')}).`);
    }
    let v: unknown;
    try {
      v = JSON.parse(req.body.toString('utf8'));
    } catch (err) {
      throw new AppError('INVALID_JSON', `The body is not valid JSON: ${(err as Error).message}.`);
    }
    parsed.set(req, v);
    return v;
  };

  const renderError = (err: AppError): Rendered => reply(err.status, err.toBody());

  return {
    name: 'generic',
    title: 'Generic',
    endpoints: { inbound: 'inbound', status: 'status' },
    configured: !!secret,
    keyVariable: 'SWITCHBOARD_WEBHOOK_SECRET',
    signatureHeaders: [['x-switchboard-signature', 'X-Switchboard-Signature']],
    verify,

    parseInbound(req) {
      const b = parseBody(inboundBody, json(req));
      return { carrierCallId: b.callId, from: b.from, to: b.to };
    },

    parseStatus(req): StatusUpdate {
      const b = parseBody(statusBody, json(req));
      return { carrierCallId: b.callId, progress: b.status, durationSec: b.durationSec, sequence: b.sequence };
    },

    renderAnswer(a: InboundAnswer): Rendered {
      const d = a.decision;
      switch (d.kind) {
        case 'connect': {
          const token = ctx.signToken(a.callId!, d.assistantId, a.issuedAt);
          const mediaUrl = `${mediaBase(ctx.publicUrl())}/media/generic/${encodeURIComponent(a.callId!)}?token=${token}`;
          return reply(200, { action: 'connect', callId: a.callId, assistantId: d.assistantId, mediaUrl });
        }
        case 'reject':
          return reply(200, { action: 'reject', reason: d.reason, callId: a.callId });
        case 'unavailable':
          return renderError(new AppError('UNAVAILABLE', 'The gateway is draining; try another gateway.'));
      }
    },

    renderStatusReply: ({ call, changed }) => reply(200, { callId: call.id, status: call.status, changed }),
    renderError,
    media: genericMedia,
  };
}

const reply = (status: number, body: unknown): Rendered => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

function parseBody<S extends z.ZodType>(schema: S, v: unknown): z.infer<S> {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  throw new AppError('INVALID_REQUEST', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}
