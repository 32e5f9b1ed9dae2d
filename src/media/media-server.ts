/**
 * The media WebSocket endpoints, sharing the HTTP server through 'upgrade':
 *   GET /media/twilio                      Twilio Media Streams
 *   GET /media/generic/:callId?token=...   the generic carrier's stream
 * An upgrade to any other path is a 404 before the upgrade; while draining,
 * a 503. A missing or forged token closes the socket with 1008 and nothing
 * is relayed. The assistant is the one the call was pinned to when it was
 * routed (its call record), never a fresh lookup of the number.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Call } from '../domain/types.js';
import type { Lifecycle } from '../lifecycle.js';
import type { CallTokens } from '../routing/call-token.js';
import { CallBridge, type BridgeCallHooks, type BridgeProtocol, type Frame, type MediaStats } from './bridge.js';
import type { LiveCallRegistry } from './registry.js';

export interface MediaServerDeps {
  lifecycle: Lifecycle;
  tokens: CallTokens;
  registry: LiveCallRegistry;
  stats: MediaStats;
  calls: BridgeCallHooks & { forMedia(callId: string): Call | undefined; bindCarrierCallId(callId: string, carrierCallId: string): void };
  log: Logger;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  /** How long a Twilio stream may take to send its start message. */
  startTimeoutMs?: number;
  /** Past this many bytes unread by a peer, the call ends (see bridge.ts). */
  maxBufferedBytes?: number;
}

const POLICY = 1008;
const GENERIC_PATH = /^\/media\/generic\/([A-Za-z0-9-]{1,64})$/;

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
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://gateway');
    const generic = GENERIC_PATH.exec(url.pathname);
    if (url.pathname !== '/media/twilio' && !generic) return refuse(socket, 404, 'NOT_FOUND', `No WebSocket endpoint at ${url.pathname}.`);
    if (!this.d.lifecycle.accepting) return refuse(socket, 503, 'UNAVAILABLE', 'The gateway is draining; no new calls.');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (generic) this.onGeneric(ws, generic[1]!, url.searchParams.get('token'));
      else this.onTwilio(ws);
    });
  }

  /** Twilio sends connected, then start with our callId and token in customParameters. */
  private onTwilio(ws: WebSocket): void {
    const pending: Frame[] = [];
    const timer = setTimeout(() => ws.close(POLICY, 'no start message'), this.d.startTimeoutMs ?? 10_000);
    timer.unref();
    const onMessage = (data: Buffer, isBinary: boolean) => {
      pending.push([data, isBinary]);
      let msg: { event?: unknown; start?: { customParameters?: Record<string, unknown>; callSid?: unknown } };
      try {
        if (isBinary) throw new Error('binary');
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        return stop('expected Twilio Media Streams JSON text frames');
      }
      if (msg?.event === 'connected' && pending.length === 1) return;
      if (msg?.event !== 'start') return stop('expected a start message');
      const p = msg.start?.customParameters ?? {};
      ws.off('message', onMessage);
      clearTimeout(timer);
      this.bridge(ws, 'twilio', p.callId, p.token, pending, msg.start?.callSid);
    };
    const stop = (why: string) => {
      ws.off('message', onMessage);
      clearTimeout(timer);
      ws.close(POLICY, why);
    };
    ws.on('message', onMessage);
    ws.on('close', () => clearTimeout(timer));
    ws.on('error', () => ws.terminate());
  }

  private onGeneric(ws: WebSocket, callId: string, token: string | null): void {
    ws.on('error', () => ws.terminate());
    this.bridge(ws, 'generic', callId, token, []);
  }

  private bridge(ws: WebSocket, protocol: BridgeProtocol, callId: unknown, token: unknown, initial: Frame[], callSid?: unknown): void {
    const call = typeof callId === 'string' && callId.length <= 64 ? this.d.calls.forMedia(callId) : undefined;
    if (!call || !call.assistantId || !call.mediaUrl || !this.d.tokens.verify(call.id, call.assistantId, token)) {
      this.d.log.warn({ protocol, callId: typeof callId === 'string' ? callId.slice(0, 64) : undefined }, 'media stream refused: bad or missing token');
      return ws.close(POLICY, 'invalid call token');
    }
    if (call.carrier !== protocol) {
      // A Twilio call's token opens only /media/twilio, a generic call's only /media/generic.
      this.d.log.warn({ protocol, callId: call.id }, 'media stream refused: wrong endpoint for this call');
      return ws.close(POLICY, 'wrong media endpoint for this call');
    }
    if (call.endedAt !== null || this.d.registry.has(call.id)) {
      this.d.log.warn({ callId: call.id }, 'media stream refused: call already bridged or ended');
      return ws.close(POLICY, 'call already bridged or ended');
    }
    // An outbound call learns its CallSid here (the dialer placed it with our
    // TwiML), so its status callbacks and <Connect action> find the record.
    if (call.carrierCallId === null && typeof callSid === 'string' && /^CA[0-9a-fA-F]{32}$/.test(callSid)) {
      this.d.calls.bindCarrierCallId(call.id, callSid);
    }
    const log = this.d.log.child({ callId: call.id, assistantId: call.assistantId, protocol });
    new CallBridge({
      callId: call.id,
      assistantId: call.assistantId,
      mediaUrl: call.mediaUrl,
      protocol,
      carrier: ws,
      initialFrames: initial,
      hooks: this.d.calls,
      registry: this.d.registry,
      stats: this.d.stats,
      log,
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

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 404 ? 'Not Found' : 'Service Unavailable';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
