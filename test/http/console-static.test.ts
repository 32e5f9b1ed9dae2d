/**
 * Serving the web console: index.html for the console's routes, immutable
 * hashed assets, its own strict CSP, and never an answer under /api or the
 * operations paths. (The console itself is tested in a real browser in
 * test/integration/console.test.ts.)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, serveConsole } from '../../src/http/console.js';
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js';

const INDEX =
  '<!doctype html><html lang="en"><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

function fakeBuild(): string {
  const dir = join(temp('console-build-'), 'console');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, '..', 'secret.txt'), 'not for the web');
  return dir;
}

/** The console router in front of a stand-in for the rest of the app. */
function appWith(dir: string) {
  const app = express();
  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(serveConsole({ dir }));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'fell through' } });
  });
  return request(app);
}

describe('console static serving', () => {
  const api = appWith(fakeBuild());

  it('answers / and every console route with index.html, no-cache, under the console CSP', async () => {
    for (const path of ['/', '/sign-in', '/numbers', '/assistants', '/assistants/6f1c0a7e-1', '/calls', '/tokens', '/teams', '/numbers/']) {
      const res = await api.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toMatch(/^text\/html/);
      expect(res.text, path).toBe(INDEX);
      expect(res.headers['cache-control'], path).toBe('no-cache');
      expect(res.headers['content-security-policy'], path).toBe(CONSOLE_CSP);
    }
  });

  it('has a CSP that allows only this origin: no inline script or style, no framing', () => {
    expect(CONSOLE_CSP).toMatch(/^default-src 'none'/);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("style-src 'self'");
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
  });

  it('serves hashed assets as immutable for a year, and a missing asset is a 404, not the page', async () => {
    const js = await api.get('/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect((await api.get('/assets/index-abc123.css')).headers['content-type']).toMatch(/^text\/css/);
    const missing = await api.get('/assets/index-old999.js').set('Accept', 'text/html,*/*');
    expect(missing.status).toBe(404);
    expect(missing.text).not.toContain('<div id="root">');
    expect((await api.head('/assets/index-abc123.js')).status).toBe(200);
  });

  it('serves top-level files of the build, and nothing outside it', async () => {
    const icon = await api.get('/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/index.html/../../secret.txt']) {
      const res = await api.get(path);
      expect(res.text, path).not.toContain('not for the web');
    }
  });

  it('an unknown page is the console\'s "not found" (404) for a browser, and falls through for API clients', async () => {
    const browser = await api.get('/no-such-page').set('Accept', 'text/html,application/xhtml+xml');
    expect(browser.status).toBe(404);
    expect(browser.text).toBe(INDEX);
    const client = await api.get('/no-such-page');
    expect(client.status).toBe(404);
    expect(client.body.error.message).toBe('fell through');
  });

  it("never answers under the gateway's own paths, nor for other methods", async () => {
    for (const path of ['/api', '/api/teams', '/API/teams', '/carriers/twilio/voice', '/media/twilio', '/healthz', '/readyz', '/metrics', '/metrics/x']) {
      const res = await api.get(path).set('Accept', 'text/html');
      expect(res.body.error?.message, path).toBe('fell through');
      expect(res.headers['content-security-policy'], path).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
    for (const method of ['post', 'put', 'delete'] as const) {
      expect((await api[method]('/numbers')).body.error.message, method).toBe('fell through');
    }
  });

  it('says how to build the console when it is missing', async () => {
    const bare = appWith(join(temp('console-none-'), 'console'));
    const res = await bare.get('/numbers');
    expect(res.status).toBe(503);
    expect(res.text).toContain('npm run build');
    expect((await bare.get('/api/teams')).body.error.message).toBe('fell through');
  });
});

describe('the gateway with the console mounted', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  it('keeps /api, /healthz, /readyz and /metrics exactly as they were, for browsers too', async () => {
    const html = { Accept: 'text/html,application/xhtml+xml' };
    const teams = await t.api.get('/api/teams').set(t.admin).set(html);
    expect(teams.status).toBe(200);
    expect(teams.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(teams.headers['cache-control']).toBe('no-store');
    const unknown = await t.api.get('/api/no-such-route').set(t.admin).set(html);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await t.api.get('/api/teams').set(html)).status).toBe(401);
    expect((await t.api.get('/healthz').set(html)).body).toEqual({ status: 'ok' });
    expect((await t.api.get('/readyz').set(html)).body.status).toBe('ready');
    expect((await t.api.get('/metrics').set(html)).text).toContain('# HELP');
  });
});
