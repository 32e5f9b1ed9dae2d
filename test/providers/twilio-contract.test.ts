// Contract test: every request the Twilio provider sends, checked against
// Twilio's own OpenAPI descriptions (twilio_api_v2010.json and
// twilio_pricing_v1.json, from the npm package @twilio-alpha/mcp), served by
// Prism (@stoplight/prism-cli 5.14) as validating mocks on 127.0.0.1 (interop.md).
//
// Prism checks each request (path, query, form body, Basic auth) against the
// schema and answers 422 with the violations when it does not fit: any 422
// fails this file. The answers are Twilio's own examples, so the provider also
// reads answers shaped as the spec says. Error paths Prism can give: 401
// (a request without valid Basic auth) and `Prefer: code=404` (the spec
// defines no error answers, so Prism answers its own 404 "not defined",
// without a Twilio code, which the provider must read by status alone).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/providers/provider.js';
import { TwilioHttpClient, type IncomingAnswer } from '../../src/providers/twilio/http-client.js';
import { TwilioProvider } from '../../src/providers/twilio/twilio-provider.js';
import { refuseDns } from '../fakes/twilio-api.js';

const ROOT = join(import.meta.dirname, '../..');
const SPECS = join(ROOT, 'node_modules/@twilio-alpha/mcp/twilio-oai/spec/json');
const PRISM = join(ROOT, 'node_modules/@stoplight/prism-cli/dist/index.js');
const ACCOUNT_SID = 'AC' + 'ab'.repeat(16);
const AUTH_TOKEN = 'contract-test-token';
const PUBLIC_URL = 'https://gw.example.com';
/** The numbers in Twilio's own examples (Prism answers them). */
const EXAMPLE_AVAILABLE = '+18089251571';
const EXAMPLE_OWNED = '+18089255327';
const EXAMPLE_SID = 'PN' + 'a'.repeat(32);

interface Mock {
  url: string;
  child: ChildProcess;
  startedMs: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** `prism mock` on a spec; resolves once it says it listens. */
async function startPrism(spec: string): Promise<Mock> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [PRISM, 'mock', '-h', '127.0.0.1', '-p', String(port), join(SPECS, spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Gone with this worker even if afterAll never runs.
  process.once('exit', () => child.kill());
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString('utf8');
      if (out.includes('Prism is listening')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`prism exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
  // Keep reading: a full pipe would stall Prism.
  child.stdout!.resume();
  child.stderr!.resume();
  return { url: `http://127.0.0.1:${port}`, child, startedMs: Math.round(performance.now() - t0) };
}

let api: Mock;
let pricing: Mock;
let dnsGuard: ReturnType<typeof refuseDns>;
const answers: IncomingAnswer[] = [];
let prefer: string | null = null;
let omitAuth = false;

function provider(): TwilioProvider {
  return new TwilioProvider({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiUrl: api.url,
    pricingUrl: pricing.url,
    publicUrl: () => PUBLIC_URL,
    log: pino({ level: 'silent' }),
    requestTimeoutMs: 5000,
    httpHooks: {
      beforeRequest(req) {
        if (prefer) req.headers.Prefer = prefer;
        if (omitAuth) req.omitAuth = true;
      },
      afterResponse(res) {
        answers.push(res);
      },
    },
  });
}

/** What Prism refused as not matching Twilio's schema, with its reasons. */
function violations(): unknown[] {
  return answers.filter((a) => a.status === 422).map((a) => ({ request: `${a.method} ${a.uri}`, validation: (a.body as { validation?: unknown }).validation }));
}

const sent = () => answers.map((a) => `${a.method} ${new URL(a.uri).pathname.replace(ACCOUNT_SID, '{AC}')} → ${a.status}`);

beforeAll(async () => {
  dnsGuard = refuseDns();
  [api, pricing] = await Promise.all([startPrism('twilio_api_v2010.json'), startPrism('twilio_pricing_v1.json')]);
  console.info(`prism listening after ${api.startedMs} ms (api v2010), ${pricing.startedMs} ms (pricing v1)`);
}, 30_000);

afterEach(() => {
  const refused = violations();
  answers.length = 0;
  prefer = null;
  omitAuth = false;
  // Every request of every test fits Twilio's schema.
  expect(refused).toEqual([]);
});

afterAll(() => {
  api?.child.kill();
  pricing?.child.kill();
  dnsGuard.restore();
  expect(dnsGuard.asked).toEqual([]);
});

describe('Prism is a real check here', () => {
  it('a request that breaks the schema gets 422 (an AreaCode that is not an integer)', async () => {
    const c = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: new TwilioHttpClient({ apiBase: new URL(api.url), pricingBase: null, timeoutMs: 5000 }) });
    const err = await c.api.v2010.account
      .availablePhoneNumbers('US')
      .local.page({ areaCode: 'abc' as unknown as number })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422 });
  });
});

