/**
 * The browser side of the console tests: Debian's Chromium driven by
 * playwright-core (no browser download), every request recorded so a test can
 * prove the page talked to nothing but the gateway on loopback, Content
 * Security Policy violations collected, and axe-core run inside the page.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ensureBuilt, ROOT, tempDir } from '../e2e/server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** interop.md: root needs --no-sandbox; the rest keep Chromium off the network at start-up. */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

/** Playwright gives every launch a new, empty profile in a temporary folder. */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: apt-get install chromium (the .ci/run integration tier does).`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

// ------------------------------------------------------------------ build

function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** The server (ensureBuilt) and the console: `npm run build` when dist/console is older than console/. */
export async function ensureConsoleBuilt(timeoutMs = 120_000): Promise<void> {
  await ensureBuilt({ timeoutMs });
  const index = join(ROOT, 'dist', 'console', 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  if (!built || newest(join(ROOT, 'console')) > built) {
    await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: timeoutMs });
  }
  if (!existsSync(index)) throw new Error(`no ${index} after the build`);
}

// ------------------------------------------------------------------ a watched page

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for, in order. */
  requests: string[];
  /** CSP violations reported by the page or logged by Chromium. */
  cspViolations: string[];
  /** Uncaught errors in the page. */
  pageErrors: string[];
  /** Fails unless every request went to the gateway's origin (loopback). */
  expectLoopbackOnly(): void;
  /** Fails on any CSP violation or uncaught page error. */
  expectClean(): void;
}

/** A fresh context (no storage) and page, recording requests, CSP violations and page errors. */
export async function watchedPage(browser: Browser, base: string): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  // Runs before any page script, through the DevTools protocol (not subject to the page's CSP).
  await context.addInitScript({
    content: `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const origin = new URL(base).origin;
  return {
    context,
    page,
    requests,
    cspViolations,
    pageErrors,
    expectLoopbackOnly() {
      expect(requests.length).toBeGreaterThan(0);
      const elsewhere = requests.filter((u) => new URL(u).origin !== origin);
      expect(elsewhere, 'requests to anything but the gateway').toEqual([]);
      expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    },
    expectClean() {
      expect(cspViolations, 'CSP violations').toEqual([]);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    },
  };
}

/** CSP violations the page saw itself (securitypolicyviolation events). */
export async function pageCspViolations(page: Page): Promise<string[]> {
  return page.evaluate('window.__csp ?? []') as Promise<string[]>;
}

// ------------------------------------------------------------------ accessibility

const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/**
 * Runs axe-core in the page (evaluated over the DevTools protocol, so the
 * page's CSP does not need to allow it) and fails on serious or critical
 * violations, listing them.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  )) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`),
    `axe on ${what}`,
  ).toEqual([]);
}

// ------------------------------------------------------------------ screenshots

/**
 * docs/console/<name>.png when UPDATE_SCREENSHOTS=1 (the README shows them);
 * otherwise a temporary folder, so a test run leaves the work tree alone.
 */
const SHOT_DIR = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'console') : tempDir('console-shots-');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOT_DIR, { recursive: true });
  const path = join(SHOT_DIR, `${name}.png`);
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  return path;
}
