/**
 * One live call's media bridge: the carrier's WebSocket on one side, the
 * pinned assistant's on the other, every frame relayed in order and unchanged.
 *
 *   connecting ──assistant open──▶ bridged ──either side closes──▶ closed
 *        └──refused / 5 s timeout / non-101──▶ closed (assistant_unreachable)
 *
 * Frames from the carrier that arrive before the assistant socket is open are
 * queued, not dropped. The assistant always speaks Twilio Media Streams: when
 * the carrier does too (Twilio, and the generic carrier, which relays
 * anything), frames are never parsed or re-encoded: once bridged, each
 * direction is spliced (splice.ts), its frames' raw bytes written to the
 * other socket as they arrived, ws still answering pings and running the
 * close handshake; until a direction is spliced (or if it cannot be), frames
 * are forwarded as the Buffers ws received, with their text/binary flag.
 * Otherwise the carrier's session (e.g. Telnyx's) translates each frame both
 * ways, through ws.
 *
 * Backpressure: real-time audio that a peer has not read for many seconds is
 * worthless, so buffering is bounded instead of paced: when a destination's
 * bufferedAmount (or the pre-open queue) passes maxBufferedBytes, that peer
 * has stopped reading and the call ends with reason `<side>_stalled`. Memory
 * per call is bounded by twice that limit. Dead peers are found by ping/pong.
 */
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { MediaDialect, MediaSession, TranslationStats } from '../carriers/carrier.js';
import { CLOSE_REASONS, type EndReason } from '../errors.js';
import type { Faults } from '../faults.js';
import { AddressRefused, checkAddress, parseAddress, policyLookup, type Network } from './address-policy.js';
import type { LiveCall, LiveCallRegistry } from './registry.js';
import { canRead, canWrite, socketOf, Splice } from './splice.js';

export type Frame = readonly [data: Buffer, isBinary: boolean];

export interface BridgeCallHooks {
  markAnswered(callId: string): Promise<void>;
  /** `detail` is the call record's reason when the call failed (e.g. why the assistant was unreachable). */
  markEnded(callId: string, reason: EndReason, detail?: string): Promise<void>;
}

export interface MediaStats {
  framesToAssistant: number;
  framesToCarrier: number;
  /** Binary frames from assistants that the carrier's dialect cannot carry (Twilio, Telnyx). */
  droppedBinaryToCarrier: number;
  bridgesOpened: number;
  bridgesFailed: number;
  /** Translating carriers' counters (Telnyx), summed over calls. */
  translation: TranslationStats;
}

export const newMediaStats = (): MediaStats => ({
  framesToAssistant: 0,
  framesToCarrier: 0,
  droppedBinaryToCarrier: 0,
  bridgesOpened: 0,
  bridgesFailed: 0,
  translation: { translated: 0, badFrames: 0, lateFrames: 0, reordered: 0, untranslatable: 0, carrierErrors: 0 },
});

export interface BridgeOptions {
  callId: string;
  assistantId: string;
  mediaUrl: string;
  /** The carrier's media dialect: whether frames are relayed untouched or translated. */
  dialect: MediaDialect;
  carrier: WebSocket;
  /** Frames already received from the carrier (Twilio's connected and start), relayed first. */
  initialFrames: Frame[];
  hooks: BridgeCallHooks;
  registry: LiveCallRegistry;
  stats: MediaStats;
  log: Logger;
  faults: Faults;
  /** SWITCHBOARD_MEDIA_ALLOWED_NETWORKS (null: anywhere but link-local and metadata). */
  allowedNetworks: readonly Network[] | null;
  connectTimeoutMs?: number;
  maxBufferedBytes?: number;
  pingIntervalMs?: number;
  /** Untranslated dialects only: relay raw frames once bridged (splice.ts) instead of through ws's parse and re-frame. Default true. */
  splice?: boolean;
}

type State = 'connecting' | 'bridged' | 'closed';

