/**
 * What Twilio and Telnyx's TeXML have in common: form-encoded webhooks with
 * Twilio's parameter names, markup answers, a status callback per call event
 * and a connect-action once the stream ends. Each carrier's folder supplies
 * what differs: its signature, its call id shape, its <Stream> attributes,
 * its media dialect.
 */
import type { CallProgress } from '../domain/call-status.js';
import type { Call } from '../domain/types.js';
import { AppError } from '../errors.js';
import type { Carrier, CarrierContext, InboundAnswer, MediaDialect, RawRequest, Rendered, StatusUpdate } from './carrier.js';
import { mediaBase } from './carrier.js';
import { first, parseForm, type FormParams } from './form.js';
import { APOLOGY_MARKUP, HANGUP_MARKUP, REJECT_MARKUP, XML, connectMarkup } from './markup.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * CallStatus, in Twilio's words (TeXML uses the same, and `answered` in some
 * of its callbacks): `queued` and `initiated` are `initiated`, `in-progress`
 * is `answered`.
 */
const PROGRESS: Readonly<Record<string, CallProgress>> = {
  queued: 'initiated',
  initiated: 'initiated',
  ringing: 'ringing',
  'in-progress': 'answered',
  answered: 'answered',
  completed: 'completed',
  busy: 'busy',
  failed: 'failed',
  'no-answer': 'no-answer',
  canceled: 'canceled',
};
const STATUS_NAMES = Object.keys(PROGRESS).join(', ');

export interface TwimlCarrierSpec {
  name: string;
  title: string;
  keyVariable: string;
  /** Null when the key is not configured. */
  verify: ((req: RawRequest, form: () => FormParams) => string | null) | null;
  signatureHeaders: Carrier['signatureHeaders'];
  checkedUrl?: (req: RawRequest) => string;
  /** Checks the call id of an inbound call; returns why it is refused, or null. */
  checkCallId: (id: string) => string | null;
  streamAttributes?: Readonly<Record<string, string>>;
  media: MediaDialect;
  /** Number providers whose numbers call out through this carrier. */
  outboundProviders: readonly string[];
  /** An endpoint for the carrier's account events (verified like its voice webhooks). */
  events?: { endpoint: string; parse(req: RawRequest): unknown };
}

export function twimlCarrier(spec: TwimlCarrierSpec, ctx: CarrierContext): Carrier {
  // Parsed once per request: verify() and parse*() share it.
  const forms = new WeakMap<RawRequest, FormParams>();
  const form = (req: RawRequest): FormParams => {
    let f = forms.get(req);
    if (!f) {
      const ct = String(req.headers['content-type'] ?? '');
      if (!ct.toLowerCase().startsWith(FORM)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `${spec.title} webhooks are ${FORM} (got ${JSON.stringify(ct || 'none')}).`);
      }
      f = parseForm(req.body.toString('utf8'));
      forms.set(req, f);
    }
    return f;
  };

  let cachedBase = '';
  let actionUrl = '';
  let streamUrl = '';
  const connect = (callId: string, assistantId: string, issuedAt: number): string => {
    const base = ctx.publicUrl();
    if (base !== cachedBase) {
      cachedBase = base;
      actionUrl = `${base}/carriers/${spec.name}/connect-action`;
      streamUrl = `${mediaBase(base)}/media/${spec.name}`;
    }
    return connectMarkup({
      actionUrl,
      streamUrl,
      params: { callId, token: ctx.signToken(callId, assistantId, issuedAt) },
      ...(spec.streamAttributes ? { streamAttributes: spec.streamAttributes } : {}),
    });
  };
  const renderError = (err: AppError): Rendered => ({ status: err.status, contentType: 'application/json', body: JSON.stringify(err.toBody()) });
  const verify = spec.verify;

  return {
    name: spec.name,
    title: spec.title,
    endpoints: { inbound: 'voice', status: 'status', connectAction: 'connect-action', ...(spec.events ? { events: spec.events.endpoint } : {}) },
    configured: verify !== null,
    keyVariable: spec.keyVariable,
    signatureHeaders: spec.signatureHeaders,
    verify: (req) => (verify ? verify(req, () => form(req)) : null),
    ...(spec.checkedUrl ? { checkedUrl: spec.checkedUrl } : {}),

    parseInbound(req) {
      const f = form(req);
      const carrierCallId = required(f, 'CallSid');
      const bad = spec.checkCallId(carrierCallId);
      if (bad) throw new AppError('INVALID_REQUEST', `CallSid: ${bad}.`);
      return { carrierCallId, from: first(f, 'From') ?? '', to: required(f, 'To'), toCountry: first(f, 'ToCountry') };
    },

    parseStatus(req): StatusUpdate {
      const f = form(req);
      const status = required(f, 'CallStatus');
      const progress = Object.hasOwn(PROGRESS, status) ? PROGRESS[status]! : undefined;
      if (!progress) throw new AppError('INVALID_REQUEST', `CallStatus: "${status.slice(0, 40)}" is not a call status (${STATUS_NAMES}).`);
      const duration = first(f, 'CallDuration');
      const seq = first(f, 'SequenceNumber');
      return {
        carrierCallId: required(f, 'CallSid'),
        progress,
        durationSec: duration !== undefined && /^\d{1,9}$/.test(duration) ? Number(duration) : undefined,
        sequence: seq !== undefined && /^\d{1,9}$/.test(seq) ? Number(seq) : undefined,
      };
    },

    connectActionCallId: (req) => required(form(req), 'CallSid'),
    ...(spec.events ? { parseEvent: (req: RawRequest) => spec.events!.parse(req) } : {}),

    renderAnswer(a: InboundAnswer): Rendered {
      const d = a.decision;
      switch (d.kind) {
        case 'connect':
          return { status: 200, contentType: XML, body: connect(a.callId!, d.assistantId, a.issuedAt) };
        case 'reject':
          return { status: 200, contentType: XML, body: REJECT_MARKUP };
        case 'unavailable':
          // A non-2xx makes the carrier try the number's fallback URL.
          return renderError(new AppError('UNAVAILABLE', 'The gateway is draining; use the fallback URL.'));
      }
    },

    // The carrier reads nothing from the reply; 204 is the cheapest "received".
    renderStatusReply: () => ({ status: 204, contentType: 'text/plain', body: '' }),

    renderConnectAction(call: Call | undefined): Rendered {
      const unreachable = call?.endReason === 'assistant_unreachable' || call?.reason === 'assistant_unreachable';
      return { status: 200, contentType: XML, body: unreachable ? APOLOGY_MARKUP : HANGUP_MARKUP };
    },

    renderError,
    media: spec.media,
    outbound: { providers: spec.outboundProviders, render: connect },
  };
}

function required(f: FormParams, name: string): string {
  const v = first(f, name);
  if (v === undefined || v === '') throw new AppError('INVALID_REQUEST', `${name}: is required.`);
  return v;
}
