/**
 * Telnyx voice, through a TeXML application: form-encoded webhooks with
 * Twilio's parameter names and Telnyx's ids (`v3:...`, not validated beyond
 * length), signed with Ed25519 (signature.ts), answered in TeXML.
 *
 * The stream is <Connect><Stream bidirectionalMode="rtp"
 * bidirectionalCodec="PCMU">: without rtp mode Telnyx expects MP3 back and
 * drops the assistant's mu-law audio. Its media dialect is translated to
 * Twilio Media Streams on the bridge (media.ts).
 */
import type { KeyObject } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { Carrier, CarrierContext, RawRequest } from '../carrier.js';
import { twimlCarrier } from '../twiml-carrier.js';
import { DEFAULT_REORDER, telnyxMedia, type ReorderOptions } from './media.js';
import { verifyTelnyx } from './signature.js';

export interface TelnyxCarrierConfig {
  /** TELNYX_PUBLIC_KEY, parsed; without it the endpoints refuse every webhook (503). */
  publicKey: KeyObject | undefined;
  reorder?: ReorderOptions;
}

/** TeXML's <Stream> attributes for a two-way mu-law stream. */
export const TELNYX_STREAM_ATTRIBUTES = { bidirectionalMode: 'rtp', bidirectionalCodec: 'PCMU', codec: 'PCMU' } as const;

export function define(config: TelnyxCarrierConfig, ctx: CarrierContext): Carrier {
  const key = config.publicKey;
  return twimlCarrier(
    {
      name: 'telnyx',
      title: 'Telnyx',
      keyVariable: 'TELNYX_PUBLIC_KEY',
      signatureHeaders: [
        ['telnyx-signature-ed25519', 'telnyx-signature-ed25519'],
        ['telnyx-timestamp', 'telnyx-timestamp'],
      ],
      verify: key
        ? (req) => {
            const why = verifyTelnyx(key, req.headers, req.body, ctx.now());
            return why === null
              ? null
              : `The Telnyx webhook signature was refused: ${why}. Check TELNYX_PUBLIC_KEY against the public key in the Telnyx portal, and this host's clock.`;
          }
        : null,
      checkCallId: (id) => (/^[\x21-\x7e]{1,128}$/.test(id) ? null : 'must be 1 to 128 printable characters'),
      streamAttributes: TELNYX_STREAM_ATTRIBUTES,
      media: telnyxMedia(config.reorder ?? DEFAULT_REORDER),
      outboundProviders: ['telnyx'],
      // Number orders settle by webhook too (number_order.complete): JSON,
      // signed like the voice webhooks, handed to the Telnyx number provider.
      events: { endpoint: 'events', parse: parseEvent },
    },
    ctx,
  );
}

function parseEvent(req: RawRequest): unknown {
  const ct = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!ct.startsWith('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Telnyx events are application/json (got ${JSON.stringify(ct || 'none')}).`);
  }
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    throw new AppError('INVALID_JSON', `The body is not valid JSON: ${(err as Error).message}.`);
  }
}