describe("every request the provider sends fits Twilio's OpenAPI description", () => {
  it('search, local: AreaCode, InRegion, InLocality, VoiceEnabled, PageSize; priced by the Pricing API', async () => {
    const found = await provider().search({ countryCode: 'US', numberType: 'local', areaCode: '808', region: 'HI', city: 'Hilo', limit: 5 });
    expect(found).toEqual([
      { e164: EXAMPLE_AVAILABLE, countryCode: 'US', numberType: 'local', areaCode: '808', city: 'Hilo', region: 'HI', monthlyCost: 100, currency: 'USD' },
    ]);
    expect(sent().sort()).toEqual(['GET /2010-04-01/Accounts/{AC}/AvailablePhoneNumbers/US/Local.json → 200', 'GET /v1/PhoneNumbers/Countries/US → 200']);
  });

  it('search, local outside North America (area code as Contains)', async () => {
    await provider().search({ countryCode: 'DE', numberType: 'local', areaCode: '211', limit: 5 });
    expect(sent()).toContain('GET /2010-04-01/Accounts/{AC}/AvailablePhoneNumbers/DE/Local.json → 200');
  });

  it('search, toll-free with a prefix (Contains +1800*******)', async () => {
    const found = await provider().search({ countryCode: 'US', numberType: 'toll-free', prefix: '800', limit: 5 });
    expect(found.map((n) => [n.numberType, n.monthlyCost])).toEqual([['toll-free', 200]]);
    expect(sent()).toContain('GET /2010-04-01/Accounts/{AC}/AvailablePhoneNumbers/US/TollFree.json → 200');
  });

  it('quote: Contains = the whole number', async () => {
    expect(await provider().quote(EXAMPLE_AVAILABLE)).toMatchObject({ e164: EXAMPLE_AVAILABLE, monthlyCost: 100 });
  });

  it('purchase: PhoneNumber, VoiceUrl, VoiceMethod, StatusCallback, StatusCallbackMethod, FriendlyName', async () => {
    const placed = await provider().placeOrder(
      { e164: EXAMPLE_AVAILABLE, countryCode: 'US', numberType: 'local', areaCode: '808', city: 'Hilo', region: 'HI', monthlyCost: 100, currency: 'USD' },
      'num_' + 'z'.repeat(80),
    );
    expect(placed).toEqual({ outcome: 'active', orderId: EXAMPLE_SID, providerNumberId: EXAMPLE_SID });
    expect(sent()).toEqual(['POST /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json → 201']);
  });

  it('getOrder (fetch by sid) and release (DELETE → 204)', async () => {
    const p = provider();
    expect(await p.getOrder(EXAMPLE_SID, EXAMPLE_OWNED)).toEqual({ status: 'active', providerNumberId: EXAMPLE_SID });
    await p.release(EXAMPLE_OWNED, EXAMPLE_SID, EXAMPLE_SID);
    expect(sent()).toEqual([
      `GET /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/${EXAMPLE_SID}.json → 200`,
      `DELETE /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/${EXAMPLE_SID}.json → 204`,
    ]);
  });

  it('release without a sid and getOrder by lookup: list by PhoneNumber', async () => {
    const p = provider();
    expect(await p.getOrder(`lookup:${EXAMPLE_OWNED}`, EXAMPLE_OWNED)).toEqual({ status: 'active', providerNumberId: EXAMPLE_SID });
    await p.release(EXAMPLE_OWNED, null, null);
    expect(sent()).toEqual([
      'GET /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json → 200',
      'GET /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json → 200',
      `DELETE /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/${EXAMPLE_SID}.json → 204`,
    ]);
  });

  it('import: lookup, then the update of VoiceUrl and StatusCallback', async () => {
    const imported = await provider().importNumber(EXAMPLE_OWNED);
    expect(imported).toMatchObject({ providerNumberId: EXAMPLE_SID, number: { e164: EXAMPLE_OWNED, areaCode: '808', monthlyCost: 100, currency: 'USD' } });
    expect(sent()).toContain(`POST /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/${EXAMPLE_SID}.json → 200`);
  });

  it("owned: the account's numbers with their voice URLs", async () => {
    expect(await provider().owned()).toEqual([{ e164: EXAMPLE_OWNED, providerNumberId: EXAMPLE_SID, voiceTarget: null }]);
  });
});

describe('error paths Prism can produce', () => {
  it('404 (Prefer: code=404, no Twilio code in the body): getOrder failed, release idempotent', async () => {
    prefer = 'code=404';
    const p = provider();
    expect(await p.getOrder(EXAMPLE_SID, EXAMPLE_OWNED)).toMatchObject({ status: 'failed' });
    await p.release(EXAMPLE_OWNED, EXAMPLE_SID, EXAMPLE_SID);
    expect(answers.map((a) => a.status)).toEqual([404, 404]);
  });

  it('401 (no valid Basic auth) → auth', async () => {
    omitAuth = true;
    const err = await provider()
      .owned()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'auth', details: { status: 401 } });
    expect(answers.map((a) => a.status)).toEqual([401]);
  });
});
