/**
 * The process: read the environment, start the gateway, handle signals.
 * The only file that touches process.
 */
import { ConfigError, describeDb, loadConfig, type Config } from './config.js';
import { createGateway } from './gateway.js';
import { StoreUnavailable } from './services/ports.js';
import { flushSync } from './log.js';

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

  let gw;
  try {
    gw = await createGateway({ config });
  } catch (err) {
    if (!(err instanceof StoreUnavailable)) throw err;
    // One line, no stack: the database named (password hidden) and why.
    process.stderr.write(`switchboard: cannot open SWITCHBOARD_DB=${describeDb(config.db)}: ${err.message}\n`);
    process.exit(1);
  }
  const { log } = gw;
  if (gw.services.auth.revokedAdminTokens) {
    log.warn({ revoked: gw.services.auth.revokedAdminTokens }, 'SWITCHBOARD_ADMIN_TOKEN is set: other admin tokens were revoked');
  }
  if (!config.insecureWebhooks) {
    for (const c of gw.carriers.all) if (!c.configured) log.warn({ carrier: c.name }, `${c.keyVariable} is not set: /carriers/${c.name}/* answers 503 until it is.`);
  }
  if (config.insecureWebhooks) log.warn('SWITCHBOARD_INSECURE_WEBHOOKS=1: carrier webhooks are accepted WITHOUT signature checks. Local experiments only.');
  const fd = gw.fdLimit;
  if (fd) {
    // Node already raised the soft limit to the hard one; only the operator can raise the hard one.
    const fields = { openFiles: fd.soft, hardLimit: fd.hard, connectionsPerAddress: gw.connectionsPerAddress };
    if (fd.soft < 4096) log.warn(fields, 'the open-files limit is low: each call and webhook holds a descriptor; raise the hard limit (ulimit -Hn, systemd LimitNOFILE, docker --ulimit nofile=)');
    else log.info(fields, 'open-files limit');
  }
  await gw.start();
  let addr;
  try {
    addr = await gw.listen();
  } catch (err) {
    const line = listenFailure(err, config);
    if (!line) throw err;
    process.stderr.write(`switchboard: ${line}\n`);
    await gw.close().catch(() => {});
    process.exit(1);
  }
  log.info({ host: addr.address, port: addr.port, publicUrl: gw.publicUrl(), db: describeDb(config.db), instanceId: gw.instanceId, console: `${gw.publicUrl()}/` }, 'switchboard listening');

  // Only now: a start that failed before this point has not used up the
  // one-time admin token.
  const generated = await gw.bootstrapAdmin();
  if (generated) {
    // api.md: "generated on first start, stored, and printed once in the log".
    log.warn(
      { adminToken: generated, console: `${gw.publicUrl()}/` },
      'Generated the admin token. It is shown only this once and stored hashed; set SWITCHBOARD_ADMIN_TOKEN to choose your own.',
    );
    // Shown once: it must reach stdout even if the process dies right after.
    flushSync(log);
  } else if (!config.adminToken) {
    log.info(
      'An admin token exists already: it was printed when this database was first started. Lost it? Set SWITCHBOARD_ADMIN_TOKEN to a new secret (16+ characters) and restart: it becomes the admin token and the old one stops working.',
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal, liveCalls: gw.liveCalls.size }, 'second signal: exiting now');
      flushSync(log);
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Past the drain, give the log flush a bounded time: a closed stdout pipe
    // can make pino's flush retry forever (EPIPE), and we must still exit.
    const hardStop = () => setTimeout(() => process.exit(0), 3000);
    gw.drain(config.drainMs).then(
      () => {
        log.info('stopped');
        hardStop();
        log.flush(() => process.exit(0));
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        setTimeout(() => process.exit(1), 3000);
        log.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`switchboard: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
