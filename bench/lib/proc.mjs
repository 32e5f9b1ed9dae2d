/** Starting, measuring and stopping the processes under test. */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

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
 */
export async function startServer(script, env, { ready = null, timeoutMs = 30_000 } = {}) {
  const started = performance.now();
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [],
  });
  if (ready) {
    await waitReady(`http://127.0.0.1:${env.PORT}${ready}`, child, timeoutMs);
  } else {
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
  }
  const readyMs = performance.now() - started;
  return {
    child,
    pid: child.pid,
    readyMs,
    usage: () => usage(child.pid),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
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
