/** Twilio (and Twilio-compatible carriers): form-encoded webhooks, TwiML answers. */
import { AppError } from '../../errors.js';
import type { CallTokens } from '../../routing/call-token.js';
import { first, parseForm, type FormParams } from '../form.js';
import type { CarrierAdapter, InboundAnswer, RawRequest, Rendered, StatusUpdate } from '../carrier.js';
import { validateTwilioForm } from './signature.js';
import { REJECT_TWIML, connectTwiml } from './twiml.js';

const FORM = 'application/x-www-form-urlencoded';
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

export interface TwilioAdapterOptions {
  authToken: string | undefined;
  /** Public base URL getter (known only once listening when PORT=0). */
  publicUrl: () => string;
  tokens: CallTokens;
}

/** The stream URL: the public URL's host with ws(s)://, no query string (Twilio strips it). */
export function mediaBase(publicUrl: string): string {
  return publicUrl.replace(/^http/i, 'ws');
}

export class TwilioAdapter implements CarrierAdapter {
  readonly name = 'twilio' as const;
  readonly signatureHeader = 'x-twilio-signature';
  readonly signatureHeaderName = 'X-Twilio-Signature';
  private cachedBase = '';
  private actionUrl = '';
  private streamUrl = '';
  // Parsed once per request: verify() and parse*() share it.
  private readonly forms = new WeakMap<RawRequest, FormParams>();

  constructor(private readonly o: TwilioAdapterOptions) {}

  get configured(): boolean {
    return !!this.o.authToken;
  }

  form(req: RawRequest): FormParams {
    let f = this.forms.get(req);
    if (!f) {
      const ct = String(req.headers['content-type'] ?? '');
      if (!ct.toLowerCase().startsWith(FORM)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Twilio webhooks are ${FORM} (got ${JSON.stringify(ct || 'none')}).`);
      }
      f = parseForm(req.body.toString('utf8'));
      this.forms.set(req, f);
    }
    return f;
  }

  /** The URL the signature is checked against: the public URL plus the raw path and query. */
  signedUrl(req: RawRequest): string {
    return this.o.publicUrl() + req.url;
  }

  verify(req: RawRequest): string | null {
    if (!this.o.authToken) return null; // insecure mode; the handler refuses otherwise
    const sig = req.headers['x-twilio-signature'];
    if (typeof sig !== 'string' || sig === '') return 'The X-Twilio-Signature header is missing.';
    const url = this.signedUrl(req);
    if (validateTwilioForm(this.o.authToken, sig, url, this.form(req))) return null;
    // A URL is not a secret, and it is the first thing to compare when
    // signatures fail: it must be exactly the URL configured at Twilio.
    return `X-Twilio-Signature does not match this request signed for ${url} with TWILIO_AUTH_TOKEN. The number's webhook URL at Twilio must be exactly this URL (SWITCHBOARD_PUBLIC_URL + path).`;
  }

  parseInbound(req: RawRequest) {
    const f = this.form(req);
    const carrierCallId = required(f, 'CallSid');
    if (!CALL_SID.test(carrierCallId)) throw new AppError('INVALID_REQUEST', 'CallSid: must be CA followed by 32 hex digits.');
    return { carrierCallId, from: first(f, 'From') ?? '', to: required(f, 'To'), toCountry: first(f, 'ToCountry') };
  }

  /** The CallSid of any Twilio request (connect-action carries little else we need). */
  callSid(req: RawRequest): string {
    return required(this.form(req), 'CallSid');
  }

  parseStatus(req: RawRequest): StatusUpdate {
    const f = this.form(req);
    const duration = first(f, 'CallDuration');
    const seq = first(f, 'SequenceNumber');
    return {
      carrierCallId: required(f, 'CallSid'),
      status: required(f, 'CallStatus'),
      durationSec: duration !== undefined && /^\d{1,9}$/.test(duration) ? Number(duration) : undefined,
      sequence: seq !== undefined && /^\d{1,9}$/.test(seq) ? Number(seq) : undefined,
    };
  }

  private urls(): void {
    const base = this.o.publicUrl();
    if (base === this.cachedBase) return;
    this.cachedBase = base;
    this.actionUrl = `${base}/carriers/twilio/connect-action`;
    this.streamUrl = `${mediaBase(base)}/media/twilio`;
  }

  /** TwiML that bridges a call's audio to the gateway's media endpoint. */
  connect(callId: string, assistantId: string, issuedAt: number): string {
    this.urls();
    return connectTwiml(this.actionUrl, this.streamUrl, { callId, token: this.o.tokens.sign(callId, assistantId, issuedAt) });
  }

  renderAnswer(a: InboundAnswer): Rendered {
    const d = a.decision;
    switch (d.kind) {
      case 'connect':
        return { status: 200, contentType: 'text/xml', body: this.connect(a.callId!, d.assistantId, a.issuedAt) };
      case 'reject':
        return { status: 200, contentType: 'text/xml', body: REJECT_TWIML };
      case 'unavailable':
        // A non-2xx makes Twilio try the number's fallback URL.
        return this.renderError(new AppError('UNAVAILABLE', 'The gateway is draining; use the fallback URL.'));
    }
  }

  renderError(err: AppError): Rendered {
    return { status: err.status, contentType: 'application/json', body: JSON.stringify(err.toBody()) };
  }
}

function required(f: FormParams, name: string): string {
  const v = first(f, name);
  if (v === undefined || v === '') throw new AppError('INVALID_REQUEST', `${name}: is required.`);
  return v;
}
