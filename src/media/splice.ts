/**
 * The spliced media path: one direction of an untranslated bridge (Twilio,
 * generic) relayed as raw bytes instead of parsed and re-framed by ws.
 *
 * Why it is valid: no extension is negotiated on either leg (checked here),
 * carrier→gateway frames are masked client frames and gateway→assistant
 * frames must be masked client frames too; assistant→gateway frames are
 * unmasked server frames, which is what the gateway (the server on the
 * carrier's leg) must send. So a data frame's bytes are valid as they are on
 * the other socket, and forwarding them skips ws's parse, unmask, copy and
 * re-frame (and its header+payload writev) on every frame.
 *
 * How it stays correct:
 * - Bytes are read off the source socket in place of ws's own 'data'
 *   listener, and only from a moment when ws's receiver sits at a frame
 *   boundary with nothing buffered (checked; otherwise retried after each
 *   chunk until it does). Until then frames keep flowing through ws's
 *   'message' events, which the bridge relays as before.
 * - A small incremental parser reads every frame's header (a header or a
 *   payload may straddle chunks) and forwards complete frames only, so every
 *   write to the destination socket ends on a frame boundary. ws's sender
 *   writes its own frames (pings, pongs, close) synchronously and whole, so
 *   the two can never interleave inside a frame.
 * - Control frames (ping, pong, close) are not forwarded: each is handed,
 *   whole, to ws's receiver exactly as ws's own listener would have, so ws
 *   answers pings, emits 'pong' (liveness) and runs the close handshake, and
 *   the bridge sees the same events as on the ws path.
 * - Anything that is not a plain valid data frame (reserved bits, bad
 *   opcode or fragment sequence, wrong mask bit, over maxPayload) hands this
 *   direction back to ws from that frame on, so ws fails it exactly as it
 *   always did (1002/1009 and an 'error' event).
 *
 * This reaches into ws internals (`_socket`, `_receiver`, `_sender`, the
 * receiver's parser state and its socket 'data' listener); `canRead` and
 * `canWrite` check they look as expected (ws 8.x) and the bridge keeps the ws path
 * when they do not.
 */
import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** The ws internals read here, as ws 8 names them. */
interface WsInternals {
  _socket?: Socket;
  _receiver?: {
    _state: number;
    _bufferedBytes: number;
    _fragmented: number;
    _loop: boolean;
    _errored: boolean;
    _maxPayload: number;
    writableLength: number;
  };
  _sender?: { _queue: unknown[]; _state: number };
}

type DataListener = (this: Socket, chunk: Buffer) => void;

/** ws's own socket 'data' listener (websocket.js socketOnData), or null if it is not there exactly once. */
function wsDataListener(socket: Socket): DataListener | null {
  const found = socket.listeners('data').filter((f) => f.name === 'socketOnData');
  return found.length === 1 ? (found[0] as DataListener) : null;
}

/** The TCP socket under a ws WebSocket (undefined before it connects). */
export function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as WsInternals)._socket;
}

/** Whether ws's reading of this socket can be taken over now: ws 8 internals as expected, receiver idle at a frame boundary. */
export function canRead(ws: WebSocket): boolean {
  const w = ws as unknown as WsInternals;
  const r = w._receiver;
  if (!w._socket || !r || ws.readyState !== 1 || ws.extensions !== '' || typeof r._maxPayload !== 'number') return false;
  if (r._state !== 0 || r._bufferedBytes !== 0 || r._fragmented !== 0 || r._loop || r._errored || r.writableLength !== 0) return false;
  return !w._socket.isPaused() && wsDataListener(w._socket) !== null;
}

/** Whether raw frames can be written to this socket now: open, no extension, ws's sender holding nothing back. */
export function canWrite(ws: WebSocket): boolean {
  const w = ws as unknown as WsInternals;
  const s = w._sender;
  return !!w._socket && !!s && ws.readyState === 1 && ws.extensions === '' && Array.isArray(s._queue) && s._queue.length === 0 && s._state === 0;
}

export interface SpliceOptions {
  /** Whether frames from this source must be masked (the carrier's: yes; the assistant's: no). */
  masked: boolean;
  /** Whether a data message may be forwarded; false: dropped, reported to `dropped`. */
  forward(isBinary: boolean): boolean;
  /** Before each write: false to write nothing (the bridge is over, or the destination stalled and the bridge ended). */
  writable(): boolean;
  /** This many complete data messages were written. */
  forwarded(messages: number): void;
  /** A complete data message was dropped (forward() said no). */
  dropped(): void;
  /** An exception in the listener (a bug): reported and the call ended by the bridge, never rethrown into the socket's emit. */
  failed(err: unknown): void;
}

const CONTINUATION = 0;
const TEXT = 1;
const BINARY = 2;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

