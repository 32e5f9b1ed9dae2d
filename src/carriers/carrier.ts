/**
 * A carrier, as the gateway's call path sees it: verify a webhook, parse an
 * inbound call or a status callback, render a routing answer. One file per
 * carrier (twilio/, generic/, later telnyx/); quirks are commented there.
 */
import type { Decision } from '../domain/routing.js';
import type { AppError } from '../errors.js';

export type CarrierName = 'twilio' | 'generic';

/** A webhook as received: the raw bytes, so signatures see exactly what was sent. */
export interface RawRequest {
  /** Path and query string exactly as received (no re-encoding). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface InboundCall {
  carrierCallId: string;
  from: string;
  to: string;
  /** ISO country of the dialled number when the carrier says (Twilio's ToCountry). */
  toCountry?: string | undefined;
}

export interface StatusUpdate {
  carrierCallId: string;
  /** Twilio's vocabulary: queued, initiated, ringing, in-progress, completed, busy, failed, no-answer, canceled. */
  status: string;
  durationSec?: number | undefined;
  sequence?: number | undefined;
}

/** What the gateway decided for a call, with what a carrier needs to render it. */
export interface InboundAnswer {
  decision: Decision;
  /** The gateway's call id (null when nothing was recorded, e.g. draining). */
  callId: string | null;
  /** When the call was recorded: the media token's issue time (a retry gets the same token). */
  issuedAt: number;
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
