/**
 * Puts the gateway together: database, carrier provider, services, HTTP.
 * main.ts uses it with the real environment; tests use it with a temporary
 * database file and port 0. It never touches process (signals, env, exit).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { startCheckpointer, type Checkpointer } from '../db/checkpointer.js';
import { closeDb, openDb, type Db } from '../db/client.js';
import { GenericAdapter } from './carriers/generic/adapter.js';
import type { NumberProvider } from './carriers/provider.js';
import { loadInventoryIfEmpty } from './carriers/sim/inventory-loader.js';
import { SimProvider } from './carriers/sim/sim-provider.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { TwilioAdapter } from './carriers/twilio/adapter.js';
import { createCarrierHandler } from './http/carrier-handler.js';
import { createExpressApp } from './http/express-app.js';
import { Lifecycle } from './lifecycle.js';
import { newMediaStats, type MediaStats } from './media/bridge.js';
import { MediaServer } from './media/media-server.js';
import { LiveCallRegistry } from './media/registry.js';
import { createLogger } from './log.js';
import { RateLimiter } from './http/rate-limit.js';
import { Metrics } from './metrics.js';
import { INVENTORY_DIR } from './paths.js';
import { CallRecorder } from './routing/call-recorder.js';
import { CallTokens } from './routing/call-token.js';
import { InboundRouter } from './routing/inbound.js';
import { createServices, type Services } from './services/index.js';
import { Faults } from './faults.js';
import { ConnectionLimiter } from './http/connection-limit.js';
import { defaultConnectionsPerAddress, openFilesLimit, type FdLimit } from './fd-limit.js';

export interface GatewayOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** Defaults to the simulated carrier. */
  provider?: NumberProvider;
  /** Randomness for the simulated carrier's failures (tests). */
  random?: () => number;
  /** Folder of inventory CSVs for the simulated carrier. */
  inventoryDir?: string;
  /** Node process metrics (CPU, memory, event loop) on /metrics; default true. */
  defaultMetrics?: boolean;
  /** Media bridge timings and limits (defaults in media/bridge.ts); tests shorten them. */
  media?: { pingIntervalMs?: number; maxBufferedBytes?: number; connectTimeoutMs?: number };
}

export interface Gateway {
  readonly config: Config;
  readonly db: Db;
  readonly services: Services;
  readonly lifecycle: Lifecycle;
  readonly server: http.Server;
  readonly log: Logger;
  readonly tokens: CallTokens;
  readonly recorder: CallRecorder;
  readonly inbound: InboundRouter;
  readonly liveCalls: LiveCallRegistry;
  readonly mediaStats: MediaStats;
  readonly metrics: Metrics;
  readonly faults: Faults;
  /** The open-files limit in force (main logs it), and the per-address connection cap derived from it. */
  readonly fdLimit: FdLimit | null;
  readonly connectionsPerAddress: number;
  /**
   * Registers SWITCHBOARD_ADMIN_TOKEN, or generates an admin token if the
   * database has none. Called by main only once listening, so a start that
   * fails (port taken) never consumes the one-time token. Returns the token
   * generated now (to print once), or null.
   */
  bootstrapAdmin(): string | null;
  /** The public base URL (configured, or http://localhost:PORT once listening). */
  publicUrl(): string;
  /** Resumes provisioning, settles leftover purchases, starts the sweeper. */
  start(): Promise<void>;
  listen(): Promise<AddressInfo>;
  /**
   * Stops taking new calls (webhooks and /readyz answer 503, new media sockets
   * are refused), lets live calls run until they end or `ms` passes, closes
   * what is left with 1001, then closes everything.
   */
  drain(ms: number): Promise<{ closedLive: number }>;
  close(): Promise<void>;
}

