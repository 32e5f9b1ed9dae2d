/**
 * The web console in a real browser (Debian's Chromium, playwright-core)
 * against the real gateway process (`node dist/src/main.js`, real SQLite, the
 * simulated carrier): a newcomer's whole journey by the visible labels, the
 * free plan, double clicks, a wrong token, keyboard-only use, network
 * failures. Every page is checked with axe-core, every request must stay on
 * loopback, and the page must run under the console's CSP without a violation.
 */
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, killGateways, removeTempDirs, spawnGateway, tempDir, until, type Gateway } from '../e2e/server.js';
import { accountSid, callSid, prepareTwilio, TWILIO_TOKEN, voiceParams } from '../helpers/carrier.js';
import { ensureConsoleBuilt, expectAccessible, launchBrowser, pageCspViolations, screenshot, watchedPage, type Watched } from './browser.js';

const ADMIN = 'sb_admin_console_test_0123456789';

let browser: Browser;
const pages: Watched[] = [];
const gateways: Gateway[] = [];

beforeAll(async () => {
  await ensureConsoleBuilt();
  browser = await launchBrowser();
}, 180_000);
afterEach(async (ctx) => {
  // A failure leaves what the page showed, the requests it made, and the gateway's last words.
  if (ctx.task.result?.state === 'fail') {
    for (const w of pages) {
      const shot = await screenshot(w.page, `failed-${Date.now()}`).catch(() => 'none');
      const text = await w.page
        .locator('body')
        .innerText()
        .catch(() => '');
      console.error(`page at ${w.page.url()} (screenshot ${shot}):\n${text.slice(0, 3000)}\nlast requests:\n${w.requests.slice(-15).join('\n')}`);
    }
    for (const g of gateways) console.error(`gateway ${g.base} stdout (tail):\n${g.stdout().slice(-4000)}\nstderr:\n${g.stderr().slice(-2000)}`);
  }
  gateways.splice(0);
  for (const w of pages.splice(0)) await w.context.close().catch(() => {});
  killGateways();
});
afterAll(async () => {
  await browser?.close();
  removeTempDirs();
});

/** A fresh gateway: its own database, a known admin token, Twilio signing on, purchases visible as `purchasing` for a while. */
async function gateway(env: Record<string, string> = {}): Promise<Gateway> {
  const dir = tempDir('console-it-');
  const g = await spawnGateway({
    SWITCHBOARD_ADMIN_TOKEN: ADMIN,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    SWITCHBOARD_DB: join(dir, 'switchboard.db'),
    SIM_PROVISION_MS: '3000',
    ...env,
  });
  gateways.push(g);
  await g.waitListening();
  return g;
}

async function open(g: Gateway): Promise<Watched> {
  const w = await watchedPage(browser, g.base);
  pages.push(w);
  return w;
}

async function signIn(page: Page, base: string, token: string, path = '/'): Promise<void> {
  await page.goto(base + path);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** A team through the API (the journey test creates its own through the console). */
async function apiTeam(g: Gateway, slug: string, plan = 'starter'): Promise<{ id: string; slug: string; token: string }> {
  const r = await api(g.base, ADMIN, 'POST', '/api/teams', { name: slug, slug, plan });
  expect(r.status, r.text).toBe(201);
  return { id: r.body.team.id, slug, token: r.body.token };
}

/** The number as the console writes it for people ("+1 415 207 2819"), whatever the spacing. */
const humanPattern = (e164: string) => new RegExp('\\+' + e164.slice(1).split('').join('\\s?'));

const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
const row = (scope: Page | Locator, text: string) => scope.getByRole('row').filter({ hasText: text });

/** Search US local numbers in area code 415 in the open Get Phone Number dialog; returns the dialog. */
async function search415(page: Page): Promise<Locator> {
  await page.getByRole('button', { name: 'Buy Number' }).click();
  const dialog = page.getByRole('dialog', { name: 'Get Phone Number' });
  await dialog.waitFor();
  await dialog.getByLabel('Country').selectOption('US');
  await dialog.getByLabel('Local Number (Geographic)').check();
  await dialog.getByLabel('Area code').fill('415');
  await dialog.getByRole('button', { name: 'Search Numbers' }).click();
  await dialog.getByRole('heading', { name: /numbers? available/ }).waitFor();
  return dialog;
}

/** The E.164 number of the first search result. */
const firstResult = async (dialog: Locator) => (await dialog.locator('tbody tr').first().locator('.mono').textContent())!.trim();

async function signedCall(g: Gateway, to: string) {
  const sid = callSid();
  const req = prepareTwilio(g.base, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: to, From: '+12125550123' }));
  const res = await fetch(g.base + req.path, { method: 'POST', headers: req.headers, body: req.body });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(text).toContain('<Connect');
  return sid;
}

