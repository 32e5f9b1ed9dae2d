/**
 * Puts the gateway together: store, carrier provider, services, HTTP, media.
 * main.ts uses it with the real environment; tests use it with a temporary
 * database and port 0. It never touches process (signals, env, exit).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { NumberProvider } from './providers/provider.js';
import { buildProviders } from './providers/build.js';
import { Providers } from './providers/registry.js';
import { loadInventoryIfEmpty } from './providers/sim/inventory-loader.js';
import { SimProvider } from './providers/sim/sim-provider.js';
import { buildCarriers, type CarrierSet } from './carriers/registry.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { Faults } from './faults.js';
import { defaultConnectionsPerAddress, openFilesLimit, type FdLimit } from './fd-limit.js';
import { createCarrierHandler } from './http/carrier-handler.js';
import { ConnectionLimiter } from './http/connection-limit.js';
import { refuseTarget, splitTarget } from './http/request-target.js';
import { createExpressApp } from './http/express-app.js';
import { RateLimiter } from './http/rate-limit.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './log.js';
import { newMediaStats, type MediaStats } from './media/bridge.js';
import { MediaServer } from './media/media-server.js';
import { LiveCallRegistry } from './media/registry.js';
import { Metrics } from './metrics.js';
import { INVENTORY_DIR } from './paths.js';
import { CallRecorder } from './routing/call-recorder.js';
import { CallTokens } from './routing/call-token.js';
import { InboundRouter } from './routing/inbound.js';
import { createServices, type Services } from './services/index.js';
import type { Store } from './services/ports.js';
import { openStore } from './store/open.js';

export interface GatewayOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** Providers to use instead of the ones the configuration builds (tests); the simulated carrier is built either way. */
  providers?: NumberProvider[];
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
  readonly store: Store;
  readonly services: Services;
  readonly lifecycle: Lifecycle;
  readonly server: http.Server;
  readonly log: Logger;
  readonly tokens: CallTokens;
  readonly recorder: CallRecorder;
  readonly inbound: InboundRouter;
  readonly liveCalls: LiveCallRegistry;
  readonly mediaStats: MediaStats;
  /** The carriers this gateway speaks (registry.ts). */
  readonly carriers: CarrierSet;
  readonly metrics: Metrics;
  readonly faults: Faults;
  /** This process's id among the instances on the database (leases, acknowledgements). */
  readonly instanceId: string;
  /** The open-files limit in force (main logs it), and the per-address connection cap derived from it. */
  readonly fdLimit: FdLimit | null;
  readonly connectionsPerAddress: number;
  /** The simulated carrier (tests drive its clock). */
  readonly sim: SimProvider;
  /**
   * Registers SWITCHBOARD_ADMIN_TOKEN, or generates an admin token if the
   * database has none. Called by main only once listening, so a start that
   * fails (port taken) never consumes the one-time token. Returns the token
   * generated now (to print once), or null.
   */
  bootstrapAdmin(): Promise<string | null>;
  /** The public base URL (configured, or http://localhost:PORT once listening). */
  publicUrl(): string;
  /** Resumes provisioning, settles leftover purchases, starts the sweeper. */
  start(): Promise<void>;
  listen(): Promise<AddressInfo>;
  /** One sweep now, if this process holds (or takes) the sweeper's lease (null when another process holds it). */
  sweep(): Promise<Awaited<ReturnType<Services['sweeper']['sweep']>> | null>;
  /**
   * Stops taking new calls (webhooks and /readyz answer 503, new media sockets
   * are refused), lets live calls run until they end or `ms` passes, closes
   * what is left with 1001, then closes everything.
   */
  drain(ms: number): Promise<{ closedLive: number }>;
  close(): Promise<void>;
}

/** The sweeper's lease: held by one process at a time, renewed every sweep. */
const SWEEPER_LEASE = 'sweeper';