export function createGateway(o: GatewayOptions): Gateway {
  const config = o.config;
  const clock = o.clock ?? systemClock;
  const log = o.log ?? createLogger(config.logLevel);
  const faults = new Faults(log);
  const db = openDb({ path: config.dbPath });

  const provider =
    o.provider ??
    (() => {
      const inserted = loadInventoryIfEmpty(db, o.inventoryDir ?? INVENTORY_DIR);
      if (inserted) log.info({ numbers: inserted }, 'loaded the simulated carrier inventory');
      return new SimProvider(db, {
        provisionMs: config.simProvisionMs,
        failureRate: config.simFailureRate,
        clock,
        onError: (err) => faults.report('provider', err),
        ...(o.random ? { random: o.random } : {}),
      });
    })();

  const services = createServices({
    db,
    provider,
    clock,
    log,
    routingCacheSize: config.routingCacheSize,
    provisionTimeoutMs: config.provisionTimeoutMs,
    faults,
  });
  // A configured admin token works from the very first request; a generated
  // one is made by bootstrapAdmin() once the server is listening.
  if (config.adminToken) services.auth.bootstrapAdmin(config.adminToken);
  // The server secret keys the per-call media tokens. Stored once so every
  // process on this database (and every restart) signs the same way.
  const serverSecret = config.secret ?? services.stores.meta.setIfAbsent('server_secret', randomBytes(32).toString('base64url'));
  const tokens = new CallTokens(serverSecret);

  const lifecycle = new Lifecycle();
  let boundPort = config.port;
  const publicUrl = () => config.publicUrl ?? `http://localhost:${boundPort}`;
  const recorder = new CallRecorder(db.$client, services.stores.calls);
  const inbound = new InboundRouter(services.routing, recorder, services.stores.calls, lifecycle, clock);
  const twilio = new TwilioAdapter({ authToken: config.twilioAuthToken, publicUrl, tokens });
  const generic = new GenericAdapter({ secret: config.webhookSecret, publicUrl, tokens, now: () => clock.now() });
  const liveCalls = new LiveCallRegistry();
  const mediaStats = newMediaStats();
  const fdLimit = openFilesLimit();
  const connections = new ConnectionLimiter(config.maxConnectionsPerAddress ?? defaultConnectionsPerAddress(fdLimit), config.headersTimeoutMs, () => metrics.connectionsRefused.inc());
  const media = new MediaServer({ lifecycle, tokens, registry: liveCalls, stats: mediaStats, calls: services.calls, log, faults, connections, allowedNetworks: config.mediaAllowedNetworks, now: () => clock.now(), tokenTtlS: config.mediaTokenTtlS, ...o.media });
  const metrics = new Metrics({ routing: services.routing, liveCalls, media: mediaStats, recorder, faults }, { defaultMetrics: o.defaultMetrics ?? true });
  services.numbers.events = metrics;

  // Failures only, per source address: failed API authentications and failed
  // carrier signatures each have their own budget.
  const failureBudget = { capacity: config.authFailureLimit, refillPerSec: config.authFailureLimit / 60 };
  const authFailures = new RateLimiter(failureBudget);
  const signatureFailures = new RateLimiter(failureBudget);
  const apiLimiter = new RateLimiter({ capacity: config.apiBurst, refillPerSec: config.apiRate });
  const teamLimiter = new RateLimiter({ capacity: config.teamApiBurst, refillPerSec: config.teamApiRate });
  const carriers = createCarrierHandler({
    twilio,
    generic,
    inbound,
    calls: services.calls,
    insecureWebhooks: config.insecureWebhooks,
    log,
    metrics,
    failureLimiter: signatureFailures,
    faults,
  });

  const ping = db.$client.prepare('SELECT 1').pluck();
  const app = createExpressApp({ services, lifecycle, log, dbPing: () => ping.get() === 1, twilio, metrics, apiLimiter, teamLimiter, failureLimiter: authFailures });
  // Carrier webhooks are answered on the raw http layer; everything else is express.
  const server = http.createServer(
    {
      // Sized for carriers, not for attackers: Twilio gives up on a webhook
      // after 15 s, so holding a slow request longer only helps a slowloris.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // How often those timeouts are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
      keepAliveTimeout: 65_000, // longer than common load-balancer idle timeouts
    },
    faults.guard(
      'http',
      (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (req.url !== undefined && req.url.startsWith('/carriers/')) carriers(req, res);
        else app(req, res);
      },
      (_req, res) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json', Connection: 'close' });
          res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'Internal error; it has been logged.' } }));
        } else res.destroy();
      },
    ),
  );
  connections.attach(server);
  media.attach(server);

  let checkpointer: Checkpointer | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  let sweeping = false;

  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      await services.numbers.sweep();
      services.routing.pruneChanges(60 * 60_000);
      services.stores.idempotency.prune(clock.now() - 24 * 60 * 60_000);
    } catch (err) {
      faults.report('sweep', err);
    } finally {
      sweeping = false;
    }
  };

  return {
    config,
    db,
    services,
    lifecycle,
    server,
    log,
    tokens,
    recorder,
    inbound,
    liveCalls,
    mediaStats,
    metrics,
    faults,
    fdLimit,
    connectionsPerAddress: config.maxConnectionsPerAddress ?? defaultConnectionsPerAddress(fdLimit),
    bootstrapAdmin: () => (config.adminToken ? null : services.auth.bootstrapAdmin(undefined)),
    publicUrl,
    async start() {
      if (config.dbPath !== ':memory:' && !config.dbPath.startsWith('file:')) checkpointer = startCheckpointer(config.dbPath);
      await provider.start();
      const r = await services.numbers.recover();
      if (r.resumed || r.settled) log.info(r, 'purchases left from the last run');
      await sweep(); // catches up on trial expiries missed while down
      sweepTimer = setInterval(() => void sweep(), config.sweepMs);
      sweepTimer.unref();
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          boundPort = addr.port;
          resolve(addr);
        });
      });
    },
    async drain(ms) {
      lifecycle.drain();
      log.info({ liveCalls: liveCalls.size, drainMs: ms }, 'draining: refusing new calls, waiting for live ones');
      const progress = setInterval(() => log.info({ liveCalls: liveCalls.size }, 'draining'), 1000);
      progress.unref();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([liveCalls.idle(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
      clearTimeout(timer);
      clearInterval(progress);
      const closedLive = liveCalls.closeAll(1001, 'gateway shutting down');
      if (closedLive) log.warn({ closedLive }, 'drain time over: closed live calls with 1001');
      await this.close();
      return { closedLive };
    },
    async close() {
      lifecycle.stop();
      liveCalls.closeAll(1001, 'gateway shutting down');
      media.close();
      if (sweepTimer) clearInterval(sweepTimer);
      provider.stop();
      if (server.listening) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      recorder.flush();
      await checkpointer?.stop();
      closeDb(db);
    },
  };
}
