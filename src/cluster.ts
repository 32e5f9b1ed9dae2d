/**
 * Cluster mode (SWITCHBOARD_WORKERS > 1). main.ts stays the only code that
 * touches the process: it hands this module the channel, signals and exit. The primary runs no gateway and opens no database: it
 * forks the workers, each of which runs the gateway exactly as a single
 * process does (main.ts), on the same database, and node:cluster shares the
 * listening socket among them (on Linux the primary accepts and hands each
 * connection to the next worker in turn). The primary:
 *
 * - says `switchboard listening` once every worker listens, then has one
 *   worker make the admin token (the bootstrap is one exclusive transaction,
 *   safe across processes) and prints it, once;
 * - answers the workers' /metrics requests with the whole cluster's view
 *   (cluster-metrics.ts): it asks each worker for its registry and sums them;
 * - on SIGTERM/SIGINT tells every worker to drain (each refuses new calls and
 *   lets its live ones finish, as one process does) and exits when they all
 *   have, 0 if they all exited 0; a second signal ends everything at once;
 * - replaces a worker that dies, after a delay that grows while replacements
 *   keep failing; a worker that fails before the cluster first listened (the
 *   port is taken, the database unreachable) ends the start: its one line on
 *   stderr, exit 1.
 *
 * The workers write their own log lines to the shared stdout, each with a
 * `worker` field (its node:cluster id; a replacement gets a new one), each
 * write(2) whole lines and atomic (log.ts). The primary's lines have no
 * `worker` field; those about a worker name it `workerId`.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { ClusterMetrics, type MetricSnapshot } from './cluster-metrics.js';
import { describeDb, type Config } from './config.js';

/** What a worker tells the primary. */
export type ToPrimary =
  | { sb: 'ready'; host: string; port: number; instanceId: string }
  | { sb: 'fatal'; line: string }
  | { sb: 'admin'; token: string | null; error?: string }
  | { sb: 'scrape'; id: number }
  | { sb: 'metrics'; id: number; snapshot: MetricSnapshot[] };

/** What the primary tells a worker. */
export type ToWorker =
  { sb: 'drain' } | { sb: 'exit-now' } | { sb: 'bootstrap-admin' } | { sb: 'collect'; id: number } | { sb: 'scraped'; id: number; text: string | null };

const isMessage = (m: unknown): m is { sb: string } => typeof m === 'object' && m !== null && typeof (m as { sb?: unknown }).sb === 'string';

/** How long the primary waits for each worker's metrics, and a worker for the cluster's. */
const COLLECT_MS = 2000;
const SCRAPE_MS = 5000;
/** A worker that ran this long before dying was healthy: its replacement starts the delays over. */
const STABLE_MS = 10_000;

/**
 * The delay before replacing a worker, after `failures` deaths in a row of
 * workers in its place (a death after STABLE_MS of running starts a new row;
 * a clean exit is 0): 100 ms, then doubling, at most 10 s. A worker that
 * fails at every start is retried every 10 s, never in a tight loop.
 */
export function restartDelay(failures: number): number {
  return Math.min(100 * 2 ** Math.max(0, failures - 1), 10_000);
}

// ------------------------------------------------------------------ worker side

export interface WorkerHandlers {
  /** The primary was signalled: drain (as a first signal does). */
  drain(): void;
  /** The primary was signalled twice: exit now. */
  exitNow(): void;
  /** Make the admin token if the database has none; the token made, or null. */
  bootstrapAdmin(): Promise<string | null>;
  /** This worker's metrics registry as JSON. */
  snapshot(): Promise<MetricSnapshot[]>;
}

/** The worker's IPC channel to the primary (main.ts: process.send and process.on('message')). */
export interface Channel {
  /** Sends; `done` runs once sent, or at once if the channel is closed (the primary is gone). */
  send(m: ToPrimary, done: () => void): void;
  onMessage(fn: (m: unknown) => void): void;
}

/** A worker's end of the IPC channel. Messages are handled from the moment it is made. */
export class PrimaryLink {
  private nextScrape = 0;
  private readonly scrapes = new Map<number, (text: string | null) => void>();

  constructor(
    private readonly channel: Channel,
    private readonly handlers: WorkerHandlers,
  ) {
    channel.onMessage((m) => {
      if (isMessage(m)) this.receive(m as ToWorker);
    });
  }

