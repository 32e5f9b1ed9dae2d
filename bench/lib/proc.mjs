/** Starting, measuring and stopping the processes under test. */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { threadCpu, threadDelta } from './threads.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const WEBHOOK_LINE = '"msg":"carrier webhook"';
const LISTENING_LINE = '"msg":"switchboard listening"';

export const BENCH_ADMIN_TOKEN = 'sb_admin_bench_0123456789abcdef';

/** The environment every benchmark starts the gateway (or a baseline) with. */
export function gatewayEnv({ port, dbPath, authToken, extra = {} }) {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    SWITCHBOARD_DB: dbPath,
    TWILIO_AUTH_TOKEN: authToken,
    SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    SWITCHBOARD_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    ...extra,
  };
}

/** CPU seconds (user+system) and RSS bytes of a process, from /proc. */
export function usage(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSec: ticks / 100, rss: rssKb * 1024 };
  } catch {
    return { cpuSec: NaN, rss: NaN };
  }
}

async function waitReady(url, child, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`not ready after ${timeoutMs} ms: ${url}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts a server script. `ready` is a path answered with 200 once ready
 * (the gateway's /readyz), or null to wait for the script's IPC message.
 *
 * Its stdout is a pipe that this process drains, as a log collector would:
 * the gateway's log line per request is written for real (into a pipe that
 * can fill), not discarded by the kernel. `logBytes()`/`logLines()` count
 * what came through. `execArgv`: node flags (e.g. --cpu-prof).
 *
 * `listening`: also wait for the gateway's "switchboard listening" line. In
 * cluster mode (SWITCHBOARD_WORKERS > 1) /readyz answers as soon as the first
 * worker listens, while the primary says "listening" once every worker does,
 * and names their pids (`workers`): `usage()` then sums the primary and every
 * worker, so the server's CPU is the whole cluster's.
 */
export async function startServer(script, env, { ready = null, timeoutMs = 30_000, execArgv = [], listening = false } = {}) {
  const started = performance.now();
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv,
  });
  let bytes = 0;
  let lines = 0;
  let webhookLines = 0;
  let tail = '';
  // Kept only until the listening line was seen, and only when asked for.
  let head = listening ? '' : null;
  let listened = null;
  let onListening = () => {};
  const listeningLine = new Promise((resolve) => (onListening = resolve));
  child.stdout.on('data', (d) => {
    bytes += d.length;
    if (head !== null) {
      head += d.toString('utf8');
      const at = head.indexOf(LISTENING_LINE);
      const end = at < 0 ? -1 : head.indexOf('\n', at);
      if (end >= 0) {
        listened = JSON.parse(head.slice(head.lastIndexOf('\n', at) + 1, end));
        head = null;
        onListening(listened);
      }
    }
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    // The gateway's one line per webhook (a match split across chunks is found through `tail`).
    const s = tail + d.latin1Slice(0, d.length);
    for (let i = s.indexOf(WEBHOOK_LINE); i >= 0; i = s.indexOf(WEBHOOK_LINE, i + 1)) webhookLines++;
    tail = s.slice(-(WEBHOOK_LINE.length - 1));
  });
  const exited = new Promise((resolve) => child.once('close', resolve));
  if (ready) {
    await waitReady(`http://127.0.0.1:${env.PORT}${ready}`, child, timeoutMs);
  } else {
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
  }
  if (listening) {
    let timer;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no "switchboard listening" line after ${timeoutMs} ms`)), timeoutMs)));
    await Promise.race([listeningLine, late]).finally(() => clearTimeout(timer));
  }
  const readyMs = performance.now() - started;
  /** The primary and its workers (cluster mode), or just the process. */
  const pids = () => [child.pid, ...(listened?.workers ?? []).map((w) => w.pid)];
  return {
    child,
    pid: child.pid,
    pids,
    readyMs,
    /** CPU seconds and RSS summed over pids(). */
    usage: () =>
      pids()
        .map(usage)
        .reduce((a, u) => ({ cpuSec: a.cpuSec + u.cpuSec, rss: a.rss + u.rss }), { cpuSec: 0, rss: 0 }),
    /** The parsed "switchboard listening" line (with `listening: true`). */
    listened: () => listened,
    logBytes: () => bytes,
    logLines: () => lines,
    /** Lines `"msg":"carrier webhook"` so far; after stop(), all of them (stdout is read to its end). */
    webhookLines: () => webhookLines,
    stop: async () => {
      await kill(child);
      await exited;
    },
  };
}

/** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
export function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Runs the routing load generator (loadgen.mjs) against `srv` and returns
 * its result with the server's CPU share and RSS over exactly the measured
 * window (the generator says when it starts and ends). `also`: other CPU
 * clocks to read at the same moments ({ name: () => CPU seconds }, e.g. the
 * PostgreSQL server's), returned as `alsoCpu` shares of one core.
 */
export function runLoad(script, args, srv, { also = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    let u0 = null;
    let u1 = null;
    let l0 = 0;
    let l1 = 0;
    let t0 = 0;
    let t1 = 0;
    let result = null;
    let th0 = null;
    let th1 = null;
    let a0 = {};
    let a1 = {};
    const readAlso = () => Object.fromEntries(Object.entries(also).map(([k, f]) => [k, f()]));
    child.on('message', (m) => {
      if (m.type === 'window' && m.phase === 'start') {
        a0 = readAlso();
        u0 = srv?.usage();
        th0 = srv ? threadCpu(srv.pid) : null;
        l0 = srv?.logLines() ?? 0;
        t0 = performance.now();
      } else if (m.type === 'window' && m.phase === 'end') {
        u1 = srv?.usage();
        a1 = readAlso();
        th1 = srv ? threadCpu(srv.pid) : null;
        l1 = srv?.logLines() ?? 0;
        t1 = performance.now();
      } else if (m.type === 'result') result = m;
    });
    child.once('exit', (code) => {
      if (code !== 0 || !result) return reject(new Error(`${script} exited ${code}`));
      const secs = (t1 - t0) / 1000;
      resolve({
        ...result,
        cpu: u0 && u1 ? (u1.cpuSec - u0.cpuSec) / secs : NaN,
        rss: u1?.rss ?? NaN,
        logLines: l1 - l0,
        alsoCpu: Object.fromEntries(Object.keys(also).map((k) => [k, (a1[k] - a0[k]) / secs])),
        /** CPU share of one core per thread name over the window (main thread, libuv pool, V8 helpers, workers). */
        threads: th0 && th1 ? Object.fromEntries(Object.entries(threadDelta(th0, th1)).map(([k, v]) => [k, v / secs])) : null,
      });
    });
  });
}

/** Runs a script to completion in another process and returns the JSON it prints last. */
export function runJson(script, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(args)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (err) {
        reject(err);
      }
    });
  });
}

export const median = (xs) => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