async function callStatus(g: Gateway, sid: string, status: string, duration: string) {
  const params = { AccountSid: accountSid, ApiVersion: '2010-04-01', CallSid: sid, CallStatus: status, CallDuration: duration, SequenceNumber: '3' };
  const req = prepareTwilio(g.base, '/carriers/twilio/status', params);
  const res = await fetch(g.base + req.path, { method: 'POST', headers: req.headers, body: req.body });
  expect(res.status, await res.text()).toBeLessThan(300);
}

describe('the console', () => {
  it('serves the whole journey: sign in, create a team and assistants, buy, assign, move, take a call, unassign, release', async () => {
    const g = await gateway();
    const w = await open(g);
    const { page } = w;

    // ---------------------------------------------------------------- sign in (admin)
    await page.goto(g.base + '/');
    await heading(page, 'Sign in');
    await expectAccessible(page, 'sign-in');
    await screenshot(page, 'sign-in');
    await page.getByLabel('API token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // No team yet: the admin lands on Teams.
    await heading(page, 'Teams');
    expect(new URL(page.url()).pathname).toBe('/teams');
    await page.getByText('Admin', { exact: true }).waitFor();

    // ---------------------------------------------------------------- create a team; its token is shown once
    await page.getByRole('button', { name: 'Create Team' }).click();
    const create = page.getByRole('dialog', { name: 'Create team' });
    await create.getByLabel('Team name').fill('Acme Voice');
    expect(await create.getByLabel('Slug').inputValue()).toBe('acme-voice');
    await create.getByLabel('Plan').selectOption('starter');
    await expectAccessible(page, 'create team dialog');
    await create.getByRole('button', { name: 'Create', exact: true }).click();
    const teamToken = await create.getByLabel('Team token').inputValue();
    expect(teamToken.length).toBeGreaterThan(16);
    await create.getByRole('button', { name: 'Copy' }).waitFor();
    await screenshot(page, 'team-created');
    const teams = await api(g.base, teamToken, 'GET', '/api/teams');
    expect(teams.status).toBe(200);
    expect(teams.body.teams.map((t: { slug: string }) => t.slug)).toEqual(['acme-voice']);
    const teamId: string = teams.body.teams[0].id;
    await create.getByRole('button', { name: 'Done' }).click();
    await row(page, 'acme-voice').getByText('starter').waitFor();
    expect(await page.getByLabel('Team', { exact: true }).inputValue()).toBe(teamId);
    await expectAccessible(page, 'teams');
    await screenshot(page, 'teams');

    // ---------------------------------------------------------------- assistants: the API's message for bad input, then two assistants
    await nav(page, 'Assistants');
    await heading(page, 'Assistants');
    await page.getByText('No assistants yet').waitFor();
    const addAssistant = async (name: string) => {
      await page.getByRole('button', { name: 'Create Assistant' }).click();
      const d = page.getByRole('dialog', { name: 'Create assistant' });
      await d.getByLabel('Name').fill(name);
      await d.getByLabel('Media URL').fill('https://agent.example.com/stream');
      await d.getByRole('button', { name: 'Create', exact: true }).click();
      // The server's own words, not a generic failure.
      await d.getByRole('alert').getByText('mediaUrl: must be a ws:// or wss:// URL').waitFor();
      await d.getByLabel('Media URL').fill(`wss://agent.example.com/${name.toLowerCase()}`);
      await d.getByRole('button', { name: 'Create', exact: true }).click();
      await heading(page, name);
      return new URL(page.url()).pathname.split('/').pop()!;
    };
    const ava = await addAssistant('Ava');
    await nav(page, 'Assistants');
    const bo = await addAssistant('Bo');
    await nav(page, 'Assistants');
    await row(page, 'wss://agent.example.com/bo').waitFor();
    await expectAccessible(page, 'assistants');
    await screenshot(page, 'assistants');

    // ---------------------------------------------------------------- Phone Numbers: empty, then Buy Number
    await nav(page, 'Phone Numbers');
    await heading(page, 'Phone Numbers');
    await page.getByText('No phone numbers yet').waitFor();
    await expectAccessible(page, 'numbers (empty)');
    await page.getByRole('button', { name: 'Buy Number' }).click();
    const dialog = page.getByRole('dialog', { name: 'Get Phone Number' });
    await dialog.waitFor();
    // Fields that do not apply are hidden: area code, state and city for local, prefix for toll-free.
    expect(await dialog.getByLabel('Local Number (Geographic)').isChecked()).toBe(true);
    expect(await dialog.getByLabel('Country').inputValue()).toBe('US');
    const countries = await dialog
      .getByLabel('Country')
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(countries.sort()).toEqual(['AE', 'AT', 'CA', 'CH', 'DE', 'US']);
    await dialog.getByLabel('Toll-Free').check();
    await dialog.getByLabel('Prefix').waitFor();
    expect(await dialog.getByLabel('Area code').count()).toBe(0);
    expect(await dialog.getByLabel('City').count()).toBe(0);
    await dialog.getByLabel('Prefix').fill('888');
    await dialog.getByRole('button', { name: 'Search Numbers' }).click();
    await dialog.getByRole('heading', { name: /numbers? available/ }).waitFor();
    for (const cell of await dialog.locator('tbody tr .mono').allTextContents()) expect(cell).toMatch(/^\+1888/);
    await dialog.getByLabel('Local Number (Geographic)').check();
    expect(await dialog.getByLabel('Prefix').count()).toBe(0);
    // Area codes follow the country: Berlin is 30 (two digits, no trunk 0), not a NANP 3-digit code.
    await dialog.getByLabel('Country').selectOption('DE');
    await dialog.getByLabel('Area code').fill('30');
    await dialog.getByRole('button', { name: 'Search Numbers' }).click();
    await dialog.locator('tbody tr .mono', { hasText: /^\+49/ }).first().waitFor();
    for (const cell of await dialog.locator('tbody tr .mono').allTextContents()) expect(cell).toMatch(/^\+4930\d+$/);
    await dialog.getByLabel('Country').selectOption('US');
    // Nothing matches: say how to broaden the search.
    await dialog.getByLabel('Area code').fill('415');
    await dialog.getByLabel('City').fill('Nowhere At All');
    await dialog.getByRole('button', { name: 'Search Numbers' }).click();
    await dialog.getByText('Try broadening the search').waitFor();
    await dialog.getByLabel('City').fill('');
    await dialog.getByRole('button', { name: 'Search Numbers' }).click();
    await dialog.getByRole('heading', { name: /numbers? available/ }).waitFor();
    const results = dialog.locator('tbody tr');
    expect(await results.count()).toBeGreaterThan(0);
    expect(await results.count()).toBeLessThanOrEqual(20);
    for (const cell of await dialog.locator('tbody tr .mono').allTextContents()) expect(cell).toMatch(/^\+1415\d{7}$/);
    expect(await dialog.getByRole('button', { name: 'Buy', exact: true }).count()).toBe(await results.count());
    await expectAccessible(page, 'Get Phone Number with results');
    await screenshot(page, 'buy-number');

    const e164 = await firstResult(dialog);
    await row(dialog, e164).getByRole('button', { name: 'Buy', exact: true }).click();
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();
    expect(await row(dialog, e164).count()).toBe(0); // it left the results
    await screenshot(page, 'buy-number-bought');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // purchasing, then active, without a reload.
    const numberRow = row(page, e164);
    await numberRow.getByText('purchasing', { exact: true }).waitFor();
    await screenshot(page, 'numbers-purchasing');
    await numberRow.getByText('active', { exact: true }).waitFor({ timeout: 15_000 });
    await expectAccessible(page, 'numbers');
    await screenshot(page, 'numbers');
    const listed = await api(g.base, teamToken, 'GET', '/api/phone-numbers');
    expect(listed.body.phoneNumbers.map((n: { phoneNumber: string; status: string }) => [n.phoneNumber, n.status])).toEqual([[e164, 'active']]);
    const numberId: string = listed.body.phoneNumbers[0].id;

    // ---------------------------------------------------------------- Telephony: assign to Ava
    const telephony = async (name: string) => {
      await nav(page, 'Assistants');
      await page.getByRole('link', { name, exact: true }).click();
      await heading(page, name);
      const section = page.getByRole('region', { name: 'Telephony' });
      await section.getByRole('group', { name: 'Phone Numbers' }).waitFor();
      return section;
    };
    let section = await telephony('Ava');
    const box = () => section.getByRole('checkbox', { name: humanPattern(e164) });
    await box().check();
    await section.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('go to Ava now').waitFor();
    expect((await api(g.base, teamToken, 'GET', `/api/assistants/${ava}`)).body.assistant.phoneNumberIds).toEqual([numberId]);
    await expectAccessible(page, 'assistant settings');
    await screenshot(page, 'assistant-telephony');

    // ---------------------------------------------------------------- moving it to Bo says what happens
    section = await telephony('Bo');
    await box().check();
    await section.getByText('is assigned to Ava. Saving moves it to Bo; calls in progress stay on Ava until they end.').waitFor();
    await screenshot(page, 'assistant-move');
    await section.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('go to Bo now').waitFor();
    expect((await api(g.base, teamToken, 'GET', `/api/assistants/${bo}`)).body.assistant.phoneNumberIds).toEqual([numberId]);
    expect((await api(g.base, teamToken, 'GET', `/api/assistants/${ava}`)).body.assistant.phoneNumberIds).toEqual([]);

    // ---------------------------------------------------------------- a signed call arrives and shows in Calls
    const sid = await signedCall(g, e164);
    await nav(page, 'Calls');
    await heading(page, 'Calls');
    const callRow = page.getByRole('row').filter({ hasText: '+12125550123' });
    await callRow.getByText('Live', { exact: true }).waitFor();
    await callRow.getByText('routed', { exact: true }).waitFor();
    expect(await callRow.getByRole('cell', { name: 'Bo', exact: true }).count()).toBe(1);
    await expectAccessible(page, 'calls');
    await screenshot(page, 'calls');
    await callStatus(g, sid, 'completed', '42');
    await callRow.getByText('completed', { exact: true }).waitFor({ timeout: 10_000 });
    await callRow.getByText('42 s').waitFor();
    expect(await callRow.getByText('Live', { exact: true }).count()).toBe(0);

    // ---------------------------------------------------------------- unassign
    section = await telephony('Bo');
    await box().uncheck();
    await section.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('Bo has no phone numbers now').waitFor();
    const after = await api(g.base, teamToken, 'GET', `/api/phone-numbers/${numberId}`);
    expect(after.body.phoneNumber.assistantId).toBeNull();

    // ---------------------------------------------------------------- release, with confirmation
    await nav(page, 'Phone Numbers');
    await row(page, e164)
      .getByRole('button', { name: /^Release/ })
      .click();
    const confirm = page.getByRole('dialog', { name: 'Release this number?' });
    await confirm.waitFor();
    await expectAccessible(page, 'release confirmation');
    await confirm.getByRole('button', { name: 'Release number' }).click();
    await page.getByText('was released').waitFor();
    await row(page, e164).waitFor({ state: 'detached' }); // released history is hidden by default
    await page.getByLabel(/Show released numbers/).check();
    await row(page, e164).getByText('released', { exact: true }).waitFor();
    expect((await api(g.base, teamToken, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status).toBe('released');

    // ---------------------------------------------------------------- what the browser did
    expect(await pageCspViolations(page)).toEqual([]);
    w.expectClean();
    w.expectLoopbackOnly();
    for (const u of w.requests) expect(u).not.toContain(ADMIN);
    expect(page.url()).not.toContain(ADMIN);
    // The token is in this tab's session storage only.
    expect(await page.evaluate('sessionStorage.getItem("switchboard.token")')).toBe(ADMIN);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect((await w.context.cookies()).length).toBe(0);
  }, 180_000);

  it('free plan: a team member sees the trial terms, the time left, and the plan-limit message from the server', async () => {
    const g = await gateway({ SIM_PROVISION_MS: '200' });
    const team = await apiTeam(g, 'trial-co', 'free');
    const w = await open(g);
    const { page } = w;
    await signIn(page, g.base, team.token);
    await heading(page, 'Phone Numbers');
    // A team token: no team switcher, no Teams page, no admin badge.
    expect(await page.getByLabel('Team', { exact: true }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Teams' }).count()).toBe(0);
    expect(await page.getByText('Admin', { exact: true }).count()).toBe(0);

    const dialog = await search415(page);
    await dialog.getByText('a number is a free trial: no charge, and it expires after 5 days').waitFor();
    const e164 = await firstResult(dialog);
    await row(dialog, e164).getByRole('button', { name: 'Buy', exact: true }).click();
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();

    // A second number is over the free plan's limit: the server's message, and what to do.
    const second = await firstResult(dialog);
    await row(dialog, second).getByRole('button', { name: 'Buy', exact: true }).click();
    const alert = dialog.getByRole('alert');
    await alert.getByText(/free plan allows 1 number/i).waitFor();
    await alert.getByText(/upgrade the team's plan or release a number/).waitFor();
    await expectAccessible(page, 'plan limit');
    await screenshot(page, 'plan-limit');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    const trialRow = row(page, e164);
    await trialRow.getByText('active', { exact: true }).waitFor({ timeout: 10_000 });
    await trialRow.getByText('Free trial').waitFor();
    await trialRow.getByText(/^(4 days 23 hours|5 days 0 hours) left$/).waitFor();
    const held = await api(g.base, team.token, 'GET', '/api/phone-numbers');
    expect(held.body.phoneNumbers).toHaveLength(1);
    expect(held.body.phoneNumbers[0].trial).toBe(true);

    // ---------------------------------------------------------------- tokens: create (shown once), list and revoke where the gateway can
    await nav(page, 'API Tokens');
    await heading(page, 'API Tokens');
    await page.getByLabel('Token name').fill('dialer');
    await page.getByRole('button', { name: 'Create Token' }).click();
    const fresh = await page.getByLabel('New token').inputValue();
    expect((await api(g.base, fresh, 'GET', '/api/phone-numbers')).status).toBe(200);
    await page.getByRole('heading', { name: 'Active tokens' }).waitFor();
    const revoke = row(page, 'dialer').getByRole('button', { name: /^Revoke/ });
    if (await revoke.count()) {
      await revoke.click();
      await page.getByRole('dialog', { name: 'Revoke this token?' }).getByRole('button', { name: 'Revoke token' }).click();
      await page.getByText('dialer is revoked').waitFor();
      expect((await api(g.base, fresh, 'GET', '/api/phone-numbers')).status).toBe(401);
    } else {
      await page.getByText('does not list tokens yet').waitFor();
    }
    await expectAccessible(page, 'tokens');
    await screenshot(page, 'tokens');
    w.expectClean();
    w.expectLoopbackOnly();
  }, 120_000);

  it('admin actions: switch teams, change a plan (the trial becomes permanent), suspend and reactivate, edit an assistant, page through calls', async () => {
    const g = await gateway({ SIM_PROVISION_MS: '0' });
    const trial = await apiTeam(g, 'trial-team', 'free');
    const other = await apiTeam(g, 'other-team', 'pro');
    const found = await api(g.base, trial.token, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', areaCode: '212', limit: 1 } });
    const e164: string = found.body.numbers[0].phoneNumber;
    const bought = await api(g.base, trial.token, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164 });
    expect(bought.status, bought.text).toBe(201);
    const numberId: string = bought.body.phoneNumber.id;
    const a = await api(g.base, trial.token, 'POST', '/api/assistants', { name: 'Ana', mediaUrl: 'wss://agent.example.com/ana' });
    await until(
      async () => (await api(g.base, trial.token, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status === 'active',
      'the number to be active',
    );
    const assigned = await api(g.base, trial.token, 'PATCH', `/api/assistants/${a.body.assistant.id}/telephony/phone-numbers`, {
      accountSlug: trial.slug,
      phoneNumberIds: [numberId],
    });
    expect(assigned.status, assigned.text).toBe(200);

    const w = await open(g);
    const { page } = w;
    await signIn(page, g.base, ADMIN, '/numbers');
    // The switcher picks a team; each page shows that team's data.
    await page.getByLabel('Team', { exact: true }).selectOption(other.id);
    await page.getByText('No phone numbers yet').waitFor();
    await page.getByLabel('Team', { exact: true }).selectOption(trial.id);
    const r = row(page, e164);
    await r.getByText('Free trial').waitFor();

    // Suspend and reactivate.
    await r.getByRole('button', { name: /^Suspend/ }).click();
    await r.getByText('suspended', { exact: true }).waitFor();
    await r.getByText('Suspended by the admin: calls are rejected.').waitFor();
    expect((await api(g.base, ADMIN, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status).toBe('suspended');
    await screenshot(page, 'numbers-suspended');
    await r.getByRole('button', { name: /^Reactivate/ }).click();
    await r.getByText('active', { exact: true }).waitFor();

    // Change the plan: leaving free makes the trial number permanent.
    await nav(page, 'Teams');
    await row(page, 'trial-team')
      .getByRole('button', { name: /^Change plan/ })
      .click();
    const planDialog = page.getByRole('dialog', { name: 'Change the plan of trial-team' });
    await planDialog.getByText("Leaving the free plan makes the team's trial number permanent.").waitFor({ state: 'detached' });
    await planDialog.getByLabel(/^Starter/).check();
    await planDialog.getByText("Leaving the free plan makes the team's trial number permanent.").waitFor();
    await expectAccessible(page, 'change plan');
    await planDialog.getByRole('button', { name: 'Change plan' }).click();
    await page.getByText('trial-team is on the starter plan now.').waitFor();
    await row(page, 'trial-team').getByText('starter').waitFor();
    await nav(page, 'Phone Numbers');
    await row(page, e164).getByText('$1.15').waitFor();
    expect((await api(g.base, ADMIN, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber).toMatchObject({ trial: false, expiresAt: null });

    // Edit an assistant.
    await nav(page, 'Assistants');
    await page.getByRole('link', { name: 'Ana', exact: true }).click();
    await heading(page, 'Ana');
    await page.getByLabel('Name').fill('Ana Front Desk');
    await page.getByLabel('Media URL').fill('wss://agent.example.com/front-desk');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await heading(page, 'Ana Front Desk');
    expect((await api(g.base, ADMIN, 'GET', `/api/assistants/${a.body.assistant.id}`)).body.assistant).toMatchObject({
      name: 'Ana Front Desk',
      mediaUrl: 'wss://agent.example.com/front-desk',
    });

    // Calls come newest first, 25 a page.
    for (let i = 0; i < 30; i++) {
      const sid = callSid();
      const req = prepareTwilio(g.base, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: e164, From: `+1202555${String(1000 + i)}` }));
      const res = await fetch(g.base + req.path, { method: 'POST', headers: req.headers, body: req.body });
      expect(res.status).toBe(200);
    }
    await nav(page, 'Calls');
    const body = page.locator('tbody tr');
    await page.getByRole('row').filter({ hasText: '+12025551029' }).waitFor();
    expect(await body.count()).toBe(25);
    expect(await body.first().innerText()).toContain('+12025551029'); // the last call made is first
    await page.getByRole('button', { name: 'Older' }).click();
    await page.getByText('Page 2', { exact: true }).waitFor();
    expect(await body.count()).toBe(5);
    expect(await body.last().innerText()).toContain('+12025551000');
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Newer' }).click();
    await page.getByText('Page 1', { exact: true }).waitFor();
    await page.getByRole('row').filter({ hasText: '+12025551029' }).waitFor();
    expect(await body.count()).toBe(25);
    w.expectClean();
    w.expectLoopbackOnly();
  }, 120_000);

  it('two quick clicks on Buy buy one number, and a retry after a lost answer buys nothing more: one Idempotency-Key per number', async () => {
    const g = await gateway({ SIM_PROVISION_MS: '200' });
    const team = await apiTeam(g, 'double', 'starter');
    const w = await open(g);
    const { page } = w;
    const purchases: Array<string | undefined> = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/phone-numbers/purchase') purchases.push(r.headers()['idempotency-key']);
    });
    await signIn(page, g.base, team.token);
    const dialog = await search415(page);
    const e164 = await firstResult(dialog);
    await row(dialog, e164).getByRole('button', { name: 'Buy', exact: true }).dblclick();
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();
    const held = await api(g.base, team.token, 'GET', '/api/phone-numbers');
    expect(held.body.phoneNumbers.map((n: { phoneNumber: string }) => n.phoneNumber)).toEqual([e164]);
    expect(purchases.length).toBeGreaterThanOrEqual(1);
    expect(new Set(purchases).size).toBe(1);
    expect(purchases[0]).toMatch(/^console-[0-9a-f]{32}$/);

    // The order reaches the gateway but the answer is lost: Retry sends the same key, and the gateway replays its answer.
    const isPurchase = (u: URL) => u.pathname === '/api/phone-numbers/purchase';
    let replayed: string | null = null;
    page.on('response', (r) => {
      if (isPurchase(new URL(r.url()))) replayed = r.headers()['idempotent-replayed'] ?? null;
    });
    await page.route(
      isPurchase,
      async (route) => {
        await route.fetch(); // the real request, to the real gateway
        await route.abort('connectionreset');
      },
      { times: 1 },
    );
    const next = await firstResult(dialog);
    await row(dialog, next).getByRole('button', { name: 'Buy', exact: true }).click();
    const lost = dialog.getByRole('alert').filter({ hasText: 'Network error.' });
    await lost.waitFor();
    await lost.getByRole('button', { name: 'Retry' }).click();
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();
    expect(replayed).toBe('true');
    const after = await api(g.base, team.token, 'GET', '/api/phone-numbers');
    expect(after.body.phoneNumbers.map((n: { phoneNumber: string }) => n.phoneNumber).sort()).toEqual([e164, next].sort());
    expect(purchases.slice(-2)[0]).toBe(purchases.slice(-1)[0]);
    expect(purchases.slice(-1)[0]).not.toBe(purchases[0]);
    w.expectClean();
    w.expectLoopbackOnly();
  }, 90_000);

  it('a purchase stuck past the provisioning timeout shows `error`, what happened and what to do', async () => {
    // The carrier never confirms within the timeout: the gateway fails the order.
    const g = await gateway({ SIM_PROVISION_MS: '120000', SWITCHBOARD_PROVISION_TIMEOUT_MS: '1500', SWITCHBOARD_SWEEP_MS: '200' });
    const team = await apiTeam(g, 'stuck', 'starter');
    const w = await open(g);
    const { page } = w;
    await signIn(page, g.base, team.token);
    const dialog = await search415(page);
    const e164 = await firstResult(dialog);
    await row(dialog, e164).getByRole('button', { name: 'Buy', exact: true }).click();
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();
    const r = row(page, e164);
    await r.getByText('purchasing', { exact: true }).waitFor();
    await r.getByText('error', { exact: true }).waitFor({ timeout: 15_000 });
    await r.getByText('The carrier did not confirm the order within the provisioning timeout.').waitFor();
    await r.getByText(/Nothing is charged.*Buy Number again/).waitFor();
    await page.getByText('starter plan · 0 of 5 numbers').waitFor(); // a failed order does not count against the plan
    await expectAccessible(page, 'numbers with a failed purchase');
    await screenshot(page, 'numbers-error');
    const n = (await api(g.base, team.token, 'GET', '/api/phone-numbers')).body.phoneNumbers[0];
    expect([n.status, n.failureReason]).toEqual(['error', 'provisioning_timeout']);
    w.expectClean();
    w.expectLoopbackOnly();
  }, 60_000);

  it('a wrong token gets a clear sign-in error and is not kept', async () => {
    const g = await gateway();
    const w = await open(g);
    const { page } = w;
    await page.goto(g.base + '/numbers');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').getByText('Enter your API token.').waitFor();
    await page.getByLabel('API token').fill('sb_team_this_is_not_a_real_token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('Sign-in failed.').waitFor();
    await alert.getByText('The bearer token is not valid.').waitFor();
    expect(await page.getByLabel('API token').getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'sign-in error');
    await screenshot(page, 'sign-in-error');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(page.url()).toBe(g.base + '/numbers');
    // The right token then opens the page asked for.
    await page.getByLabel('API token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'No team yet' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/numbers');
    w.expectClean();
    w.expectLoopbackOnly();
  }, 60_000);

  it('works with the keyboard alone: sign in, buy a number, assign it, sign out', async () => {
    const g = await gateway({ SIM_PROVISION_MS: '200' });
    const team = await apiTeam(g, 'keys', 'starter');
    const assistant = await api(g.base, team.token, 'POST', '/api/assistants', { name: 'Kay', mediaUrl: 'wss://agent.example.com/kay' });
    expect(assistant.status).toBe(201);
    const w = await open(g);
    const { page } = w;
    const kb = page.keyboard;

    await page.goto(g.base + '/');
    // The token field has the focus on arrival.
    await expectFocus(page, /API token/);
    await kb.type(team.token);
    await kb.press('Enter');
    await heading(page, 'Phone Numbers');

    await tabTo(page, /^Buy Number$/);
    await kb.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Get Phone Number' });
    await dialog.waitFor();
    await expectFocus(page, /Local Number \(Geographic\)/);
    await tabTo(page, /^Area code/);
    await kb.type('415');
    await kb.press('Enter'); // submits the search
    await dialog.getByRole('heading', { name: /numbers? available/ }).waitFor();
    const e164 = await firstResult(dialog);
    await tabTo(page, /^Buy$/);
    await kb.press('Enter');
    await dialog.getByRole('status').filter({ hasText: 'is yours' }).waitFor();
    await kb.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expectFocus(page, /^Buy Number$/); // focus comes back to what opened the dialog
    await row(page, e164).getByText('active', { exact: true }).waitFor({ timeout: 10_000 });

    await tabTo(page, /^Assistants$/, { backwards: true });
    await kb.press('Enter');
    await heading(page, 'Assistants');
    await expectFocus(page, /^Assistants$/);
    expect(await page.evaluate('document.activeElement.tagName')).toBe('H1'); // the new page's heading, as after a page load
    await tabTo(page, /^Kay$/);
    await kb.press('Enter');
    await heading(page, 'Kay');
    await page.getByRole('group', { name: 'Phone Numbers' }).waitFor();
    await tabTo(page, humanPattern(e164));
    await kb.press('Space');
    await tabTo(page, /^Save$/);
    await kb.press('Enter');
    await page.getByText('go to Kay now').waitFor();
    expect((await api(g.base, team.token, 'GET', `/api/assistants/${assistant.body.assistant.id}`)).body.assistant.phoneNumberIds).toHaveLength(1);

    await tabTo(page, /^Sign out$/, { backwards: true });
    await kb.press('Enter');
    await heading(page, 'Sign in');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    w.expectClean();
    w.expectLoopbackOnly();
  }, 120_000);

  it('says so when the network fails, offers Retry, and recovers', async () => {
    const g = await gateway();
    await apiTeam(g, 'netfail', 'starter');
    const w = await open(g);
    const { page } = w;
    await signIn(page, g.base, ADMIN, '/assistants');
    await heading(page, 'Assistants');

    // The listing request fails at the network level.
    const listing = (u: URL) => u.pathname === '/api/phone-numbers';
    await page.route(listing, (r) => r.abort('connectionrefused'));
    await nav(page, 'Phone Numbers');
    const alert = page.getByRole('alert').filter({ hasText: 'Network error.' });
    await alert.getByText('could not reach the gateway').waitFor();
    await expectAccessible(page, 'network error');
    await screenshot(page, 'network-error');
    await page.unroute(listing);
    await alert.getByRole('button', { name: 'Retry' }).click();
    await page.getByText('No phone numbers yet').waitFor();
    expect(await alert.count()).toBe(0);

    // The gateway goes away for real: the next page says so instead of going blank.
    await g.stop('SIGKILL');
    await nav(page, 'Calls');
    await page.getByRole('alert').filter({ hasText: 'Network error.' }).getByRole('button', { name: 'Retry' }).waitFor();
    expect(await page.locator('#root').innerText()).toContain('Calls');
    w.expectClean();
    w.expectLoopbackOnly();
  }, 60_000);

  it('answers deep links and unknown pages inside the console, under its CSP', async () => {
    const g = await gateway();
    const w = await open(g);
    const { page } = w;
    const res = await page.goto(g.base + '/calls');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res?.headers()['cache-control']).toBe('no-cache');
    await signIn(page, g.base, ADMIN, '/no-such-page');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.getByRole('link', { name: 'Go to Phone Numbers' }).click();
    await page.getByRole('heading', { name: 'No team yet' }).waitFor();
    // The API next to it is untouched.
    const health = await fetch(g.base + '/healthz');
    expect(health.status).toBe(200);
    expect(await pageCspViolations(page)).toEqual([]);
    w.expectClean();
    w.expectLoopbackOnly();
  }, 60_000);
});

// ------------------------------------------------------------------ keyboard helpers

/** What a screen reader would roughly call the focused element. */
async function focusedName(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return '';
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
    return (el.textContent || '').trim();
  })()`);
}

async function expectFocus(page: Page, name: RegExp): Promise<void> {
  const end = Date.now() + 3000;
  let last = '';
  while (Date.now() < end) {
    last = await focusedName(page);
    if (name.test(last)) return;
    await page.waitForTimeout(50);
  }
  throw new Error(`focus is on "${last}", not ${name}`);
}

/** Presses Tab (or Shift+Tab) until the focused element's name matches; fails after 60 presses. */
async function tabTo(page: Page, name: RegExp, { backwards = false } = {}): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const now = await focusedName(page);
    if (name.test(now)) return;
    seen.push(now);
  }
  throw new Error(`Tab never reached ${name}; went through: ${seen.join(' | ')}`);
}
