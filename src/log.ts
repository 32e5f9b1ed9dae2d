/**
 * pino, with secrets redacted by path as a second line of defence: the code
 * never passes a token or signature to the logger in the first place.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Exact paths only: pino's wildcard paths inspect every logged object and
 * cost ~2% of the webhook path. The real guarantee is that no code passes a
 * secret to the logger, and test/security reads the log back to check it.
 */
export const REDACT_PATHS = [
  'token',
  'authorization',
  'signature',
  'headers.authorization',
  'headers["x-twilio-signature"]',
  'headers["x-switchboard-signature"]',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-switchboard-signature"]',
];

/**
 * A URL with its secrets masked: userinfo (`wss://user:pass@host`) and every
 * query value (`?apiKey=...`) become `***`. Applied by the logger to every
 * field that holds a URL (URL_FIELDS), so an assistant's credentials never
 * reach the log, whichever line mentions its media URL.
 */
export function redactUrl(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(value);
  if (!m) return value.includes('?') || value.includes('@') ? '[redacted url]' : value;
  const [, scheme, authority, path, query, fragment] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? `***@${authority.slice(at + 1)}` : authority;
  const q = query
    ? `?${query
        .slice(1)
        .split('&')
        .map((kv) => (kv.includes('=') ? `${kv.slice(0, kv.indexOf('='))}=***` : kv === '' ? '' : '***'))
        .join('&')}`
    : '';
  return `${scheme}${host}${path}${q}${fragment ? '#***' : ''}`;
}

/** Log fields that carry URLs: redacted by redactUrl wherever they appear at the top level of a line. */
export const URL_FIELDS = ['mediaUrl', 'url', 'checkedUrl', 'streamUrl'] as const;

/**
 * The bytes one write(2) to a pipe is atomic up to (POSIX PIPE_BUF; 4096 on
 * Linux): a write that size or smaller is never interleaved with another
 * process's write to the same pipe.
 */
export const PIPE_BUF = 4096;

/**
 * stdout, asynchronously. A reader that went away (EPIPE) must not stop the
 * gateway. `shared`: other processes write to the same stdout (the cluster's
 * workers and primary), so no line may be cut by theirs. pino hands the
 * destination one whole line per write, and sonic-boom packs whole writes
 * into chunks of at most maxWrite bytes; at PIPE_BUF, every write(2) is whole
 * lines and atomic (only a single line longer than that could interleave).
 */
export function stdoutDestination(o: { shared?: boolean } = {}): DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, ...(o.shared ? { maxWrite: PIPE_BUF } : {}) });
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      // Nobody reads the logs any more: drop them rather than retry forever.
      (dest as unknown as { flushSync: () => void }).flushSync = () => {};
    }
  });
  return dest;
}

/** `fields` go on every line (a cluster worker's `worker`). */
export function createLogger(level: string, destination?: DestinationStream, fields: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'switchboard', ...fields },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: Object.fromEntries(URL_FIELDS.map((f) => [f, redactUrl])),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? stdoutDestination(),
  );
}

/** Writes out everything logged so far before returning (the destination is asynchronous). */
export function flushSync(log: Logger): void {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    /* not a sonic-boom stream, or nothing to flush */
  }
}

/**
 * Resolves once everything logged so far has left the process (the
 * asynchronous destination has nothing buffered or in flight), or after ms
 * at most: a line another process's line must follow (a cluster worker's
 * "worker listening" before the primary's "switchboard listening"). Unlike
 * flushSync, it never writes past a write still in flight.
 */
export function written(log: Logger, ms = 1000): Promise<void> {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { _writing?: boolean; _len?: number; once?: (e: string, fn: () => void) => void; off?: (e: string, fn: () => void) => void } | undefined;
  if (!stream?.once || !stream.off || (!stream._writing && !stream._len)) return Promise.resolve();
  const { once, off } = { once: stream.once.bind(stream), off: stream.off.bind(stream) };
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off('drain', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    once('drain', done);
  });
}