  private receive(m: ToWorker): void {
    switch (m.sb) {
      case 'drain':
        return this.handlers.drain();
      case 'exit-now':
        return this.handlers.exitNow();
      case 'bootstrap-admin':
        void this.handlers.bootstrapAdmin().then(
          (token) => this.send({ sb: 'admin', token }),
          (err: unknown) => this.send({ sb: 'admin', token: null, error: err instanceof Error ? err.message : String(err) }),
        );
        return;
      case 'collect':
        void this.handlers.snapshot().then(
          (snapshot) => this.send({ sb: 'metrics', id: m.id, snapshot }),
          () => this.send({ sb: 'metrics', id: m.id, snapshot: [] }),
        );
        return;
      case 'scraped':
        this.scrapes.get(m.id)?.(m.text);
        this.scrapes.delete(m.id);
        return;
    }
  }

  /** Sends a message; a closed channel (the primary is gone) is ignored. */
  send(m: ToPrimary, then: () => void = () => {}): void {
    this.channel.send(m, then);
  }

  /** The whole cluster's /metrics text, from the primary. */
  scrape(): Promise<string> {
    const id = this.nextScrape++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        reject(new Error('the cluster primary did not answer the metrics request'));
      }, SCRAPE_MS);
      this.scrapes.set(id, (text) => {
        clearTimeout(timer);
        if (text === null) reject(new Error('the cluster primary could not gather the metrics'));
        else resolve(text);
      });
      this.send({ sb: 'scrape', id });
    });
  }
}

// ------------------------------------------------------------------ primary side

/** What the primary needs from the process (main.ts). */
export interface PrimaryProcess {
  /** Writes one line to stderr. */
  stderr(line: string): void;
  /** Calls fn on SIGTERM and SIGINT. */
  onSignal(fn: (signal: string) => void): void;
  /** Flushes the log (bounded) and exits. */
  exit(code: number): void;
}

interface Member {
  worker: Worker;
  slot: number;
  /** The PORT it was given (0, or after every worker of the first port died, the port announced). */
  portEnv: number;
  readyAt: number | null;
  instanceId: string | null;
  /** The one line it sent before failing, if any. */
  fatal: string | null;
}

