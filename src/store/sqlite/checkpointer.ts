/**
 * WAL checkpoints off the request path. SQLite's automatic checkpoint runs
 * inside whichever commit crosses the threshold, so one webhook in a few
 * hundred would wait for page copying and an fsync. Instead a worker thread
 * with its own connection runs PASSIVE checkpoints on a timer (PASSIVE never
 * blocks writers or readers). The main connection keeps a much higher
 * automatic threshold as a safety net, should the worker stop.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 100');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next time */ }
}, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} db.close(); process.exit(0); }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, everyMs = 1000): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, everyMs, driver: require.resolve('better-sqlite3') },
    // Not piped by Node (the default): stream.pipe() reads process.stdout,
    // which creates it, and libuv then switches a piped fd 1 to non-blocking.
    // The logger's writes would fail with EAGAIN whenever the log collector
    // falls behind for a moment and be retried only 100 ms later (lines pile
    // up in memory, and the flush at exit busy-waits); see bench/NOTES.md.
    // The worker prints nothing to stdout; what it prints to stderr is passed on.
    stdout: true,
    stderr: true,
  });
  worker.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  worker.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        // Keep the process alive until the worker is done: by now the server
        // is closed, and with nothing else referenced Node would exit with
        // this promise pending, before the database is closed.
        worker.ref();
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate(), 2000).unref();
      }),
  };
}
