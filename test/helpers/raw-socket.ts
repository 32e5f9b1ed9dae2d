/**
 * A raw HTTP/1.x client for fuzzing: exact bytes out over a net.Socket (no
 * client library to normalise them), every response status line read back,
 * and how the connection ended. Loopback only: the host is fixed.
 */
import net from 'node:net';

const HOST = '127.0.0.1';

export interface RawCase {
  /** Position in the generated sequence (stable for a seed). */
  id: number;
  category: string;
  /** Short description of what was varied, for reports. */
  note: string;
  /** Written in order; with pauseMs, one chunk per pause (a slow client). */
  chunks: Buffer[];
  pauseMs?: number;
  /**
   * After the last chunk:
   *  keep:    leave the socket open until every expected answer came (or a quiet
   *           period passed), then half-close and wait for the server to close;
   *  end:     half-close at once (the server must answer or close);
   *  destroy: close abruptly (aborted body); reset: the same with a TCP RST.
   */
  finish: 'keep' | 'end' | 'destroy' | 'reset';
  /** Methods of the complete requests in the bytes, in order: how many answers to wait for, and which have no body (HEAD). */
  methods: string[];
  /** Written after a 101 Switching Protocols (WebSocket frames, or garbage). */
  afterUpgrade?: Buffer;
}

export interface RawResponse {
  status: number;
  /** The status line and headers as received (latin1). */
  head: string;
}

export interface RawResult {
  responses: RawResponse[];
  upgraded: boolean;
  /** The server closed (FIN or RST) before our deadline. */
  closedByServer: boolean;
  /** Half-closed by us and still open after hangMs: the server holds the socket. */
  hung: boolean;
  /** Complete requests that got no answer before the quiet period ran out (keep). */
  unanswered: number;
  /** Bytes after the last parsed response that are not a response. */
  garbage: string | null;
  error: string | null;
  ms: number;
  /** The first bytes received (for reports), and whether the server sent FIN. */
  received: Buffer;
  /** An HTTP status line arrived after the 101: a response written into the WebSocket stream. */
  httpAfterUpgrade: boolean;
  serverEnded: boolean;
}

export interface SendOptions {
  /** How long a half-closed socket may stay open. */
  hangMs: number;
  /** How long `keep` waits for the expected answers before half-closing. */
  quietMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads HTTP/1.x responses from a byte stream, however they are split. */
export class ResponseReader {
  readonly responses: RawResponse[] = [];
  upgraded = false;
  garbage: string | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private stopped = false;

  constructor(private readonly methods: string[]) {}

  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (!this.stopped && this.next(false));
  }

  /** The connection closed: a body delimited by the close ends here. */
  finish(): void {
    while (!this.stopped && this.next(true));
    if (!this.stopped && this.buf.length) this.bad();
  }

  /** Parses one response; false when more bytes are needed. */
  private next(closed: boolean): boolean {
    if (this.buf.length === 0) return false;
    if (this.buf.length < 5) return closed ? (this.bad(), false) : false;
    if (this.buf.subarray(0, 5).toString('latin1') !== 'HTTP/') return (this.bad(), false);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /^HTTP\/\d\.\d (\d{3})/.exec(head);
    if (!m) return (this.bad(), false);
    const status = Number(m[1]);
    const header = (name: string) => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head)?.[1];
    const rest = this.buf.subarray(end + 4);
    if (status === 101) {
      this.responses.push({ status, head });
      this.upgraded = true;
      this.stopped = true; // what follows is WebSocket, not HTTP
      return false;
    }
    if (status >= 100 && status < 200) {
      this.responses.push({ status, head });
      this.buf = rest;
      return true;
    }
    const method = this.methods[this.responses.filter((r) => r.status >= 200).length] ?? 'GET';
    let bodyLen: number;
    if (method === 'HEAD' || status === 204 || status === 304) bodyLen = 0;
    else if (/chunked/i.test(header('transfer-encoding') ?? '')) {
      const n = chunkedLength(rest);
      if (n === null) return closed ? (this.bad(), false) : false;
      bodyLen = n;
    } else if (header('content-length') !== undefined) bodyLen = Number(header('content-length'));
    else if (!closed) return false;
    else bodyLen = rest.length;
    if (!Number.isSafeInteger(bodyLen) || bodyLen < 0) return (this.bad(), false);
    if (rest.length < bodyLen) return closed ? (this.responses.push({ status, head }), (this.stopped = true), false) : false;
    this.responses.push({ status, head });
    this.buf = rest.subarray(bodyLen);
    return true;
  }

  /**
   * Not a response where one should start. Status lines further on are still
   * picked up (a line-start "HTTP/1.x nnn" cannot hide inside a JSON body), so
   * an unparsable stream cannot hide a 5xx.
   */
  private bad(): void {
    const text = this.buf.toString('latin1');
    this.garbage = text.slice(0, 200);
    for (const m of text.matchAll(/(?:^|\r\n)(HTTP\/\d\.\d (\d{3})[^\r]*)/g)) this.responses.push({ status: Number(m[2]), head: m[1]! });
    this.stopped = true;
  }
}

