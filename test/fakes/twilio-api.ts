/**
 * A stateful fake of the parts of Twilio's REST API the Twilio number provider
 * calls (carriers.md, "Twilio numbers REST API"), on 127.0.0.1, port 0. The
 * provider reaches it through the real `twilio` SDK, with only the scheme and
 * host rewritten (apiUrl), exactly as production reaches api.twilio.com.
 *
 * State: available numbers (the simulated carrier's inventory,
 * fixtures/inventory/*.csv, so a search for US area code 415 finds the same
 * numbers here as there), the account's IncomingPhoneNumbers, prices per
 * country and type (from the same inventory), regulatory requirements per
 * country. HTTP Basic auth is enforced (401, code 20003). Errors have Twilio's
 * shape `{ code, message, more_info, status }`; lists have Twilio's paging
 * fields.
 *
 * Faults, queued per test (`fault()`), match requests by method and path and
 * decide how the answer goes: an error status, no answer at all (before or
 * after doing the work), a lost answer (work done, socket destroyed), a slow
 * answer, a body that is not JSON. Every request is recorded.
 */
import { randomBytes } from 'node:crypto';
import dns from 'node:dns';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { parseInventoryCsv } from '../../src/providers/sim/inventory-loader.js';
import type { AvailableNumber, NumberType } from '../../src/domain/types.js';

export const FAKE_ACCOUNT_SID = 'AC' + 'f0'.repeat(16);
export const FAKE_AUTH_TOKEN = 'fake-auth-token-9f8e7d6c5b4a3210';
const INVENTORY_DIR = join(import.meta.dirname, '../../fixtures/inventory');

export interface FakeAvailable {
  e164: string;
  country: string;
  numberType: NumberType;
  locality: string | null;
  region: string | null;
  /** Raw, as sent: the live API writes `voice`, `SMS`, `MMS`, `fax`. */
  capabilities: Record<string, boolean>;
}