/** One direction: `src`'s socket's bytes to `dst`'s socket. Call only when canRead(src) and canWrite(dst). */
export class Splice {
  private readonly socket: Socket;
  private readonly out: Socket;
  private readonly receiver: NonNullable<WsInternals['_receiver']>;
  private readonly wsListener: DataListener;
  private readonly maxPayload: number;
  private readonly listener: (chunk: Buffer) => void;
  /** The chunks of an incomplete frame, carried to the next chunk; `need`: the bytes it takes to complete it, once its header is known. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private need = 0;
  /** The opcode of the fragmented message under way (0: none), whether it is forwarded, its bytes so far. */
  private fragmented = 0;
  private forwarding = true;
  private messageBytes = 0;
  private active = true;

  constructor(
    src: WebSocket,
    dst: WebSocket,
    private readonly o: SpliceOptions,
  ) {
    const s = src as unknown as WsInternals;
    this.socket = socketOf(src)!;
    this.receiver = s._receiver!;
    this.out = socketOf(dst)!;
    this.wsListener = wsDataListener(this.socket)!;
    this.maxPayload = this.receiver._maxPayload || Infinity;
    // A plain try/catch rather than the bridge's guard(): this runs for every chunk.
    this.listener = (chunk) => {
      try {
        this.onData(chunk);
      } catch (err) {
        // The parser's state is unknown from here: read no more (the bridge ends the call, 1011).
        this.stop();
        o.failed(err);
      }
    };
    this.socket.removeListener('data', this.wsListener);
    this.socket.on('data', this.listener);
  }

  /** Whether this direction is still spliced (not handed back to ws). */
  get spliced(): boolean {
    return this.active;
  }

  private onData(chunk: Buffer): void {
    if (!this.active) return;
    let buf = chunk;
    if (this.pendingBytes) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.need = 0;
    const n = buf.length;
    let pos = 0;
    /** The run of complete data frames not yet written, [run, pos), and the messages it completes. */
    let run = 0;
    let messages = 0;
    while (n - pos >= 2) {
      const b0 = buf[pos]!;
      const b1 = buf[pos + 1]!;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - pos < 4) break;
        len = buf.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (len === 127) {
        if (n - pos < 10) break;
        const hi = buf.readUInt32BE(pos + 2);
        // Over 2^53 - 1 (ws refuses it too): no valid frame.
        len = hi > 0x1fffff ? Infinity : hi * 2 ** 32 + buf.readUInt32BE(pos + 6);
        hdr = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) hdr += 4;
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      const control = op >= 8;
      let valid = (b0 & 0x70) === 0 && masked === this.o.masked && len <= this.maxPayload;
      if (valid) {
        if (control) valid = (op === CLOSE || op === PING || op === PONG) && fin && len <= 125;
        else if (op === CONTINUATION) valid = this.fragmented !== 0 && this.messageBytes + len <= this.maxPayload;
        else valid = (op === TEXT || op === BINARY) && this.fragmented === 0;
      }
      if (!valid) {
        // ws fails it from this frame on, exactly as it would have.
        this.write(buf, run, pos, messages);
        this.handBack(buf.subarray(pos));
        return;
      }
      const end = pos + hdr + len;
      if (end > n) {
        this.need = end - pos;
        break;
      }
      if (control) {
        this.write(buf, run, pos, messages);
        run = end;
        messages = 0;
        // Whole, as ws's own listener would have passed it: ws pongs a ping, emits 'pong', runs the close handshake.
        this.wsListener.call(this.socket, buf.subarray(pos, end));
        if (op === CLOSE || this.receiver._errored) {
          // ws reads nothing after a close frame (or an error): neither do we.
          this.stop();
          return;
        }
      } else {
        if (op !== CONTINUATION) {
          this.forwarding = this.o.forward(op === BINARY);
          this.messageBytes = 0;
        }
        this.messageBytes += len;
        this.fragmented = fin ? 0 : this.fragmented || op;
        if (!this.forwarding) {
          this.write(buf, run, pos, messages);
          run = end;
          messages = 0;
          if (fin) this.o.dropped();
        } else if (fin) messages++;
      }
      pos = end;
    }
    this.write(buf, run, pos, messages);
    if (pos < n) {
      const rest = pos === 0 ? buf : buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }

  /** Writes buf[from, to): complete frames only. */
  private write(buf: Buffer, from: number, to: number, messages: number): void {
    if (to <= from || !this.o.writable()) return;
    this.out.write(from === 0 && to === buf.length ? buf : buf.subarray(from, to));
    if (messages) this.o.forwarded(messages);
  }

  /** Gives this direction back to ws, with the bytes from a frame boundary on. */
  private handBack(rest: Buffer): void {
    this.active = false;
    this.socket.removeListener('data', this.listener);
    this.socket.on('data', this.wsListener);
    if (rest.length) this.wsListener.call(this.socket, rest);
  }

  /** Stops reading: ws has had the close frame (or failed), and the socket is on its way out. */
  private stop(): void {
    this.active = false;
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.removeListener('data', this.listener);
  }
}
