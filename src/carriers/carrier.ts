/**
 * A carrier, as the gateway's call path sees it: verify a webhook, parse an
 * inbound call or a status callback, render a routing answer. One file per
 * carrier (twilio/, generic/, later telnyx/); quirks are commented there.
 */
import type { InboundAnswer, InboundCall } from '../domain/routing.js';

export type { InboundAnswer, InboundCall };
import type { AppError } from '../errors.js';

export type CarrierName = 'twilio' | 'generic';

/** A webhook as received: the raw bytes, so signatures see exactly what was sent. */
export interface RawRequest {
  /** Path and query string exactly as received (no re-encoding). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface StatusUpdate {
  carrierCallId: string;
  /** Twilio's vocabulary: queued, initiated, ringing, in-progress, completed, busy, failed, no-answer, canceled. */
  status: string;
  durationSec?: number | undefined;
  sequence?: number | undefined;
}

export interface Rendered {
  status: number;
  contentType: string;
  body: string;
}

export interface CarrierAdapter {
  readonly name: CarrierName;
  /** Whether a signing key is configured (else the endpoints answer 503, unless insecure mode). */
  readonly configured: boolean;
  /** The signature header, lower-case as Node presents it, and as people write it. */
  readonly signatureHeader: string;
  readonly signatureHeaderName: string;
  /** null when the signature holds, else why not (safe to show: names no secret). */
  verify(req: RawRequest): string | null;
  /** Throws AppError(INVALID_REQUEST) naming what is missing. */
  parseInbound(req: RawRequest): InboundCall;
  parseStatus(req: RawRequest): StatusUpdate;
  renderAnswer(answer: InboundAnswer): Rendered;
  renderError(err: AppError): Rendered;
}