/** An IncomingPhoneNumber, in Twilio's JSON (the fields the provider may read, and some more). */
export interface FakeIncoming {
  sid: string;
  account_sid: string;
  phone_number: string;
  friendly_name: string;
  voice_url: string | null;
  voice_method: string;
  status_callback: string | null;
  status_callback_method: string;
  capabilities: Record<string, boolean>;
  date_created: string;
  date_updated: string;
  [k: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  form: Record<string, string>;
  userAgent: string | undefined;
  /** The status sent, or how the answer went astray. */
  status?: number;
  fate?: 'answered' | 'hung' | 'lost';
}

export type FaultAction =
  | { kind: 'status'; status: number; code?: number; message?: string; headers?: Record<string, string> }
  /** Never answers, and does nothing (the request died on the way in). */
  | { kind: 'hang' }
  /** Does the work, then never answers (the answer died on the way out). */
  | { kind: 'hang-after' }
  /** Does the work, then destroys the socket. */
  | { kind: 'lose-response' }
  /** Does the work, answers after ms. */
  | { kind: 'slow'; ms: number }
  /** Does the work, answers a body that is not JSON. */
  | { kind: 'garbage'; status?: number };

export interface Fault {
  method?: string;
  path?: RegExp;
  /** How many matching requests it hits (default 1). */
  times?: number;
  action: FaultAction;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const moreInfo = (code: number) => `https://www.twilio.com/docs/errors/${code}`;
const twilioError = (status: number, code: number, message: string): Answer => ({ status, body: { code, message, more_info: moreInfo(code), status } });
const rfc2822 = (d = new Date()) => d.toUTCString().replace('GMT', '+0000');

let onDisk: AvailableNumber[] | undefined;
/** The simulated carrier's inventory, read once per process. */
function inventoryOnDisk(): AvailableNumber[] {
  onDisk ??= readdirSync(INVENTORY_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .flatMap((file) => parseInventoryCsv(readFileSync(join(INVENTORY_DIR, file), 'utf8'), file));
  return onDisk;
}

/** Twilio's Contains: `*` one digit, `%` a run, a leading `+` anchors at the start; otherwise anywhere. */
export function containsMatcher(pattern: string): (e164: string) => boolean {
  const anchored = pattern.startsWith('+');
  const body = (anchored ? pattern.slice(1) : pattern)
    .split('')
    .map((c) => (c === '*' ? '\\d' : c === '%' ? '\\d*' : /\d/.test(c) ? c : `\\${c}`))
    .join('');
  const re = new RegExp(anchored ? `^\\+${body}` : body);
  return (e164) => re.test(e164);
}

export class FakeTwilioApi {
  readonly accountSid = FAKE_ACCOUNT_SID;
  readonly authToken: string;
  readonly requests: RecordedRequest[] = [];
  /** e164 → an available number. */
  readonly inventory = new Map<string, FakeAvailable>();
  /** sid → the account's number, in purchase order. */
  readonly owned = new Map<string, FakeIncoming>();
  /** country → Twilio's prices (decimal strings) and currency. */
  readonly prices = new Map<string, { local?: string; 'toll free'?: string; unit: string }>();
  /** country → the error code a purchase there fails with (21631: an address is needed). */
  readonly regulatory = new Map<string, number>();
  /** Twilio applies VoiceEnabled; false returns numbers without voice too (to test the provider's own check). */
  honourVoiceEnabled = true;
  /** Twilio's largest PageSize; lower it to make paging visible with few numbers. */
  maxPageSize = 1000;
  private faults: Fault[] = [];
  private readonly server: Server;

  private constructor(authToken: string) {
    this.authToken = authToken;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** `authToken`: the account's token (at Twilio it also signs webhooks, so gateway tests pass theirs). */
  static async start(o: { authToken?: string } = {}): Promise<FakeTwilioApi> {
    const fake = new FakeTwilioApi(o.authToken ?? FAKE_AUTH_TOKEN);
    fake.reset();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Back to the inventory on disk, an empty account, no faults, nothing recorded. */
  reset(): void {
    this.requests.length = 0;
    this.inventory.clear();
    this.owned.clear();
    this.prices.clear();
    this.regulatory.clear();
    this.faults = [];
    this.honourVoiceEnabled = true;
    this.maxPageSize = 1000;
    for (const n of inventoryOnDisk()) {
      this.inventory.set(n.e164, {
        e164: n.e164,
        country: n.countryCode,
        numberType: n.numberType,
        locality: n.city,
        region: n.region,
        capabilities: { voice: true, SMS: true, MMS: n.countryCode === 'US', fax: false },
      });
      const p = this.prices.get(n.countryCode) ?? { unit: n.currency };
      p[n.numberType === 'local' ? 'local' : 'toll free'] ??= (n.monthlyCost / 100).toFixed(2);
      this.prices.set(n.countryCode, p);
    }
  }

  // -- knobs ---------------------------------------------------------------

  fault(f: Fault): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  /** Someone else bought it meanwhile: a purchase answers 21422. */
  sellElsewhere(e164: string): void {
    this.inventory.delete(e164);
  }

  /** A number the account holds already (bought in the console), e.g. for import. */
  addOwned(e164: string, fields: Partial<FakeIncoming> = {}): FakeIncoming {
    this.inventory.delete(e164);
    const pn = this.incoming(e164, { FriendlyName: e164 });
    Object.assign(pn, fields);
    this.owned.set(pn.sid, pn);
    return pn;
  }

  ownedBy(e164: string): FakeIncoming | undefined {
    return [...this.owned.values()].find((n) => n.phone_number === e164);
  }

  /** Drift: released by hand in the Twilio console. */
  releaseInConsole(e164: string): void {
    const pn = this.ownedBy(e164);
    if (pn) this.owned.delete(pn.sid);
  }

  /** Drift: voice URL changed by hand in the Twilio console. */
  setVoiceUrl(e164: string, url: string | null): void {
    const pn = this.ownedBy(e164);
    if (!pn) throw new Error(`fake: ${e164} is not owned`);
    pn.voice_url = url;
  }

  /** Purchases that created a number (whether or not their answer arrived). */
  purchases(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/IncomingPhoneNumbers.json') && r.status === 201);
  }

  // -- HTTP ----------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      userAgent: req.headers['user-agent'],
    };
    this.requests.push(rec);
    const i = this.faults.findIndex((f) => (!f.method || f.method === rec.method) && (!f.path || f.path.test(rec.path)));
    const fault = i >= 0 ? this.faults[i]! : undefined;
    if (fault && --fault.times! <= 0) this.faults.splice(i, 1);
    const action = fault?.action;

    if (action?.kind === 'status')
      return this.send(res, rec, twilioError(action.status, action.code ?? 20000 + action.status, action.message ?? 'Injected failure'), action.headers);
    if (action?.kind === 'hang') {
      rec.fate = 'hung';
      return;
    }
    const answer = this.authorized(req) ? this.route(rec) : twilioError(401, 20003, 'Authenticate');
    rec.status = answer.status;
    if (action?.kind === 'hang-after') {
      rec.fate = 'hung';
      return;
    }
    if (action?.kind === 'lose-response') {
      rec.fate = 'lost';
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'slow') await new Promise((r) => setTimeout(r, action.ms));
    if (action?.kind === 'garbage') {
      rec.fate = 'answered';
      res.writeHead(action.status ?? answer.status, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>');
      return;
    }
    this.send(res, rec, answer);
  }

  private send(res: ServerResponse, rec: RecordedRequest, a: Answer, headers: Record<string, string> = {}): void {
    rec.status = a.status;
    rec.fate = 'answered';
    if (res.destroyed) return;
    if (a.body === undefined) res.writeHead(a.status, headers).end();
    else res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers, ...headers }).end(JSON.stringify(a.body));
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && Buffer.from(m[1]!, 'base64').toString('utf8') === `${this.accountSid}:${this.authToken}`;
  }

  private route(r: RecordedRequest): Answer {
    const price = /^\/v1\/PhoneNumbers\/Countries\/([A-Z]{2})$/.exec(r.path);
    if (price && r.method === 'GET') return this.pricing(price[1]!);
    const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/(.+)$/.exec(r.path);
    if (!m) return this.notFound(r.path);
    if (m[1] !== this.accountSid) return twilioError(401, 20003, 'Authenticate');
    const rest = m[2]!;
    const search = /^AvailablePhoneNumbers\/([A-Z]{2})\/(Local|TollFree)\.json$/.exec(rest);
    if (search && r.method === 'GET') return this.search(r, search[1]!, search[2] === 'Local' ? 'local' : 'toll-free');
    if (rest === 'IncomingPhoneNumbers.json') {
      if (r.method === 'GET') return this.list(r);
      if (r.method === 'POST') return this.purchase(r);
    }
    const one = /^IncomingPhoneNumbers\/(PN[0-9a-f]{32})\.json$/.exec(rest);
    const pn = one ? this.owned.get(one[1]!) : undefined;
    if (!one || !pn) return this.notFound(r.path);
    if (r.method === 'GET') return { status: 200, body: pn };
    if (r.method === 'POST') return this.update(pn, r.form);
    if (r.method === 'DELETE') {
      this.owned.delete(pn.sid);
      return { status: 204 };
    }
    return this.notFound(r.path);
  }

  private notFound(path: string): Answer {
    return twilioError(404, 20404, `The requested resource ${path} was not found`);
  }

  private pricing(country: string): Answer {
    const p = this.prices.get(country);
    if (!p) return this.notFound(`/v1/PhoneNumbers/Countries/${country}`);
    const rows = (['local', 'toll free'] as const).flatMap((t) => (p[t] ? [{ number_type: t, base_price: p[t], current_price: p[t] }] : []));
    return {
      status: 200,
      body: {
        country,
        iso_country: country,
        phone_number_prices: rows,
        price_unit: p.unit,
        url: `https://pricing.twilio.com/v1/PhoneNumbers/Countries/${country}`,
      },
    };
  }

  private search(r: RecordedRequest, country: string, numberType: NumberType): Answer {
    const q = r.query;
    if (![...this.prices.keys()].includes(country)) return this.notFound(r.path);
    const pageSize = q.PageSize === undefined ? 50 : Number(q.PageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) return twilioError(400, 20001, 'PageSize must be between 1 and 1000');
    if (q.AreaCode !== undefined && !/^\d{3}$/.test(q.AreaCode)) return twilioError(400, 21452, `AreaCode ${q.AreaCode} is not valid`);
    const contains = q.Contains === undefined ? null : containsMatcher(q.Contains);
    const same = (a: string | null, b: string | undefined) => b === undefined || (a ?? '').toLowerCase() === b.toLowerCase();
    const voice = (c: Record<string, boolean>) => Object.entries(c).some(([k, v]) => k.toLowerCase() === 'voice' && v);
    const found = [...this.inventory.values()]
      .filter((n) => n.country === country && n.numberType === numberType)
      .filter((n) => q.AreaCode === undefined || n.e164.startsWith(`+1${q.AreaCode}`))
      .filter((n) => !contains || contains(n.e164))
      .filter((n) => same(n.region, q.InRegion) && same(n.locality, q.InLocality))
      .filter((n) => !this.honourVoiceEnabled || q.VoiceEnabled !== 'true' || voice(n.capabilities))
      .slice(0, pageSize);
    return {
      status: 200,
      body: {
        uri: `${r.path}?${new URLSearchParams(q).toString()}`,
        available_phone_numbers: found.map((n) => ({
          friendly_name: parsePhoneNumberFromString(n.e164)?.formatNational() ?? n.e164,
          phone_number: n.e164,
          lata: null,
          rate_center: null,
          latitude: null,
          longitude: null,
          locality: n.locality,
          region: n.region,
          postal_code: null,
          iso_country: n.country,
          address_requirements: this.regulatory.has(country) ? 'any' : 'none',
          beta: false,
          capabilities: n.capabilities,
        })),
      },
    };
  }

  /** IncomingPhoneNumbers.json: PhoneNumber matches partial numbers (`*` any digit), as Twilio's does. */
  private list(r: RecordedRequest): Answer {
    const q = r.query;
    const pageSize = Math.min(this.maxPageSize, Number(q.PageSize ?? 50));
    const page = Number(q.Page ?? 0);
    const match = q.PhoneNumber === undefined ? () => true : containsMatcher(q.PhoneNumber.replace(/^\+/, ''));
    const all = [...this.owned.values()].filter((n) => match(n.phone_number));
    const items = all.slice(page * pageSize, (page + 1) * pageSize);
    const base = r.path;
    const uri = (p: number) => {
      const u = new URLSearchParams({ ...(q.PhoneNumber === undefined ? {} : { PhoneNumber: q.PhoneNumber }), PageSize: String(pageSize), Page: String(p) });
      if (p > 0) u.set('PageToken', `PA${all[p * pageSize - 1]?.sid ?? ''}`);
      return `${base}?${u.toString()}`;
    };
    const more = (page + 1) * pageSize < all.length;
    return {
      status: 200,
      body: {
        first_page_uri: uri(0),
        end: page * pageSize + Math.max(0, items.length - 1),
        previous_page_uri: page > 0 ? uri(page - 1) : null,
        incoming_phone_numbers: items,
        uri: uri(page),
        page_size: pageSize,
        start: page * pageSize,
        next_page_uri: more ? uri(page + 1) : null,
        page,
      },
    };
  }

  private purchase(r: RecordedRequest): Answer {
    const e164 = r.form.PhoneNumber ?? '';
    const parsed = parsePhoneNumberFromString(e164);
    if (!parsed?.isValid() || parsed.number !== e164) return twilioError(400, 21421, `PhoneNumber ${e164} is invalid`);
    const bad = this.badForm(r.form);
    if (bad) return bad;
    const available = this.inventory.get(e164);
    if (!available) return twilioError(400, 21422, `PhoneNumber ${e164} is not available`);
    const rule = this.regulatory.get(available.country);
    if (rule === 21631) return twilioError(400, 21631, `Phone Number Requires an Address. ${available.country} numbers need an AddressSid.`);
    if (rule === 21649) return twilioError(400, 21649, `Phone Number Requires a Bundle. ${available.country} numbers need a BundleSid.`);
    if (rule !== undefined) return twilioError(400, rule, `Regulatory requirement ${rule}`);
    this.inventory.delete(e164);
    const pn = this.incoming(e164, r.form);
    this.owned.set(pn.sid, pn);
    return { status: 201, body: pn };
  }

  private update(pn: FakeIncoming, form: Record<string, string>): Answer {
    const bad = this.badForm(form);
    if (bad) return bad;
    if (form.VoiceUrl !== undefined) pn.voice_url = form.VoiceUrl;
    if (form.VoiceMethod !== undefined) pn.voice_method = form.VoiceMethod;
    if (form.StatusCallback !== undefined) pn.status_callback = form.StatusCallback;
    if (form.StatusCallbackMethod !== undefined) pn.status_callback_method = form.StatusCallbackMethod;
    if (form.FriendlyName !== undefined) pn.friendly_name = form.FriendlyName;
    pn.date_updated = rfc2822();
    return { status: 200, body: pn };
  }

  private badForm(form: Record<string, string>): Answer | null {
    for (const k of ['VoiceUrl', 'StatusCallback']) {
      if (form[k] !== undefined && !/^https?:\/\/[^\s/]+/.test(form[k])) return twilioError(400, 21502, `${k} is not a valid URL`);
    }
    for (const k of ['VoiceMethod', 'StatusCallbackMethod']) {
      if (form[k] !== undefined && !['GET', 'POST'].includes(form[k])) return twilioError(400, 21503, `${k} must be GET or POST`);
    }
    if ((form.FriendlyName?.length ?? 0) > 64) return twilioError(400, 21451, 'FriendlyName is longer than 64 characters');
    return null;
  }

  private incoming(e164: string, form: Record<string, string>): FakeIncoming {
    const sid = 'PN' + randomBytes(16).toString('hex');
    const now = rfc2822();
    return {
      sid,
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      phone_number: e164,
      friendly_name: form.FriendlyName ?? e164,
      voice_url: form.VoiceUrl ?? null,
      voice_method: form.VoiceMethod ?? 'POST',
      voice_fallback_url: null,
      status_callback: form.StatusCallback ?? null,
      status_callback_method: form.StatusCallbackMethod ?? 'POST',
      capabilities: { voice: true, sms: true, mms: false, fax: false },
      address_requirements: 'none',
      status: 'in-use',
      origin: 'twilio',
      date_created: now,
      date_updated: now,
      uri: `/2010-04-01/Accounts/${this.accountSid}/IncomingPhoneNumbers/${sid}.json`,
    };
  }
}

/**
 * Tests touch loopback only: from here on, a DNS lookup of any name (a real
 * Twilio host reached by broken code, say) fails at once and is recorded.
 * IP literals pass (they resolve to themselves). Returns the names asked
 * for and a function that restores the resolver.
 */
export function refuseDns(): { asked: string[]; restore: () => void } {
  const asked: string[] = [];
  const original = dns.lookup;
  function refuse(this: unknown, hostname: string, ...rest: unknown[]): void {
    // An IP literal resolves to itself (net.Server.listen asks for 127.0.0.1 too).
    if (isIP(hostname)) return void (original as (...a: unknown[]) => void).call(this, hostname, ...rest);
    asked.push(hostname);
    const cb = rest.at(-1) as (err: NodeJS.ErrnoException) => void;
    const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (tests resolve no names)`), { code: 'ENOTFOUND', hostname });
    process.nextTick(cb, err);
  }
  (dns as { lookup: unknown }).lookup = refuse;
  return { asked, restore: () => void ((dns as { lookup: unknown }).lookup = original) };
}
