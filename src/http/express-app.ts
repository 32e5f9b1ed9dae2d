/**
 * The express application for /api, /healthz and /readyz. Carrier webhooks do
 * not pass through here (see app.ts): they are the hot path.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Services } from '../services/index.js';
import type { CarrierSet } from '../carriers/registry.js';
import { apiRouter } from './api-router.js';
import { callsRouter } from './calls-router.js';
import { serveConsole } from './console.js';
import { openApiJson } from './openapi.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { AuthFailure } from '../services/auth.js';
import { StoreUnavailable } from '../services/ports.js';

export const BODY_LIMIT = 64 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
};

const REQUEST_ID = /^[\w.:-]{1,64}$/;

export interface ExpressDeps {
  services: Services;
  lifecycle: Lifecycle;
  log: Logger;
  /** Answers whether the database is reachable (readiness). */
  dbPing: () => Promise<boolean>;
  /** Renders the TwiML handed to outbound dialers. */
  carriers: CarrierSet;
  metrics: Metrics;
  /** Per token on /api. */
  apiLimiter: RateLimiter;
  /** Per team on /api (all its tokens together). */
  teamLimiter: RateLimiter;
  /** Per source address, spent by failed authentications only. */
  failureLimiter: RateLimiter;
}

const rateLimited = (seconds: number, what: string) =>
  new AppError('RATE_LIMITED', `${what} Try again in ${seconds} s.`, undefined, { 'Retry-After': String(seconds) });

export function createExpressApp(d: ExpressDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  // One log line per request, with a request id the client can quote.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get('x-request-id');
    const reqId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const started = process.hrtime.bigint();
    const path = req.path; // before routers rewrite it relative to their mount point
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      d.log.info(
        {
          reqId,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(ms * 100) / 100,
          team: (res.locals.principal as { teamId?: string } | undefined)?.teamId,
        },
        'request',
      );
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const db = await d.dbPing().catch(() => false);
    const ready = db && d.lifecycle.accepting;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', database: db ? 'ok' : 'down', lifecycle: d.lifecycle.state });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', d.metrics.registry.contentType);
    res.send(await d.metrics.exposition());
  });

  // The API's description (src/http/openapi.ts), built once, here; public like /healthz.
  const openApi = openApiJson();
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApi);
  });

  // Authenticate first, from the headers alone: an unauthenticated request
  // gets its 401 without its body being read or parsed (a bad body from a
  // stranger is not worth a parse, and it must spend the failure budget like
  // any other failed authentication, not dodge it with a 400 or 413).
  app.use('/api', async (req, res, next) => {
    const header = req.get('authorization');
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const auth = m ? await d.services.auth.authenticate(m[1]!) : null;
    if (!auth || !auth.ok) {
      // Only failures spend from the address's budget, and a valid token is
      // never refused for its address: behind a shared proxy or NAT, one
      // client's bad token must not lock everybody out.
      if (hasBody(req)) res.setHeader('Connection', 'close'); // the unread body cannot be skipped over
      const ip = req.socket.remoteAddress ?? 'unknown';
      const wait = d.failureLimiter.take(ip);
      if (wait) {
        d.metrics.rateLimited.inc({ kind: 'auth_failures' });
        return next(rateLimited(wait, 'Too many failed authentications from this address.'));
      }
      return next(new AppError('UNAUTHENTICATED', unauthenticatedMessage(m !== null, auth && !auth.ok ? auth.failure : null)));
    }
    // Per token, and per team (all of a team's tokens together): minting more
    // tokens buys no more throughput.
    const wait = d.apiLimiter.take(auth.tokenHash) || (auth.principal.kind === 'team' ? d.teamLimiter.take(auth.principal.teamId) : 0);
    if (wait) {
      d.metrics.rateLimited.inc({ kind: 'api' });
      return next(rateLimited(wait, 'Too many requests with this token or team.'));
    }
    res.locals.principal = auth.principal;
    res.locals.tokenId = auth.tokenId;
    next();
  });

  // Bodies: JSON only, 64 KiB at most. Anything else with a body is 415.
  app.use('/api', (req, _res, next) => {
    if (hasBody(req) && !req.is('application/json')) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json (got ${JSON.stringify(req.get('content-type') ?? 'none')}).`));
    }
    next();
  });
  app.use('/api', express.json({ limit: BODY_LIMIT, strict: false }));

  const routers = [apiRouter(d.services), callsRouter(d.services, d.carriers)];
  for (const r of routers) app.use('/api', r);
  // A path that exists under another method is 405 with Allow, not 404.
  app.use('/api', (req, res, next) => {
    const allowed = allowedMethods(routers, req.path);
    if (allowed.length === 0) return next();
    res.setHeader('Allow', allowed.join(', '));
    next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.baseUrl}${req.path}; use ${allowed.join(' or ')}.`));
  });

  app.use(serveConsole()); // the web console at / (never under /api or the operations paths)
  app.use((req, _res, next) => next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}.`)));
  app.use(errorHandler(d.log));
  return app;
}

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): boolean;
}

function allowedMethods(routers: Array<{ stack: unknown[] }>, path: string): string[] {
  const methods = new Set<string>();
  for (const r of routers) {
    for (const layer of r.stack as RouteLayer[]) {
      if (layer.route && layer.match(path)) for (const m of Object.keys(layer.route.methods)) if (m !== '_all') methods.add(m.toUpperCase());
    }
  }
  return [...methods].sort();
}

const hasBody = (req: Request): boolean => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

function unauthenticatedMessage(sentBearer: boolean, failure: AuthFailure | null): string {
  if (!sentBearer) return 'Send Authorization: Bearer <token>.';
  const on = (t: number) => new Date(t).toISOString();
  switch (failure?.kind) {
    case 'revoked':
      if (failure.admin) {
        return `This admin token was replaced at ${on(failure.at)}: the gateway was started with SWITCHBOARD_ADMIN_TOKEN, which is now the only admin token; use that one.`;
      }
      return `This token was revoked at ${on(failure.at)}; use another token, or ask a team member or the operator for a new one.`;
    case 'expired':
      return `This token expired at ${on(failure.at)}; create a new one (POST /api/teams/<teamId>/tokens) with a token that still works.`;
    default:
      return 'The bearer token is not valid.';
  }
}

/** The one error handler: every error leaves in the catalogue's shape. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toAppError(err);
    if (e.status >= 500) log.error({ err, reqId: res.locals.reqId, path: req.path }, 'request failed');
    if (res.headersSent) return;
    if (e.headers) res.set(e.headers);
    res.status(e.status).json(e.toBody());
  };
}

/** Maps errors from express's body parser and friends onto the catalogue. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The database is down or unreachable: nothing the client did, and worth a retry (or a carrier's fallback URL).
  if (err instanceof StoreUnavailable) return new AppError('UNAVAILABLE', 'The database is unavailable; try again shortly.', undefined, { 'Retry-After': '1' });
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  switch (e?.type) {
    case 'entity.parse.failed':
      return new AppError('INVALID_JSON', `The body is not valid JSON: ${e.message ?? 'parse error'}.`);
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', `The body is larger than ${BODY_LIMIT / 1024} KiB.`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported body encoding.');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new AppError('INVALID_REQUEST', e.message ?? 'The body could not be read.');
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('INVALID_REQUEST', e.message ?? 'Bad request.');
  }
  return new AppError('INTERNAL', 'Internal error; it has been logged.');
}
