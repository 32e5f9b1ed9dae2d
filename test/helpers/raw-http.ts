/**
 * HTTP/1.1 by hand over a raw TCP socket to a loopback gateway: for what an
 * HTTP client library will not do (announce a body and never send it, stop
 * halfway, send many requests in the very same instant) and to see whether
 * the server closed the connection.
 */
import net from 'node:net';

export interface RawResponse {
  /** 0 when no status line arrived. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: any;
  /** The server ended the connection (FIN or reset) before the time ran out. */
  closedByServer: boolean;
  /** Milliseconds from the start of reading until the whole response had arrived (null: it never did). */
  ms: number | null;
}

/** A connected socket to 127.0.0.1:port; errors (a reset by the server) are swallowed, not thrown. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Request head: request line, headers, blank line. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

function parse(buf: Buffer): { status: number; headers: Record<string, string>; body: Buffer; complete: boolean } {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), complete: false };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = buf.subarray(end + 4);
  const length = headers['content-length'] === undefined ? null : Number(headers['content-length']);
  return { status, headers, body: length === null ? body : body.subarray(0, length), complete: length !== null && body.length >= length };
}

/**
 * Reads one response from the socket. Resolves when the server closes the
 * connection, or after timeoutMs (closedByServer false) with what arrived.
 */
export function readResponse(socket: net.Socket, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const started = performance.now();
    let buf = Buffer.alloc(0);
    let ms: number | null = null;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const p = parse(buf);
      let json: unknown;
      try {
        json = JSON.parse(p.body.toString('utf8'));
      } catch {
        json = undefined;
      }
      resolve({ status: p.status, headers: p.headers, body: p.body.toString('utf8'), json, closedByServer: closed, ms });
    };
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (ms === null && parse(buf).complete) ms = performance.now() - started;
    });
    socket.once('end', () => finish(true));
    socket.once('close', () => finish(true));
    const timer = setTimeout(() => finish(false), timeoutMs);
  });
}

/** One request over a new connection: writes `data` (head and whatever body), reads the answer. */
export async function rawRequest(port: number, data: string | Buffer, timeoutMs = 3000): Promise<RawResponse & { socket: net.Socket }> {
  const socket = await connect(port);
  const answer = readResponse(socket, timeoutMs);
  socket.write(data);
  const res = await answer;
  return { ...res, socket };
}

/** Resolves once a whole response (with Content-Length) has arrived, leaving the connection open. */
function readKeptAlive(socket: net.Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (!parse(buf).complete) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve();
    };
    const timer = setTimeout(() => reject(new Error('no keep-alive answer')), timeoutMs);
    socket.on('data', onData);
  });
}

/**
 * n requests that reach the server in the same instant. A server accepts one
 * new connection per turn of its event loop, so every connection is opened
 * AND accepted first (a keep-alive GET /healthz on each), then every request
 * is written in one synchronous loop: the server finds them all readable at
 * once.
 */
export async function simultaneous(port: number, requests: Array<string | Buffer>, timeoutMs = 5000): Promise<RawResponse[]> {
  const sockets = await Promise.all(requests.map(() => connect(port)));
  await Promise.all(
    sockets.map((s) => {
      const answered = readKeptAlive(s, timeoutMs);
      s.write(head('GET', '/healthz', {}));
      return answered;
    }),
  );
  const answers = sockets.map((s) => readResponse(s, timeoutMs));
  requests.forEach((r, i) => sockets[i]!.write(r));
  const out = await Promise.all(answers);
  for (const s of sockets) s.destroy();
  return out;
}

/** A JSON request with Connection: close. */
export function jsonRequest(method: string, path: string, headers: Record<string, string>, body?: unknown): string {
  const raw = body === undefined ? '' : JSON.stringify(body);
  return (
    head(method, path, {
      ...headers,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(raw) }),
      Connection: 'close',
    }) + raw
  );
}