/** Length of a complete chunked body at the start of buf (trailers included), or null if incomplete. */
function chunkedLength(buf: Buffer): number | null {
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(pos, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    pos = eol + 2;
    if (size === 0) {
      const end = buf.indexOf('\r\n\r\n', pos - 2);
      return end < 0 ? null : end + 4;
    }
    pos += size + 2;
    if (pos > buf.length) return null;
  }
}

/** Sends one case over a fresh socket to 127.0.0.1:port and reports what came back. */
export function sendRaw(port: number, c: RawCase, o: SendOptions): Promise<RawResult> {
  const started = Date.now();
  const reader = new ResponseReader(c.methods);
  const socket = net.connect({ host: HOST, port });
  socket.setNoDelay(true);
  let closed = false;
  let error: string | null = null;
  let halfClosed = false;
  let unanswered = 0;
  let received = Buffer.alloc(0);
  let serverEnded = false;
  const timers: NodeJS.Timeout[] = [];
  const finals = () => reader.responses.filter((r) => r.status >= 200).length;

  return new Promise<RawResult>((resolve) => {
    let settled = false;
    const done = (hung: boolean) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (!closed) socket.destroy();
      reader.finish();
      resolve({
        responses: reader.responses,
        upgraded: reader.upgraded,
        closedByServer: closed,
        hung,
        unanswered,
        garbage: reader.garbage,
        error,
        ms: Date.now() - started,
        received,
        serverEnded,
        httpAfterUpgrade:
          reader.upgraded && /HTTP\/1\.[01] \d{3} /.test(received.subarray(received.indexOf('\r\n\r\n', received.indexOf(' 101 '))).toString('latin1')),
      });
    };
    const halfClose = () => {
      if (halfClosed || closed) return;
      halfClosed = true;
      if (!socket.destroyed) socket.end();
      timers.push(setTimeout(() => done(true), o.hangMs));
    };
    const onUpgraded = () => {
      // The handshake was accepted: say something on the WebSocket, then leave.
      if (c.afterUpgrade && !socket.destroyed) socket.write(c.afterUpgrade);
      halfClose();
    };
    let sawUpgrade = false;
    socket.on('end', () => (serverEnded = true));
    socket.on('data', (d: Buffer) => {
      if (received.length < 64 * 1024) received = Buffer.concat([received, d]);
      reader.push(d);
      if (reader.upgraded && !sawUpgrade) {
        sawUpgrade = true;
        onUpgraded();
      } else if (c.finish === 'keep' && !halfClosed && finals() >= c.methods.length) {
        // Everything was answered; whatever the server does with the idle
        // keep-alive socket now is its business.
        done(false);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => {
      closed = true;
      done(false);
    });
    socket.on('connect', async () => {
      for (let i = 0; i < c.chunks.length && !closed; i++) {
        if (i > 0 && c.pauseMs) await sleep(c.pauseMs);
        if (!socket.destroyed && !socket.writableEnded) socket.write(c.chunks[i]!);
      }
      if (closed || settled || sawUpgrade) return;
      if (c.finish === 'destroy') return done(false);
      if (c.finish === 'reset') {
        socket.resetAndDestroy();
        return done(false);
      }
      if (c.finish === 'end') return halfClose();
      timers.push(
        setTimeout(() => {
          unanswered = Math.max(0, c.methods.length - finals());
          halfClose();
        }, o.quietMs),
      );
    });
  });
}
