/**
 * The process: read the environment, start the gateway, handle signals.
 * The only file that touches process. With SWITCHBOARD_WORKERS > 1 this
 * process is the cluster's primary (src/cluster.ts) and each worker it forks
 * runs this file again, as a gateway that talks to the primary.
 */
import cluster from 'node:cluster';
import { ConfigError, describeDb, loadConfig, type Config } from './config.js';
import { PrimaryLink, runPrimary, type Channel } from './cluster.js';
import type { MetricSnapshot } from './cluster-metrics.js';
import { createGateway, type Gateway } from './gateway.js';
import { StoreUnavailable } from './services/ports.js';
import { createLogger, flushSync, stdoutDestination, written } from './log.js';

/** One line a person can act on, for the ways listening fails; null for anything else. */
function listenFailure(err: unknown, config: Config): string | null {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `PORT=${config.port} is already in use (${where}): stop the other process, or set PORT to a free port (PORT=0 picks one).`;
    case 'EACCES':
      return `PORT=${config.port} needs privileges this process does not have (${where}): use a port above 1023, or put a proxy in front.`;
    case 'EADDRNOTAVAIL':
      return `HOST=${config.host} is not an address of this machine: use 0.0.0.0 (every interface), 127.0.0.1, or one of its addresses.`;
    default:
      return null;
  }
}

/** A cluster worker's link to its primary; null in a single process. */
let link: PrimaryLink | null = null;

/**
 * Ends a start that failed with one line. A single process prints it on
 * stderr; a cluster worker sends it to the primary, which prints it once for
 * all its workers. Never returns.
 */
function fail(line: string): Promise<never> {
  const text = `switchboard: ${line}`;
  if (link) link.send({ sb: 'fatal', line: text }, () => process.exit(1));
  else {
    process.stderr.write(`${text}\n`);
    process.exit(1);
  }
  return new Promise<never>(() => {});
}

const channel: Channel = {
  send(m, done) {
    if (process.connected && process.send) process.send(m, undefined, undefined, () => done());
    else done();
  },
  onMessage: (fn) => process.on('message', fn),
};

/** The cluster's primary: no gateway of its own (cluster.ts). */
function primary(config: Config): void {
  const log = createLogger(config.logLevel, stdoutDestination({ shared: true }));
  runPrimary(config, log, {
    stderr: (line) => process.stderr.write(`${line}\n`),
    onSignal(fn) {
      process.on('SIGTERM', () => fn('SIGTERM'));
      process.on('SIGINT', () => fn('SIGINT'));
    },
    exit(code) {
      // Every line out, in order (pino's flush() returns at once, and the
      // flushSync at exit would write the last lines past one still in
      // flight); bounded, since a closed stdout pipe can make it retry forever.
      void written(log, 3000).then(() => process.exit(code));
    },
  });
}

