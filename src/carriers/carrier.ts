/**
 * The carrier port: everything the gateway's call path needs from a carrier,
 * behind one interface. A carrier is one folder (twilio/, telnyx/, generic/)
 * exporting a `define` function, plus one line in registry.ts; the HTTP
 * handler, the media server, the bridge and the services never name one.
 *
 * A carrier:
 *   - verifies its webhooks (its signature scheme, its key variable);
 *   - parses an inbound call and a status callback into neutral terms
 *     (CallProgress, see domain/call-status.ts);
 *   - renders the routing decision, the reply to a status callback, the
 *     answer to its connect-action (what to do once the stream ended) and
 *     errors, in its own format;
 *   - speaks a media dialect on /media/<name>: how a stream says which call
 *     it is, and how its frames translate to the one dialect assistants speak
 *     (Twilio Media Streams). A carrier that speaks it already relays frames
 *     untouched.
 */
import type { InboundAnswer, InboundCall } from '../domain/routing.js';
import type { CarrierStatusUpdate } from '../domain/call-status.js';
import type { Call } from '../domain/types.js';
import type { AppError } from '../errors.js';

export type { InboundAnswer, InboundCall };

/** A webhook as received: the raw bytes, so signatures see exactly what was sent. */
export interface RawRequest {
  /** Path and query string exactly as received (no re-encoding). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A status callback, mapped onto the gateway's neutral call progress. */
export interface StatusUpdate extends CarrierStatusUpdate {
  carrierCallId: string;
}

export interface Rendered {
  status: number;
  contentType: string;
  body: string;
}

/** The webhook endpoints a carrier answers, as the last path segment under /carriers/<name>/. */
export interface CarrierEndpoints {
  inbound: string;
  status: string;
  /** Asked once the media stream has ended (TwiML/TeXML `<Connect action>`). */
  connectAction?: string;
  /** The carrier's account events (Telnyx's number orders), passed on verified to its number provider. */
  events?: string;
}

export interface Carrier {
  /** Lower-case; the URL segment (/carriers/<name>/, /media/<name>) and the call records' `carrier`. */
  readonly name: string;
  /** As people write it, for messages ("Twilio"). */
  readonly title: string;
  readonly endpoints: CarrierEndpoints;
  /** Whether its verification key is configured (else its endpoints answer 503, unless insecure mode). */
  readonly configured: boolean;
  /** The environment variable holding the key, for messages. */
  readonly keyVariable: string;
  /** Headers that must be present before the body is read: lower-case as Node presents them, and as people write them. */
  readonly signatureHeaders: ReadonlyArray<readonly [lower: string, written: string]>;
  /** null when the signature holds, else why not (safe to show: names no secret). */
  verify(req: RawRequest): string | null;
  /** What the signature was checked against, when that helps an operator (Twilio's URL); logged on failure. */
  checkedUrl?(req: RawRequest): string;
  /** Throws AppError(INVALID_REQUEST) naming what is missing. */
  parseInbound(req: RawRequest): InboundCall;
  parseStatus(req: RawRequest): StatusUpdate;
  /** The carrier call id of a connect-action request. */
  connectActionCallId?(req: RawRequest): string;
  /** An account event's body, parsed (after verify); throws AppError for a body that is not one. */
  parseEvent?(req: RawRequest): unknown;
  renderAnswer(answer: InboundAnswer): Rendered;
  renderStatusReply(result: { call: Call; changed: boolean }): Rendered;
  /** What to do once the stream ended: an apology when the assistant could not be reached, else hang up. */
  renderConnectAction?(call: Call | undefined): Rendered;
  renderError(err: AppError): Rendered;
  readonly media: MediaDialect;
  /**
   * Outbound calls (api.md section 5): the markup a dialer hands this carrier
   * so the call's audio comes back through the gateway. Absent for carriers
   * that cannot place calls.
   */
  readonly outbound?: {
    /** Number providers whose numbers call out through this carrier. */
    readonly providers: readonly string[];
    render(callId: string, assistantId: string, issuedAt: number): string;
  };
}

/** A WebSocket frame as ws delivers it. */
export type Frame = readonly [data: Buffer, isBinary: boolean];

/** How a media stream says which call it belongs to. */
export type StreamIdentity =
  /** From the URL (the generic carrier: /media/generic/<callId>?token=...). */
  | { kind: 'url'; callId: string; token: string | null }
  /** From the stream's start message (Twilio, Telnyx: the per-call values ride in its custom parameters). */
  | { kind: 'start' };

/** What a frame received before the stream identified itself means. */
export type StartFrame =
  | { kind: 'wait' }
  | {
      kind: 'start';
      callId: unknown;
      token: unknown;
      carrierCallId: unknown;
      /** The frame to relay in its place (the start message without the media token), if it differs. */
      forward?: Buffer;
    }
  | { kind: 'refuse'; reason: 'protocol_violation' };

/** Counters a translating session keeps (media stats add them up). */
export interface TranslationStats {
  translated: number;
  /** Frames the carrier sent that were dropped: unknown events, bad JSON or bad base64. */
  badFrames: number;
  /** Frames from the carrier that arrived after the reorder window had passed them (or twice). */
  lateFrames: number;
  /** Frames that arrived early and were held back to be put in order. */
  reordered: number;
  /** Frames from the assistant that the carrier's dialect cannot carry. */
  untranslatable: number;
  /** Error events the carrier reported on the stream. */
  carrierErrors: number;
}

export const newTranslationStats = (): TranslationStats => ({ translated: 0, badFrames: 0, lateFrames: 0, reordered: 0, untranslatable: 0, carrierErrors: 0 });

/** Where a session's translated frames go. */
export interface MediaOutlets {
  toAssistant(data: string, isBinary: boolean): void;
  toCarrier(data: string, isBinary: boolean): void;
}

/**
 * One call's translation between a carrier's dialect and Twilio Media
 * Streams. A frame may produce no frame (dropped, or held to be put in
 * order) or several (a gap closed); they go to the outlets.
 */
export interface MediaSession {
  fromCarrier(data: Buffer, isBinary: boolean): void;
  fromAssistant(data: Buffer, isBinary: boolean): void;
  /** Releases timers; frames still held are dropped (the call is over). */
  close(): void;
}

export interface MediaDialect {
  /**
   * Whether this carrier's media endpoint is this path, and how the stream
   * identifies itself; null when it is not.
   */
  match(path: string, queryParam: (name: string) => string | null): StreamIdentity | null;
  /** The endpoint's shape, for the 404 message (e.g. "/media/twilio"). */
  readonly pathHint: string;
  /** For `start` identities: reads the stream's opening frames, one at a time (`index` counts from 0). */
  readStart?(data: Buffer, isBinary: boolean, index: number): StartFrame;
  /** How many frames may come before the start message (frames may be reordered). */
  readonly maxFramesBeforeStart?: number;
  /** Whether a carrier call id learnt from a stream looks like this carrier's (bound to outbound calls). */
  isCarrierCallId?(id: string): boolean;
  /** Whether binary frames from the assistant may go to the carrier (Twilio and Telnyx: JSON text only). */
  readonly binaryToCarrier: boolean;
  /** A translating session per call, or null when frames are relayed untouched (zero-copy). */
  session(stats: TranslationStats, out: MediaOutlets): MediaSession | null;
}

/** What every carrier's factory receives. */
export interface CarrierContext {
  /** Public base URL getter (known only once listening when PORT=0). */
  publicUrl: () => string;
  /** Signs per-call media tokens. */
  signToken: (callId: string, assistantId: string, issuedAt: number) => string;
  /** Milliseconds since the epoch (the gateway's clock). */
  now: () => number;
}

/** The stream URL base: the public URL with ws(s)://. */
export function mediaBase(publicUrl: string): string {
  return publicUrl.replace(/^http/i, 'ws');
}
