/**
 * Twilio: form-encoded webhooks signed with X-Twilio-Signature (HMAC-SHA1
 * over the URL and the sorted parameters), TwiML answers, and Media Streams,
 * the dialect assistants speak, so its frames are relayed untouched.
 */
import type { Carrier, CarrierContext, MediaDialect, StartFrame } from '../carrier.js';
import { twimlCarrier } from '../twiml-carrier.js';
import { validateTwilioForm } from './signature.js';

const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

export interface TwilioCarrierConfig {
  /** TWILIO_AUTH_TOKEN; without it the endpoints refuse every webhook (503). */
  authToken: string | undefined;
}

/** Twilio Media Streams: the stream names its call in start.customParameters. */
export const twilioMedia: MediaDialect = {
  pathHint: '/media/twilio',
  match: (path) => (path === '/media/twilio' ? { kind: 'start' } : null),
  readStart(data, isBinary, index): StartFrame {
    let msg: { event?: unknown; start?: { customParameters?: Record<string, unknown>; callSid?: unknown } };
    try {
      if (isBinary) return { kind: 'refuse', reason: 'protocol_violation' };
      msg = JSON.parse(data.toString('utf8')) as typeof msg;
    } catch {
      return { kind: 'refuse', reason: 'protocol_violation' };
    }
    if (msg?.event === 'connected' && index === 0) return { kind: 'wait' };
    if (msg?.event !== 'start') return { kind: 'refuse', reason: 'protocol_violation' };
    const p = msg.start?.customParameters;
    if (!p || typeof p !== 'object') return { kind: 'start', callId: undefined, token: undefined, carrierCallId: msg.start?.callSid };
    const { callId, token } = p;
    // The assistant gets the start message without the media token: a
    // credential for this endpoint, of no use to it (docs/api-notes.md).
    delete p.token;
    return { kind: 'start', callId, token, carrierCallId: msg.start?.callSid, forward: Buffer.from(JSON.stringify(msg)) };
  },
  isCarrierCallId: (id) => CALL_SID.test(id),
  // Binary frames are a protocol error for Twilio Media Streams (carriers.md).
  binaryToCarrier: false,
  session: () => null,
};

export function define(config: TwilioCarrierConfig, ctx: CarrierContext): Carrier {
  const token = config.authToken;
  /** The URL the signature is checked against: the public URL plus the raw path and query. */
  const signedUrl = (url: string) => ctx.publicUrl() + url;
  return twimlCarrier(
    {
      name: 'twilio',
      title: 'Twilio',
      keyVariable: 'TWILIO_AUTH_TOKEN',
      signatureHeaders: [['x-twilio-signature', 'X-Twilio-Signature']],
      verify: token
        ? (req, form) => {
            const sig = req.headers['x-twilio-signature'];
            if (typeof sig !== 'string' || sig === '') return 'The X-Twilio-Signature header is missing.';
            const url = signedUrl(req.url);
            if (validateTwilioForm(token, sig, url, form())) return null;
            // A URL is not a secret, and it is the first thing to compare when
            // signatures fail: it must be exactly the URL configured at Twilio.
            return `X-Twilio-Signature does not match this request signed for ${url} with TWILIO_AUTH_TOKEN. The number's webhook URL at Twilio must be exactly this URL (SWITCHBOARD_PUBLIC_URL + path).`;
          }
        : null,
      checkedUrl: (req) => signedUrl(req.url),
      checkCallId: (id) => (CALL_SID.test(id) ? null : 'must be CA followed by 32 hex digits'),
      media: twilioMedia,
      // The simulated carrier speaks Twilio's dialect: its numbers call out as Twilio's do.
      outboundProviders: ['twilio', 'sim'],
    },
    ctx,
  );
}