export class CallBridge implements LiveCall {
  readonly callId: string;
  readonly assistantId: string;
  private state: State = 'connecting';
  private readonly carrier: WebSocket;
  private assistant: WebSocket | null = null;
  private queue: Frame[];
  private queuedBytes = 0;
  private carrierAlive = true;
  private assistantAlive = true;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly maxBuffered: number;
  /** Null on the zero-copy path. */
  private readonly session: MediaSession | null;
  /** The spliced directions (splice.ts), once taken over from ws. */
  private fromCarrierSplice: Splice | null = null;
  private fromAssistantSplice: Splice | null = null;
  /** Retries the splice after each chunk until both directions are taken over. */
  private spliceRetry: (() => void) | null = null;

  constructor(private readonly o: BridgeOptions) {
    this.callId = o.callId;
    this.assistantId = o.assistantId;
    this.carrier = o.carrier;
    this.maxBuffered = o.maxBufferedBytes ?? 1024 * 1024;
    this.session = o.dialect.session(o.stats.translation, {
      toAssistant: (data, isBinary) => this.toAssistant(data, isBinary),
      toCarrier: (data, isBinary) => this.toCarrier(data, isBinary),
    });
    this.queue = [...o.initialFrames];
    for (const [d] of this.queue) this.queuedBytes += d.length;
    // Listen before anything else can happen, so no carrier frame is missed.
    // Every handler is guarded: an exception thrown inside a ws event would
    // otherwise end the process and every other live call with it.
    this.carrier.on('message', this.guard(this.onCarrierMessage));
    this.carrier.on('close', this.guard(this.onCarrierClose));
    this.carrier.on('error', this.guard(this.onCarrierError));
    this.carrier.on('pong', () => (this.carrierAlive = true));
  }

