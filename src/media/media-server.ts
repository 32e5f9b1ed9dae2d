/**
 * The media WebSocket endpoints, one per carrier, sharing the HTTP server
 * through 'upgrade' (each carrier's dialect says its path and how a stream
 * names its call: /media/twilio and /media/telnyx in their start message,
 * /media/generic/<callId>?token=... in the URL). An upgrade to any other
 * path is a 404 before the upgrade; while draining, a 503. A missing or
 * forged token closes the socket with 1008 and nothing is relayed; every
 * close reason is a code from CLOSE_REASONS (errors.ts). The assistant is
 * the one the call was pinned to when it was routed (its call record),
 * never a fresh lookup of the number.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Carrier } from '../carriers/carrier.js';
import type { CarrierSet } from '../carriers/registry.js';
import type { Call } from '../domain/types.js';
import { CLOSE_REASONS, type CloseReason } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { CallTokens } from '../routing/call-token.js';
import { CallBridge, type BridgeCallHooks, type Frame, type MediaStats } from './bridge.js';
import type { LiveCallRegistry } from './registry.js';
import type { Faults } from '../faults.js';
import type { Network } from './address-policy.js';
import { queryParam, splitTarget } from '../http/request-target.js';

export interface MediaServerDeps {
  carriers: CarrierSet;
  lifecycle: Lifecycle;
  tokens: CallTokens;
  registry: LiveCallRegistry;
  stats: MediaStats;
  calls: BridgeCallHooks & {
    forMedia(callId: string): Promise<Call | undefined>;
    bindCarrierCallId(callId: string, carrierCallId: string): Promise<void>;
    claimMedia(callId: string): Promise<boolean>;
  };
  /** Milliseconds since the epoch (the gateway's clock). */
  now: () => number;
  /** SWITCHBOARD_MEDIA_TOKEN_TTL_S. */
  tokenTtlS: number;
  log: Logger;
  faults: Faults;
  /** Told when a stream's token checks out, so it stops counting against its address. */
  connections: { exempt(socket: Duplex): void; busy(socket: Duplex): boolean };
  /** SWITCHBOARD_MEDIA_ALLOWED_NETWORKS, see address-policy.ts. */
  allowedNetworks: readonly Network[] | null;
  /** SWITCHBOARD_MEDIA_SPLICE: untranslated media relayed as raw frames once bridged (splice.ts). */
  splice?: boolean;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  /** How long a stream may take to send its start message. */
  startTimeoutMs?: number;
  /** Past this many bytes unread by a peer, the call ends (see bridge.ts). */
  maxBufferedBytes?: number;
}

/** Extra token lifetime for outbound calls: the callee may ring for up to Twilio's 600 s Timeout. */
const OUTBOUND_RING_ALLOWANCE_S = 600;