export async function createGateway(o: GatewayOptions): Promise<Gateway> {
  const config = o.config;
  const clock = o.clock ?? systemClock;
  const log = o.log ?? createLogger(config.logLevel);
  const faults = new Faults(log);
  const instanceId = randomUUID();
  const opened = await openStore(config.db, { now: () => clock.now(), instanceId, log, invalidationTimeoutMs: config.invalidationTimeoutMs });
  const { store } = opened;

  // The simulated carrier is always there (numbers bought from it keep it);
  // its inventory is loaded only when it is offered.
  if (config.providers.offered.includes('sim')) {
    const inserted = await loadInventoryIfEmpty(opened.sim, o.inventoryDir ?? INVENTORY_DIR);
    if (inserted) log.info({ numbers: inserted }, 'loaded the simulated carrier inventory');
  }
  const sim = new SimProvider(opened.sim, {
    provisionMs: config.simProvisionMs,
    failureRate: config.simFailureRate,
    clock,
    onError: (err) => faults.report('provider', err),
    ...(o.random ? { random: o.random } : {}),
  });
  let boundPort = config.port;
  const publicUrl = () => config.publicUrl ?? `http://localhost:${boundPort}`;
  const providers = new Providers(
    [sim, ...(o.providers ?? buildProviders(config.providers, { publicUrl, log }))],
    config.providers.offered,
    config.providers.defaultName,
  );

  const services = createServices({
    store,
    routingStore: opened.routing,
    providers,
    clock,
    log,
    routingCacheSize: config.routingCacheSize,
    provisionTimeoutMs: config.provisionTimeoutMs,
    faults,
  });
  // A configured admin token works from the very first request; a generated
  // one is made by bootstrapAdmin() once the server is listening.
  if (config.adminToken) await services.auth.bootstrapAdmin(config.adminToken);
  // The server secret keys the per-call media tokens. Stored once so every
  // process on this database (and every restart) signs the same way.
  const serverSecret = config.secret ?? (await store.meta.setIfAbsent('server_secret', randomBytes(32).toString('base64url')));
  const tokens = new CallTokens(serverSecret);

  const lifecycle = new Lifecycle();
  const recorder = new CallRecorder(store.calls);
  const inbound = new InboundRouter(services.routing, recorder, store.calls, lifecycle, clock);
  const carrierSet = buildCarriers(config, { publicUrl, signToken: (c, a, at) => tokens.sign(c, a, at), now: () => clock.now() });
  const liveCalls = new LiveCallRegistry();
  const mediaStats = newMediaStats();
  const fdLimit = openFilesLimit();
  const connectionsPerAddress = config.maxConnectionsPerAddress ?? defaultConnectionsPerAddress(fdLimit);
  const connections = new ConnectionLimiter(connectionsPerAddress, config.headersTimeoutMs, () => metrics.connectionsRefused.inc());
  const media = new MediaServer({
    carriers: carrierSet,
    lifecycle,
    tokens,
    registry: liveCalls,
    stats: mediaStats,
    calls: services.calls,
    log,
    faults,
    connections,
    allowedNetworks: config.mediaAllowedNetworks,
    now: () => clock.now(),
    tokenTtlS: config.mediaTokenTtlS,
    splice: config.mediaSplice,
    ...o.media,
  });
  const metrics = new Metrics(
    { routing: services.routing, liveCalls, media: mediaStats, recorder, faults, feed: opened.routing.feed },
    { defaultMetrics: o.defaultMetrics ?? true },
  );
  services.setNumberEvents(metrics);
  services.reconciler.events = metrics;
  services.routing.onPublished = (ms, acknowledged) => metrics.observeInvalidation(ms, acknowledged);

  // Failures only, per source address: failed API authentications and failed
  // carrier signatures each have their own budget.
  const failureBudget = { capacity: config.authFailureLimit, refillPerSec: config.authFailureLimit / 60 };
  const authFailures = new RateLimiter(failureBudget);
  const signatureFailures = new RateLimiter(failureBudget);
  const apiLimiter = new RateLimiter({ capacity: config.apiBurst, refillPerSec: config.apiRate });
  const teamLimiter = new RateLimiter({ capacity: config.teamApiBurst, refillPerSec: config.teamApiRate });
  const carriers = createCarrierHandler({
    carriers: carrierSet,
    // A carrier's account events go to the number provider of the same name
    // (Telnyx's number_order.complete); a gateway without that provider ignores them.
    onEvent: async (name, event) => (await providers.get(name)?.handleEvent?.(event)) ?? 'ignored',
    inbound,
    calls: services.calls,
    insecureWebhooks: config.insecureWebhooks,
    log,
    metrics,
    failureLimiter: signatureFailures,
    faults,
  });

  const app = createExpressApp({
    services,
    lifecycle,
    log,
    dbPing: () => store.ping(),
    carriers: carrierSet,
    metrics,
    apiLimiter,
    teamLimiter,
    failureLimiter: authFailures,
  });
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
        else if (splitTarget(req.url).path === null) refuseTarget(req, res, log);
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

  let sweepTimer: NodeJS.Timeout | null = null;
  let sweeping = false;
  let reconciledAt = -Infinity;

  /** One sweep, by whichever process holds the lease (renewed each time; it lapses if the holder dies). */
  const sweep = async () => {
    if (sweeping) return null;
    sweeping = true;
    try {
      // Held while this process keeps sweeping; a holder that died without
      // releasing it (kill -9) is replaced once it lapses.
      const leaseMs = Math.min(Math.max(config.sweepMs * 3, 5000), 30_000);
      if (!(await store.tryLease(SWEEPER_LEASE, instanceId, leaseMs))) {
        // Another process reconciles now: its drift figures are the current ones.
        metrics.clearDrift();
        return null;
      }
      const r = await services.sweeper.sweep();
      const unstreamed = await services.calls.expireUnstreamed(config.mediaTokenTtlS);
      if (unstreamed) log.info({ calls: unstreamed }, 'calls whose media stream never opened: failed (stream_never_opened)');
      await services.routing.pruneChanges(60 * 60_000, Date.now());
      await store.idempotency.prune(clock.now() - 24 * 60 * 60_000);
      // Provider accounts against the database: at start, then every SWITCHBOARD_RECONCILE_MS.
      if (Date.now() - reconciledAt >= config.providers.reconcileMs) {
        reconciledAt = Date.now();
        await services.reconciler.run().catch((err: unknown) => faults.report('sweep', err));
      }
      return r;
    } catch (err) {
      faults.report('sweep', err);
      return null;
    } finally {
      sweeping = false;
    }
  };

  /** Start-up without the lease: see Sweeper.catchUp. */
  const catchUp = async () => {
    try {
      return await services.sweeper.catchUp();
    } catch (err) {
      faults.report('sweep', err);
      return null;
    }
  };

  const gateway: Gateway = {
    config,
    store,
    services,
    lifecycle,
    server,
    log,
    tokens,
    recorder,
    inbound,
    liveCalls,
    mediaStats,
    carriers: carrierSet,
    metrics,
    faults,
    instanceId,
    fdLimit,
    connectionsPerAddress,
    sim,
    bootstrapAdmin: () => (config.adminToken ? Promise.resolve(null) : services.auth.bootstrapAdmin(undefined)),
    publicUrl,
    sweep,
    async start() {
      await opened.routing.feed.start();
      // Catches up on what happened while down: purchases left purchasing,
      // trial expiries, holds nobody holds (run by whichever process holds
      // the sweeper's lease). A process killed with SIGKILL keeps the lease
      // until it lapses: then the purchases and holds are settled now,
      // without it (Sweeper.catchUp), not seconds after the restart.
      const r = (await sweep()) ?? (await catchUp());
      if (r && (r.resumed || r.settled)) log.info({ resumed: r.resumed, settled: r.settled }, 'purchases left from the last run');
      // Only then do the providers follow their pending orders (the simulated
      // carrier's timers, Telnyx's polling): recovery judges the state the
      // last run left, not a race with an order completing meanwhile.
      for (const p of providers.all()) await p.start();
      sweepTimer = setInterval(() => void sweep(), config.sweepMs);
      sweepTimer.unref();
    },
    listen() {
      // Listening already: the same address (a second call is not an error).
      if (server.listening) return Promise.resolve(server.address() as AddressInfo);
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        // A deep accept queue: carriers burst (a campaign, a failover from
        // another gateway), and a connection that overflows Node's default
        // 511 waits out TCP's SYN retries (1 s, 3 s, 7 s...) before it is
        // even accepted. The kernel caps it at net.core.somaxconn.
        server.listen({ port: config.port, host: config.host, backlog: 4096 }, () => {
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
      const closedLive = liveCalls.closeAll('gateway_shutdown');
      if (closedLive) log.warn({ closedLive }, 'drain time over: closed live calls with 1001');
      await gateway.close();
      return { closedLive };
    },
    async close() {
      lifecycle.stop();
      liveCalls.closeAll('gateway_shutdown');
      media.close();
      if (sweepTimer) clearInterval(sweepTimer);
      for (const p of providers.all()) p.stop();
      if (server.listening) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      await recorder.flush().catch((err: unknown) => log.error({ err }, 'flushing call records at shutdown'));
      // Wait out the hooks the last bridges fired (their end reasons).
      await new Promise((r) => setImmediate(r));
      await store.releaseLease(SWEEPER_LEASE, instanceId).catch(() => {});
      await opened.routing.feed.stop();
      await store.close();
    },
  };
  return gateway;
}