  /** The handler, with any exception reported and the call ended (1011), never rethrown. */
  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return this.o.faults.guard('media', fn, () => this.end('internal_error'));
  }

  /** Which directions are relayed as raw frames (splice.ts) rather than through ws. */
  get spliced(): { fromCarrier: boolean; fromAssistant: boolean } {
    return { fromCarrier: !!this.fromCarrierSplice?.spliced, fromAssistant: !!this.fromAssistantSplice?.spliced };
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Opens the assistant side. */
  start(): void {
    this.o.registry.add(this);
    this.o.stats.bridgesOpened++;
    // The address policy (address-policy.ts): an IP literal is checked here,
    // a hostname on every address it resolves to, at connect time.
    let host: string;
    try {
      host = new URL(this.o.mediaUrl).hostname;
    } catch (err) {
      this.unreachable(err);
      return;
    }
    if (parseAddress(host)) {
      const verdict = checkAddress(host, this.o.allowedNetworks);
      if (!verdict.ok) {
        this.unreachable(new AddressRefused(verdict.why));
        return;
      }
    }
    let a: WebSocket;
    try {
      a = new WebSocket(this.o.mediaUrl, {
        // Reaches net/tls.connect through ws's options (typed there, not here).
        ...({ lookup: policyLookup(this.o.allowedNetworks) } as object),
        handshakeTimeout: this.o.connectTimeoutMs ?? 5000,
        perMessageDeflate: false,
        skipUTF8Validation: true,
        maxPayload: 1024 * 1024,
        // Client frames must be masked (RFC 6455 5.3), but the mask exists to
        // protect browsers' intermediaries from cache poisoning; between two
        // servers it buys nothing. An all-zero mask is valid and lets ws skip
        // copying and XOR-ing every relayed frame (11% of relay CPU, profiled).
        generateMask: (mask: Buffer) => void mask.fill(0),
      });
    } catch (err) {
      this.unreachable(err);
      return;
    }
    this.assistant = a;
    a.on('open', this.guard(this.onAssistantOpen));
    a.on('message', this.guard(this.onAssistantMessage));
    a.on('close', this.guard(this.onAssistantClose));
    // Refused, DNS failure, handshake timeout, non-101 answer: all arrive here before 'open'.
    a.on(
      'error',
      this.guard((err: Error) => (this.state === 'connecting' ? this.unreachable(err) : this.end('assistant_error'))),
    );
    a.on('pong', () => (this.assistantAlive = true));
    const every = this.o.pingIntervalMs ?? 15_000;
    this.pingTimer = setInterval(this.guard(this.heartbeat), every);
    this.pingTimer.unref();
  }

  close(reason: EndReason): void {
    this.end(reason);
  }

  private readonly onAssistantOpen = (): void => {
    if (this.state !== 'connecting') return;
    this.state = 'bridged';
    this.o.hooks.markAnswered(this.callId).catch((err: unknown) => this.o.faults.report('media', err, { callId: this.callId }));
    this.o.log.info({ queued: this.queue.length }, 'assistant connected; bridging');
    const q = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const [data, isBinary] of q) this.fromCarrier(data, isBinary);
    if (this.state === 'bridged' && !this.session && this.o.splice !== false) this.splice();
  };

  /**
   * Takes each direction over from ws once its receiver sits at a frame
   * boundary (splice.ts); until then, and for whatever cannot be spliced,
   * frames keep flowing through ws's events as before.
   */
  private splice(): void {
    const a = this.assistant!;
    const c = this.carrier;
    if (this.state !== 'bridged') return this.stopSpliceRetry();
    if (!this.fromCarrierSplice && canRead(c) && canWrite(a)) {
      this.fromCarrierSplice = new Splice(c, a, {
        masked: true,
        forward: () => true,
        writable: () => this.writable(a, 'assistant_stalled'),
        forwarded: (n) => (this.o.stats.framesToAssistant += n),
        dropped: () => {},
        failed: this.spliceFailed,
      });
    }
    if (!this.fromAssistantSplice && canRead(a) && canWrite(c)) {
      this.fromAssistantSplice = new Splice(a, c, {
        masked: false,
        forward: (isBinary) => !isBinary || this.o.dialect.binaryToCarrier,
        writable: () => this.writable(c, 'carrier_stalled'),
        forwarded: (n) => (this.o.stats.framesToCarrier += n),
        dropped: () => {
          if (this.state === 'bridged') this.o.stats.droppedBinaryToCarrier++;
        },
        failed: this.spliceFailed,
      });
    }
    if (this.fromCarrierSplice && this.fromAssistantSplice) return this.stopSpliceRetry();
    if (!this.spliceRetry) {
      // After ws's own 'data' listener: the receiver has had the chunk.
      const retry = this.guard(() => this.splice());
      this.spliceRetry = retry;
      socketOf(c)?.on('data', retry);
      socketOf(a)?.on('data', retry);
    }
  }

  private readonly spliceFailed = (err: unknown): void => {
    this.o.faults.report('media', err, { callId: this.callId });
    this.end('internal_error');
  };

  private stopSpliceRetry(): void {
    if (!this.spliceRetry) return;
    socketOf(this.carrier)?.off('data', this.spliceRetry);
    if (this.assistant) socketOf(this.assistant)?.off('data', this.spliceRetry);
    this.spliceRetry = null;
  }

  /** Whether a spliced frame may be written to `to` now; past the buffer limit, the call ends (`stalled`). */
  private writable(to: WebSocket, stalled: 'assistant_stalled' | 'carrier_stalled'): boolean {
    if (this.state !== 'bridged' || to.readyState !== WebSocket.OPEN) return false;
    if (to.bufferedAmount > this.maxBuffered) {
      this.end(stalled);
      return false;
    }
    return true;
  }

  private readonly onCarrierMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.state === 'bridged') return this.fromCarrier(data, isBinary);
    if (this.state === 'connecting') {
      this.queue.push([data, isBinary]);
      this.queuedBytes += data.length;
      if (this.queuedBytes > this.maxBuffered) this.end('assistant_stalled');
    }
  };

  private fromCarrier(data: Buffer, isBinary: boolean): void {
    if (this.session) this.session.fromCarrier(data, isBinary);
    else this.toAssistant(data, isBinary);
  }

  private readonly onAssistantMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.state !== 'bridged') return;
    if (isBinary && !this.o.dialect.binaryToCarrier) {
      // Binary frames are a protocol error for Twilio Media Streams (carriers.md), and Telnyx's.
      this.o.stats.droppedBinaryToCarrier++;
      return;
    }
    if (this.session) this.session.fromAssistant(data, isBinary);
    else this.toCarrier(data, isBinary);
  };

  private toCarrier(data: Buffer | string, isBinary: boolean): void {
    if (this.state !== 'bridged') return;
    if (this.carrier.bufferedAmount > this.maxBuffered) return this.end('carrier_stalled');
    this.carrier.send(data, { binary: isBinary });
    this.o.stats.framesToCarrier++;
  }

  private toAssistant(data: Buffer | string, isBinary: boolean): void {
    if (this.state !== 'bridged') return;
    const a = this.assistant!;
    if (a.bufferedAmount > this.maxBuffered) return this.end('assistant_stalled');
    a.send(data, { binary: isBinary });
    this.o.stats.framesToAssistant++;
  }

  private readonly onCarrierClose = (): void => this.end('carrier_hangup');
  private readonly onAssistantClose = (): void => {
    if (this.state === 'connecting') return; // the error handler decides
    this.end('assistant_hangup');
  };
  private readonly onCarrierError = (err: Error): void => {
    this.o.log.warn({ err: err.message }, 'carrier socket error');
    this.end('carrier_error');
  };

  private readonly heartbeat = (): void => {
    if (!this.carrierAlive) return this.end('carrier_timeout');
    if (this.state === 'bridged' && !this.assistantAlive) return this.end('assistant_timeout');
    this.carrierAlive = false;
    this.assistantAlive = false;
    safe(() => this.carrier.ping());
    if (this.state === 'bridged') safe(() => this.assistant!.ping());
  };

  private unreachable(err: unknown): void {
    this.o.stats.bridgesFailed++;
    const refused = err instanceof AddressRefused;
    this.o.log.warn(
      { mediaUrl: this.o.mediaUrl, err: err instanceof Error ? err.message : String(err), ...(refused ? { policy: 'refused' } : {}) },
      refused ? 'assistant address refused by the media address policy' : 'assistant unreachable',
    );
    // Recorded before the carrier's socket closes, so Twilio's <Connect action>
    // request (sent after the close) finds the reason and plays the apology.
    this.end('assistant_unreachable', refused ? 'media_address_refused' : undefined);
  }

  private end(reason: EndReason, detail?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const code = CLOSE_REASONS[reason].close;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.stopSpliceRetry();
    this.session?.close();
    this.queue = [];
    const recorded = this.o.hooks.markEnded(this.callId, reason, detail).catch((err: unknown) => {
      this.o.log.error({ err }, 'could not record the end of the call');
    });
    // Live until its end is recorded: a drain that waits for no live calls
    // then closes the database only after every end reason is written.
    void recorded.finally(() => this.o.registry.remove(this));
    if (this.assistant) closeSocket(this.assistant, code, reason);
    if (reason === 'assistant_unreachable') {
      // Close the carrier's socket only once the reason is recorded: Twilio
      // requests the <Connect action> right after the close, and that answer
      // (the apology) depends on it. Bounded, so a stuck database cannot hold the call.
      const timer = setTimeout(() => closeSocket(this.carrier, code, reason), 2000);
      void recorded.finally(() => {
        clearTimeout(timer);
        closeSocket(this.carrier, code, reason);
      });
    } else {
      closeSocket(this.carrier, code, reason);
    }
    this.o.log.info({ reason }, 'bridge ended');
  }
}

function closeSocket(ws: WebSocket, code: number, reason: string): void {
  safe(() => {
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
  });
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    /* the socket is already gone */
  }
}