export class MediaServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // Frames are relayed as received; validating UTF-8 here would cost every
    // frame and change nothing (the assistant's socket validates if it cares).
    skipUTF8Validation: true,
    maxPayload: 256 * 1024,
  });

  constructor(private readonly d: MediaServerDeps) {}

  attach(server: Server): void {
    server.on(
      'upgrade',
      this.d.faults.guard(
        'upgrade',
        (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head),
        (_req, socket) => socket.destroy(),
      ),
    );
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    // An upgrade pipelined behind requests still being answered: no way to
    // answer it in order (RFC 9112 9.3.2 lets us close instead).
    if (this.d.connections.busy(socket)) {
      socket.destroy();
      return;
    }
    // Split by hand: `new URL` throws on targets such as `//` or `//:99999/x`,
    // and an exception here used to end the process.
    const target = splitTarget(req.url);
    const paths = this.d.carriers.mediaPaths;
    if (target.path === null) return refuse(socket, 400, 'INVALID_REQUEST', `The request target must be a path: one of ${paths}.`);
    const found = this.d.carriers.media(target.path, (name) => queryParam(target.query, name));
    if (!found) return refuse(socket, 404, 'NOT_FOUND', `No WebSocket endpoint at this path; use ${paths}.`);
    if (!this.d.lifecycle.accepting) return refuse(socket, 503, 'UNAVAILABLE', 'The gateway is draining; no new calls.');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      const start = this.d.faults.guard(
        'media',
        () => {
          const { carrier, identity } = found;
          if (identity.kind === 'url') {
            // Frames that arrive while the call is looked up are kept, in order.
            const pending: Frame[] = [];
            ws.on('message', (data: Buffer, isBinary: boolean) => pending.push([data, isBinary]));
            this.startBridge(ws, socket, carrier, identity.callId, identity.token, pending, undefined);
          } else this.awaitStart(ws, socket, carrier);
        },
        () => close(ws, 'internal_error'),
      );
      start();
    });
  }

  /** The stream names its call in its start message (Twilio's customParameters, Telnyx's custom_parameters). */
  private awaitStart(ws: WebSocket, socket: Duplex, carrier: Carrier): void {
    const dialect = carrier.media;
    const pending: Frame[] = [];
    const limit = dialect.maxFramesBeforeStart ?? 2;
    const timer = setTimeout(() => stop('no_start_message'), this.d.startTimeoutMs ?? 10_000);
    timer.unref();
    const onMessage = (data: Buffer, isBinary: boolean) => {
      const frame = dialect.readStart!(data, isBinary, pending.length);
      if (frame.kind === 'refuse') return stop(frame.reason);
      pending.push([frame.kind === 'start' && frame.forward ? frame.forward : data, isBinary]);
      if (frame.kind === 'wait') {
        if (pending.length >= limit) stop('protocol_violation');
        return;
      }
      ws.removeAllListeners('message');
      clearTimeout(timer);
      this.startBridge(ws, socket, carrier, frame.callId, frame.token, pending, frame.carrierCallId);
    };
    const stop = (why: CloseReason) => {
      ws.removeAllListeners('message');
      clearTimeout(timer);
      close(ws, why);
    };
    ws.on(
      'message',
      this.d.faults.guard('media', onMessage, () => stop('internal_error')),
    );
    ws.on('close', () => clearTimeout(timer));
  }

  /** Looks the call up and bridges it; a failure closes this socket (1011), never the process. */
  private startBridge(ws: WebSocket, socket: Duplex, carrier: Carrier, callId: unknown, token: unknown, initial: Frame[], carrierCallId: unknown): void {
    // Frames arriving during the lookup queue behind the ones already received.
    const queued: Frame[] = initial;
    const onFrame = (data: Buffer, isBinary: boolean) => queued.push([data, isBinary]);
    ws.removeAllListeners('message');
    ws.on('message', onFrame);
    this.bridge(ws, socket, carrier, callId, token, queued, carrierCallId)
      .catch((err: unknown) => {
        this.d.faults.report('media', err);
        close(ws, 'internal_error');
      })
      .finally(() => ws.off('message', onFrame));
  }

  private async bridge(
    ws: WebSocket,
    socket: Duplex,
    carrier: Carrier,
    callId: unknown,
    token: unknown,
    initial: Frame[],
    carrierCallId: unknown,
  ): Promise<void> {
    const protocol = carrier.name;
    const call = typeof callId === 'string' && callId.length <= 64 ? await this.d.calls.forMedia(callId) : undefined;
    if (!call || !call.assistantId || !call.mediaUrl || !this.d.tokens.verify(call.id, call.assistantId, token)) {
      this.d.log.warn({ protocol, callId: typeof callId === 'string' ? callId.slice(0, 64) : undefined }, 'media stream refused: bad or missing token');
      return close(ws, 'invalid_call_token');
    }
    if (call.carrier !== protocol) {
      // A call's token opens only its own carrier's media endpoint.
      this.d.log.warn({ protocol, callId: call.id, carrier: call.carrier }, 'media stream refused: wrong endpoint for this call');
      return close(ws, 'wrong_media_endpoint');
    }
    // The token is good only for a short while after routing: an inbound
    // stream opens within a second or two of the answer; an outbound one once
    // the callee answers, so it may also wait out the ring (Twilio allows a
    // Timeout of up to 600 s).
    const windowMs = (this.d.tokenTtlS + (call.direction === 'outbound' ? OUTBOUND_RING_ALLOWANCE_S : 0)) * 1000;
    const age = this.d.now() - this.d.tokens.issuedAt(token as string);
    if (age > windowMs || age < -60_000) {
      this.d.log.warn({ callId: call.id, ageMs: age }, 'media stream refused: token expired');
      return close(ws, 'call_token_expired');
    }
    // One stream per call, ever, across every process on the database.
    if (call.endedAt !== null || this.d.registry.has(call.id) || !(await this.d.calls.claimMedia(call.id))) {
      this.d.log.warn({ callId: call.id }, 'media stream refused: call already bridged or ended');
      return close(ws, 'call_token_used');
    }
    // An outbound call learns its carrier call id here (the dialer placed it
    // with our markup), so its status callbacks and connect-action find the record.
    if (call.carrierCallId === null && typeof carrierCallId === 'string' && carrier.media.isCarrierCallId?.(carrierCallId)) {
      await this.d.calls.bindCarrierCallId(call.id, carrierCallId);
    }
    if (ws.readyState !== ws.OPEN) {
      // The carrier hung up while we looked: the stream is claimed, so no
      // other can end this call; record its end here.
      await this.d.calls.markEnded(call.id, 'carrier_hangup');
      return;
    }
    this.d.connections.exempt(socket);
    // From here the bridge listens; the frames queued so far go first.
    ws.removeAllListeners('message');
    const log = this.d.log.child({ callId: call.id, assistantId: call.assistantId, protocol });
    new CallBridge({
      callId: call.id,
      assistantId: call.assistantId,
      mediaUrl: call.mediaUrl,
      dialect: carrier.media,
      carrier: ws,
      // The same array the lookup queued into: frames up to now, in order.
      initialFrames: initial,
      hooks: this.d.calls,
      registry: this.d.registry,
      stats: this.d.stats,
      log,
      faults: this.d.faults,
      allowedNetworks: this.d.allowedNetworks,
      ...(this.d.splice === false ? { splice: false } : {}),
      ...(this.d.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.d.connectTimeoutMs } : {}),
      ...(this.d.pingIntervalMs !== undefined ? { pingIntervalMs: this.d.pingIntervalMs } : {}),
      ...(this.d.maxBufferedBytes !== undefined ? { maxBufferedBytes: this.d.maxBufferedBytes } : {}),
    }).start();
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 503: 'Service Unavailable' };

/** Closes a stream that was never bridged, with its catalogue code as the reason. */
function close(ws: WebSocket, reason: CloseReason): void {
  ws.close(CLOSE_REASONS[reason].close, reason);
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = REASONS[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