export function runPrimary(config: Config, log: Logger, proc: PrimaryProcess): void {
  const n = config.workers;
  const members = new Map<number, Member>();
  const failures = Array.from({ length: n }, () => 0);
  const restartTimers = new Set<NodeJS.Timeout>();
  let phase: 'starting' | 'running' | 'stopping' | 'failed' = 'starting';
  /** The port the cluster listens on (known once a worker listens). */
  let announcedPort: number | null = null;
  let uncleanExit = false;

  const metrics = new ClusterMetrics();
  const own = new Registry();
  new Gauge({
    name: 'switchboard_cluster_workers',
    help: 'Gateway worker processes: configured (SWITCHBOARD_WORKERS), and listening now.',
    labelNames: ['state'],
    registers: [own],
    collect() {
      this.set({ state: 'configured' }, n);
      this.set({ state: 'listening' }, [...members.values()].filter((m) => m.readyAt !== null).length);
    },
  });
  const restarts = new Counter({ name: 'switchboard_cluster_worker_restarts_total', help: 'Workers that died and were replaced.', registers: [own] });

  const post = (m: Member, msg: ToWorker) => {
    if (m.worker.isConnected()) m.worker.send(msg, undefined, () => {});
  };

  // ---------------------------------------------------------------- forking

  const fork = (slot: number) => {
    // Every worker shares one listening socket, keyed by the port it asks for:
    // a worker asking for PORT=0 while others listen through 0 joins them. Once
    // no worker of that socket lives, node:cluster closes it, so the next
    // worker asks for the port already announced.
    const alive = [...members.values()];
    const portEnv = alive.length ? alive[0]!.portEnv : (announcedPort ?? config.port);
    const worker = cluster.fork({ PORT: String(portEnv) });
    const m: Member = { worker, slot, portEnv, readyAt: null, instanceId: null, fatal: null };
    members.set(worker.id, m);
    worker.on('message', (msg: unknown) => {
      if (isMessage(msg)) receive(m, msg as ToPrimary);
    });
    // A send to a worker that just died must not end the primary.
    worker.on('error', () => {});
  };

  const receive = (m: Member, msg: ToPrimary) => {
    switch (msg.sb) {
      case 'ready':
        return ready(m, msg);
      case 'fatal':
        m.fatal = msg.line;
        return;
      case 'scrape':
        return void gather().then(
          (text) => post(m, { sb: 'scraped', id: msg.id, text }),
          (err: unknown) => {
            log.error({ err }, 'gathering the cluster metrics');
            post(m, { sb: 'scraped', id: msg.id, text: null });
          },
        );
      case 'metrics':
        return collected(m, msg.id, msg.snapshot);
      case 'admin':
        return adminAnswer?.(m, msg);
    }
  };

  const ready = (m: Member, msg: { host: string; port: number; instanceId: string }) => {
    m.readyAt = Date.now();
    m.instanceId = msg.instanceId;
    if (phase === 'stopping') return post(m, { sb: 'drain' });
    if (announcedPort !== null && msg.port !== announcedPort) {
      log.error({ workerId: m.worker.id, port: msg.port, announcedPort }, 'a replacement worker listens on another port than the cluster');
    }
    if (phase === 'starting' && [...members.values()].filter((x) => x.readyAt !== null).length === n) {
      phase = 'running';
      announce(msg.host, msg.port);
    }
  };

  const announce = (host: string, port: number) => {
    announcedPort = port;
    const publicUrl = config.publicUrl ?? `http://localhost:${port}`;
    const ids = [...members.values()].map((m) => ({ worker: m.worker.id, pid: m.worker.process.pid, instanceId: m.instanceId }));
    log.info({ host, port, publicUrl, db: describeDb(config.db), workers: ids, console: `${publicUrl}/` }, 'switchboard listening');
    // Only now, as with one process: a start that failed has not used up the one-time token.
    if (!config.adminToken) void bootstrapAdmin(publicUrl);
  };

  // ---------------------------------------------------------------- admin token

  let adminAnswer: ((m: Member, answer: { token: string | null; error?: string }) => void) | null = null;

  /** One worker makes the token (if the database has none); the primary prints it. */
  const bootstrapAdmin = async (publicUrl: string) => {
    const asked = new Set<number>();
    for (;;) {
      if (phase !== 'running') return;
      const m = [...members.values()].find((x) => x.readyAt !== null && !asked.has(x.worker.id));
      if (!m) return log.error('no worker could be asked to make the admin token; set SWITCHBOARD_ADMIN_TOKEN');
      asked.add(m.worker.id);
      const answer = await new Promise<{ token: string | null; error?: string } | null>((resolve) => {
        const gone = () => resolve(null);
        m.worker.once('exit', gone);
        adminAnswer = (from, a) => {
          if (from !== m) return;
          m.worker.off('exit', gone);
          resolve(a);
        };
        post(m, { sb: 'bootstrap-admin' });
      });
      adminAnswer = null;
      if (!answer) continue; // it died first: ask another
      if (answer.error) {
        log.error({ err: answer.error }, 'making the admin token failed: set SWITCHBOARD_ADMIN_TOKEN and restart');
      } else if (answer.token) {
        log.warn(
          { adminToken: answer.token, console: `${publicUrl}/` },
          'Generated the admin token. It is shown only this once and stored hashed; set SWITCHBOARD_ADMIN_TOKEN to choose your own.',
        );
      } else {
        log.info(
          'An admin token exists already: it was printed when this database was first started. Lost it? Set SWITCHBOARD_ADMIN_TOKEN to a new secret (16+ characters) and restart: it becomes the admin token and the old one stops working.',
        );
      }
      return;
    }
  };

  // ---------------------------------------------------------------- metrics

  let nextCollect = 0;
  const collecting = new Map<number, { waiting: Set<number>; answers: Map<number, MetricSnapshot[]>; done: () => void }>();

  const collected = (m: Member, id: number, snapshot: MetricSnapshot[]) => {
    const c = collecting.get(id);
    if (!c || !c.waiting.delete(m.worker.id)) return;
    metrics.answered(m.worker.id, snapshot);
    c.answers.set(m.worker.id, snapshot);
    if (c.waiting.size === 0) c.done();
  };

  /** Asks every listening worker for its metrics (waiting COLLECT_MS at most) and sums them. */
  const gather = async (): Promise<string> => {
    const id = nextCollect++;
    const asked = [...members.values()].filter((m) => m.readyAt !== null && m.worker.isConnected());
    const c = { waiting: new Set(asked.map((m) => m.worker.id)), answers: new Map<number, MetricSnapshot[]>(), done: () => {} };
    collecting.set(id, c);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, COLLECT_MS);
      c.done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (c.waiting.size === 0) c.done();
      for (const m of asked) post(m, { sb: 'collect', id });
    });
    collecting.delete(id);
    const mine = (await own.getMetricsAsJSON()) as unknown as MetricSnapshot[];
    return metrics.render(c.answers, mine);
  };

  // ---------------------------------------------------------------- exits

  cluster.on('exit', (worker, code, signal) => {
    const m = members.get(worker.id);
    if (!m) return;
    members.delete(worker.id);
    for (const c of collecting.values()) if (c.waiting.delete(worker.id) && c.waiting.size === 0) c.done();
    metrics.retire(worker.id);
    const clean = code === 0 && signal === null;
    if (phase === 'stopping') {
      if (!clean) uncleanExit = true;
      log.info({ workerId: worker.id, code, signal, left: members.size }, 'worker stopped');
      if (members.size === 0) finish();
      return;
    }
    if (phase === 'failed') {
      if (members.size === 0) proc.exit(1);
      return;
    }
    if (phase === 'starting') return failStart(m, code, signal);
    // Running: replace it, later and later while its replacements keep failing.
    // One that stopped cleanly (somebody signalled that worker alone: it
    // drained and exited 0) is simply replaced.
    const ranMs = m.readyAt === null ? 0 : Date.now() - m.readyAt;
    failures[m.slot] = clean ? 0 : ranMs >= STABLE_MS ? 1 : failures[m.slot]! + 1;
    const delayMs = restartDelay(failures[m.slot]!);
    restarts.inc();
    const fields = { workerId: worker.id, pid: worker.process.pid, code, signal, ranMs, ...(m.fatal ? { reason: m.fatal } : {}), restartInMs: delayMs };
    if (clean) log.info(fields, 'worker stopped; replacing it');
    else log.error(fields, 'worker died; replacing it');
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (phase === 'running') fork(m.slot);
    }, delayMs);
    restartTimers.add(timer);
  });

  /** A worker died before the cluster listened: the start has failed, as one process's would. */
  const failStart = (m: Member, code: number | null, signal: string | null) => {
    phase = 'failed';
    proc.stderr(m.fatal ?? `switchboard: worker ${m.worker.id} exited during start (${signal ? `killed by ${signal}` : `exit code ${code}`})`);
    for (const other of members.values()) post(other, { sb: 'exit-now' });
    if (members.size === 0) return proc.exit(1);
    // Bounded: a worker stuck in its start is killed.
    setTimeout(() => {
      for (const other of members.values()) other.worker.process.kill('SIGKILL');
      proc.exit(1);
    }, 3000).unref();
  };

  // ---------------------------------------------------------------- stopping

  const finish = () => {
    log.info({ code: uncleanExit ? 1 : 0 }, 'stopped');
    proc.exit(uncleanExit ? 1 : 0);
  };

  proc.onSignal((signal) => {
    if (phase === 'failed') return;
    if (phase === 'stopping') {
      log.warn({ signal, workers: members.size }, 'second signal: exiting now');
      for (const m of members.values()) post(m, { sb: 'exit-now' });
      // A worker whose channel is gone exits by itself (node:cluster ends a worker that loses its primary).
      return proc.exit(1);
    }
    phase = 'stopping';
    log.info({ signal, workers: members.size }, 'shutting down');
    for (const t of restartTimers) clearTimeout(t);
    restartTimers.clear();
    for (const m of members.values()) post(m, { sb: 'drain' });
    if (members.size === 0) return finish();
    // Each worker bounds its own drain; this bounds a worker that hangs anyway.
    setTimeout(() => {
      for (const m of members.values()) {
        log.error({ workerId: m.worker.id }, 'worker did not stop after the drain: killing it');
        m.worker.process.kill('SIGKILL');
      }
    }, config.drainMs + 10_000).unref();
  });

  log.info({ workers: n }, 'starting workers');
  for (let slot = 0; slot < n; slot++) fork(slot);
}
