/**
 * The routes an express app really has, read from its router stacks at run
 * time (mounted routers included, under the path they are mounted at):
 * the authorization matrix and the OpenAPI document are both checked
 * against this list.
 */
import type { CarrierSet } from '../../src/carriers/registry.js';
import { createExpressApp } from '../../src/http/express-app.js';
import { RateLimiter } from '../../src/http/rate-limit.js';
import type { TestGateway } from './gateway.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  /** The path the layer was registered with (router ≥ 2.3). */
  rawPath?: unknown;
}

export interface RegisteredRoutes {
  /** "METHOD /path" for every route with its own handler, e.g. "GET /api/teams/:teamId". */
  routes: string[];
  /** Paths with a catch-all (`router.all`: the 405 answers for paths whose other methods are routed). */
  catchAll: string[];
}

/** The gateway's express app, as createGateway builds it, on the test gateway's services. */
export function gatewayApp(t: TestGateway) {
  const limiter = new RateLimiter({ capacity: 1, refillPerSec: 1 });
  return createExpressApp({
    services: t.gw.services,
    lifecycle: t.gw.lifecycle,
    log: t.gw.log,
    dbPing: async () => true,
    carriers: {} as CarrierSet,
    metrics: t.gw.metrics,
    apiLimiter: limiter,
    teamLimiter: limiter,
    failureLimiter: limiter,
  });
}

export function registeredRoutes(app: unknown): RegisteredRoutes {
  const routes = new Set<string>();
  const catchAll = new Set<string>();
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [m, on] of Object.entries(layer.route.methods)) {
          if (!on) continue;
          if (m === '_all') catchAll.add(`${prefix}${layer.route.path}`);
          else routes.add(`${m.toUpperCase()} ${prefix}${layer.route.path}`);
        }
      } else if (layer.handle?.stack) {
        if (typeof layer.rawPath !== 'string') throw new Error(`a router is mounted at ${String(layer.rawPath)}: teach this walker that kind of path`);
        walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
      }
    }
  };
  walk((app as { router: { stack: Layer[] } }).router.stack, '');
  return { routes: [...routes].sort(), catchAll: [...catchAll].sort() };
}
