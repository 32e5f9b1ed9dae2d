/**
 * The process: read the environment, start the gateway, handle signals.
 * The only file that touches process.
 */
import { ConfigError, loadConfig } from './config.js';
import { createGateway } from './gateway.js';
import { flushSync } from './log.js';

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

  const gw = createGateway({ config });
  const { log } = gw;
  if (gw.generatedAdminToken) {
    // api.md: "generated on first start, stored, and printed once in the log".
    log.warn(
      { adminToken: gw.generatedAdminToken },
      'Generated the admin token. It is shown only this once and stored hashed; set SWITCHBOARD_ADMIN_TOKEN to choose your own.',
    );
    // Shown once: it must reach stdout even if the process dies right after.
    flushSync(log);
  }
  if (gw.services.auth.revokedAdminTokens) {
    log.warn({ revoked: gw.services.auth.revokedAdminTokens }, 'SWITCHBOARD_ADMIN_TOKEN is set: other admin tokens were revoked');
  }
  if (!config.insecureWebhooks) {
    if (!config.twilioAuthToken) log.warn('TWILIO_AUTH_TOKEN is not set: /carriers/twilio/* answers 503 until it is.');
    if (!config.webhookSecret) log.warn('SWITCHBOARD_WEBHOOK_SECRET is not set: /carriers/generic/* answers 503 until it is.');
  }
  if (config.insecureWebhooks) log.warn('SWITCHBOARD_INSECURE_WEBHOOKS=1: carrier webhooks are accepted WITHOUT signature checks. Local experiments only.');
  await gw.start();
  const addr = await gw.listen();
  log.info({ host: addr.address, port: addr.port, publicUrl: gw.publicUrl(), db: config.dbPath }, 'switchboard listening');

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