/** A gateway: the whole process, or one cluster worker. */
async function serve(config: Config): Promise<void> {
  const workerId = cluster.isWorker ? cluster.worker!.id : null;
  // A worker shares stdout with the others: atomic whole-line writes, and its id on every line.
  const workerLog = workerId === null ? undefined : createLogger(config.logLevel, stdoutDestination({ shared: true }), { worker: workerId });
  let gw: Gateway | undefined;
  let listening = false;
  let stopping = false;
  let signals = 0;

  /** Exits without draining (a second signal; or a stop before there was anything to drain). */
  const exitNow = (code: number) => {
    const log = gw?.log ?? workerLog;
    if (log) flushSync(log);
    process.exit(code);
  };

  if (workerId !== null) {
    link = new PrimaryLink(channel, {
      // The primary was signalled: drain as a first signal does (and a worker
      // still starting has nothing to drain).
      drain: () => (listening ? beginStop('primary') : exitNow(0)),
      exitNow: () => exitNow(1),
      bootstrapAdmin: () => (gw ? gw.bootstrapAdmin() : Promise.resolve(null)),
      snapshot: async () => (gw ? ((await gw.metrics.registry.getMetricsAsJSON()) as unknown as MetricSnapshot[]) : []),
    });
    // Signals reach the workers too (a terminal's Ctrl-C, systemd's stop):
    // before listening there is nothing to drain.
    const early = () => {
      if (!listening) exitNow(0);
    };
    process.on('SIGTERM', early);
    process.on('SIGINT', early);
  }

  try {
    gw = await createGateway({ config, ...(workerLog ? { log: workerLog } : {}) });
  } catch (err) {
    if (!(err instanceof StoreUnavailable)) throw err;
    // One line, no stack: the database named (password hidden) and why.
    return fail(`cannot open SWITCHBOARD_DB=${describeDb(config.db)}: ${err.message}`);
  }
  const g = gw;
  const { log } = g;
  if (link) {
    const l = link;
    g.metrics.exposition = () => l.scrape();
  }
  if (g.services.auth.revokedAdminTokens) {
    log.warn({ revoked: g.services.auth.revokedAdminTokens }, 'SWITCHBOARD_ADMIN_TOKEN is set: other admin tokens were revoked');
  }
  // Start-up notes once per cluster: by its first worker (replacements and the others say the same).
  if (workerId === null || workerId === 1) {
    if (!config.insecureWebhooks) {
      for (const c of g.carriers.all)
        if (!c.configured) log.warn({ carrier: c.name }, `${c.keyVariable} is not set: /carriers/${c.name}/* answers 503 until it is.`);
    }
    if (config.insecureWebhooks) log.warn('SWITCHBOARD_INSECURE_WEBHOOKS=1: carrier webhooks are accepted WITHOUT signature checks. Local experiments only.');
    const fd = g.fdLimit;
    if (fd) {
      // Node already raised the soft limit to the hard one; only the operator can raise the hard one.
      const fields = { openFiles: fd.soft, hardLimit: fd.hard, connectionsPerAddress: g.connectionsPerAddress };
      if (fd.soft < 4096)
        log.warn(
          fields,
          'the open-files limit is low: each call and webhook holds a descriptor; raise the hard limit (ulimit -Hn, systemd LimitNOFILE, docker --ulimit nofile=)',
        );
      else log.info(fields, 'open-files limit');
    }
  }
  await g.start();
  let addr;
  try {
    addr = await g.listen();
  } catch (err) {
    const line = listenFailure(err, config);
    if (!line) throw err;
    await g.close().catch(() => {});
    return fail(line);
  }
  listening = true;

  if (link) {
    // The primary says "switchboard listening" once every worker does, and has one of them make the admin token.
    log.info({ host: addr.address, port: addr.port, instanceId: g.instanceId, pid: process.pid }, 'worker listening');
    // Written out first, so this line comes before the primary's, which it triggers.
    const ready = { sb: 'ready', host: addr.address, port: addr.port, instanceId: g.instanceId } as const;
    await written(log);
    link.send(ready);
  } else {
    log.info(
      { host: addr.address, port: addr.port, publicUrl: g.publicUrl(), db: describeDb(config.db), instanceId: g.instanceId, console: `${g.publicUrl()}/` },
      'switchboard listening',
    );

    // Only now: a start that failed before this point has not used up the
    // one-time admin token.
    const generated = await g.bootstrapAdmin();
    if (generated) {
      // api.md: "generated on first start, stored, and printed once in the log".
      log.warn(
        { adminToken: generated, console: `${g.publicUrl()}/` },
        'Generated the admin token. It is shown only this once and stored hashed; set SWITCHBOARD_ADMIN_TOKEN to choose your own.',
      );
      // Shown once: it must reach stdout even if the process dies right after.
      flushSync(log);
    } else if (!config.adminToken) {
      log.info(
        'An admin token exists already: it was printed when this database was first started. Lost it? Set SWITCHBOARD_ADMIN_TOKEN to a new secret (16+ characters) and restart: it becomes the admin token and the old one stops working.',
      );
    }
  }

  /** Drains once, whoever asks first (a signal, or the cluster's primary). */
  function beginStop(reason: string): void {
    if (stopping) return;
    stopping = true;
    log.info({ signal: reason }, 'shutting down');
    // Past the drain, give the log flush a bounded time: a closed stdout pipe
    // can make pino's flush retry forever (EPIPE), and we must still exit.
    const hardStop = () => setTimeout(() => process.exit(0), 3000);
    g.drain(config.drainMs).then(
      () => {
        log.info('stopped');
        hardStop();
        void written(log, 3000).then(() => process.exit(0));
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        setTimeout(() => process.exit(1), 3000);
        void written(log, 3000).then(() => process.exit(1));
      },
    );
  }
  const onSignal = (signal: string) => {
    // Only signals count towards the second one: a worker hears the primary's
    // drain and, from a terminal or systemd, the same signal itself.
    if (++signals >= 2) {
      log.warn({ signal, liveCalls: g.liveCalls.size }, 'second signal: exiting now');
      exitNow(1);
    }
    beginStop(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (cluster.isPrimary && config.workers > 1) primary(config);
  else await serve(config);
}

main().catch((err) => fail(`failed to start: ${err instanceof Error ? err.stack : String(err)}`));
