/**
 * Serves the web console (built by `npm run build` into dist/console) at /.
 *
 * - Client-side routes (/numbers, /assistants/…, …) get index.html, with
 *   `Cache-Control: no-cache` so a new build is picked up on the next load.
 * - Hashed files under /assets/ are immutable for a year.
 * - Every console response has a CSP that allows only this origin's files: the
 *   build inlines no script or style. /api keeps its own `default-src 'none'`.
 * - The console never answers under the gateway's own prefixes, so it cannot
 *   shadow an API route or an operations endpoint.
 *
 * The console talks to the same public /api as curl does; it has no endpoint of its own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { PROJECT_ROOT } from '../paths.js';

export const CONSOLE_DIR = join(PROJECT_ROOT, 'dist', 'console');

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the gateway itself answers; the console never does. */
const RESERVED = /^\/(api|carriers|media|healthz|readyz|metrics)(\/|$)/i;

/** The console's own pages; other paths that ask for HTML get index.html with a 404 (the console says "not found"). */
const ROUTES = /^\/(?:|sign-in|numbers|assistants|assistants\/[^/]+|calls|tokens|teams)\/?$/;

export interface ConsoleOptions {
  /** The built console; default dist/console. */
  dir?: string;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Other files at the top of the build (favicon.svg): not hashed, so short-lived. */
const TOP_FILE = /^\/[\w.-]+\.(?:svg|ico|png|txt|webmanifest)$/;

/**
 * One middleware, not a Router: it adds no route to the app (the app's routes
 * are its API), and answers only GET and HEAD outside the reserved paths.
 */
export function serveConsole({ dir = CONSOLE_DIR }: ConsoleOptions = {}): RequestHandler {
  const root = normalize(dir);
  const indexPath = join(root, 'index.html');
  const assets = express.static(join(root, 'assets'), {
    index: false,
    fallthrough: true,
    redirect: false,
    setHeaders: (res) => res.setHeader('Cache-Control', IMMUTABLE),
  });
  // Read on every request (it is 1 KB): a rebuild replaces the hashed asset
  // names it points to. While a rebuild has the file away, the last one read
  // is served (its assets are still there: the build does not empty the folder).
  let lastIndex: Buffer | null = null;
  const readIndex = (): Buffer | null => {
    try {
      lastIndex = readFileSync(indexPath);
    } catch {
      /* not built, or being rebuilt */
    }
    return lastIndex;
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || RESERVED.test(req.path)) return next();
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');

    // Hashed assets: immutable. A missing one is a plain 404, never index.html.
    if (req.path.startsWith('/assets/')) {
      const url = req.url;
      req.url = url.slice('/assets'.length);
      assets(req, res, (err?: unknown) => {
        req.url = url;
        next(err);
      });
      return;
    }

    if (TOP_FILE.test(req.path)) {
      const file = normalize(join(root, req.path));
      if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) {
        res.setHeader('Cache-Control', 'public, max-age=3600');
        res.sendFile(file);
        return;
      }
    }

    const known = ROUTES.test(req.path);
    // An unknown path is the console's "not found" page only for a browser; API clients keep the JSON 404.
    if (!known && !(req.get('accept') ?? '').includes('text/html')) return next();
    const html = readIndex();
    if (!html) {
      res
        .status(known ? 503 : 404)
        .type('text/plain')
        .setHeader('Cache-Control', 'no-store');
      res.send('The web console is not built. Run `npm run build` (npm start does it), then reload.\n');
      return;
    }
    res
      .status(known ? 200 : 404)
      .type('html')
      .setHeader('Cache-Control', 'no-cache');
    res.send(html);
  };
}
