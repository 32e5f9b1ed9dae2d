/**
 * A stateful local fake of the Telnyx v2 numbers API (carriers.md, "Telnyx
 * numbers"), for tests that drive the real `telnyx` SDK against it:
 *
 * - Bearer API key (401 otherwise), JSON, deepObject query filters;
 * - available numbers from the simulated carrier's inventory
 *   (fixtures/inventory/*.csv), with region_information and cost_information,
 *   so the searches of the sim tests (US area code 415, toll-free 800, ...)
 *   find the same numbers; only numbers a search returned can be ordered;
 * - number orders created `pending` and completed later (success or failure,
 *   after orderDelayMs, or by hand), owned numbers with ids and connection_id;
 *   order phone numbers have their own ids, as at Telnyx
 *   (number_order_phone_number records), distinct from the phone number ids;
 * - `number_order.complete` webhooks signed with Ed25519 when configured,
 *   with knobs to drop, duplicate or delay them;
 * - failure injection per request (status, hang, slow, reset, a create whose
 *   response is lost after the order was created, a stalled body), regulatory
 *   requirements per country, a number sold meanwhile, drift made "in the
 *   portal", a request log, inspection and reset.
 *
 * It listens on 127.0.0.1 only and delivers webhooks to loopback URLs only.
 */
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseInventoryCsv } from '../../src/providers/sim/inventory-loader.js';
import type { AvailableNumber } from '../../src/domain/types.js';

export const INVENTORY_DIR = fileURLToPath(new URL('../../fixtures/inventory', import.meta.url));

export interface RecordedRequest {
  method: string;
  /** Path below /v2, without the query: `/number_orders`. */
  path: string;
  /** Decoded query parameters in the order sent. */
  query: Array<[string, string]>;
  /** The query string exactly as received. */
  rawQuery: string;
  body: unknown;
  authorized: boolean;
  /** The Host header the request carried. */
  host: string | undefined;
  fault: Fault['kind'] | null;
  at: number;
}

export type Fault =
  /** Answers at once with this status (and body, headers). */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answers and does nothing. */
  | { kind: 'hang' }
  /** Does the work at once and answers after a delay (a webhook can overtake the answer). */
  | { kind: 'slow'; delayMs: number }
  /** Does the work, then never answers (`hang`), drops the connection (`reset`), or answers this status instead (a 502 from a proxy). */
  | { kind: 'lose-response'; mode?: 'hang' | 'reset'; status?: number }
  /** Drops the connection without doing anything. */
  | { kind: 'reset' }
  /** Does the work, sends the headers and half a body, then nothing. */
  | { kind: 'stall-body' };

export interface FaultRule {
  method?: string;
  /** Exact path below /v2, or a pattern. */
  path?: string | RegExp;
  /** How many requests it applies to (default 1; Infinity for all). */
  times?: number;
  fault: Fault;
}

export interface WebhookDelivery {
  orderId: string;
  status: number | 'error';
  at: number;
  body: string;
}

export interface FakeTelnyxOptions {
  apiKey: string;
  /** Connection ids that exist on the account (others are refused in orders and PATCHes). Default: any. */
  connections?: string[];
  /** How long an order stays pending (default 50 ms). */
  orderDelayMs?: number;
  inventoryDir?: string;
  /** Deliver number_order.complete to this loopback URL, signed with this Ed25519 private key. */
  webhook?: { url: string; privateKey: KeyObject };
}

interface OrderNumber {
  id: string;
  record_type: 'number_order_phone_number';
  phone_number: string;
  phone_number_type: 'local' | 'toll_free';
  country_code: string;
  status: 'pending' | 'success' | 'failure';
  requirements_met: boolean;
  requirements_status?: string;
  regulatory_requirements: Array<{ requirement_id: string; field_type: string; field_value: string | null }>;
}

export interface FakeOrder {
  id: string;
  record_type: 'number_order';
  status: 'pending' | 'success' | 'failure';
  phone_numbers: OrderNumber[];
  phone_numbers_count: number;
  connection_id: string | null;
  customer_reference: string | null;
  requirements_met: boolean;
  created_at: string;
  updated_at: string;
}

export interface FakeNumber {
  id: string;
  record_type: 'phone_number';
  phone_number: string;
  status: 'active';
  connection_id: string | null;
  connection_name: string | null;
  country_iso_alpha2: string;
  phone_number_type: 'local' | 'toll_free';
  customer_reference: string | null;
  tags: string[];
  created_at: string;
  purchased_at: string;
  deletion_lock_enabled: boolean;
  external_pin: string | null;
}

const SEARCH_FILTERS = new Set([
  'filter[country_code]',
  'filter[phone_number_type]',
  'filter[national_destination_code]',
  'filter[administrative_area]',
  'filter[locality]',
  'filter[rate_center]',
  'filter[phone_number][starts_with]',
  'filter[phone_number][contains]',
  'filter[phone_number][ends_with]',
  'filter[features][]',
  'filter[features]',
  'filter[limit]',
  'filter[best_effort]',
  'filter[quickship]',
  'filter[reservable]',
  'filter[exclude_held_numbers]',
]);

const telnyxError = (code: string, title: string, detail: string, extra: Record<string, unknown> = {}) => ({ errors: [{ code, title, detail, ...extra }] });

export class FakeTelnyxApi {
  readonly requests: RecordedRequest[] = [];
  readonly webhooks: WebhookDelivery[] = [];
  readonly orders = new Map<string, FakeOrder>();
  /** Owned numbers by id. */
  readonly numbers = new Map<string, FakeNumber>();
  /** Webhook knobs: drop the next N deliveries, send each one this many extra times, after this delay. */
  webhookKnobs = { drop: 0, duplicates: 0, delayMs: 0, timestampSkewS: 0 };
  /** Orders stay pending until completeOrder() when true. */
  holdOrders = false;
  orderDelayMs: number;

  private readonly inventory: AvailableNumber[];
  private readonly byE164 = new Map<string, AvailableNumber>();
  private available = new Set<string>();
  private searched = new Set<string>();
  private readonly outcomes = new Map<string, 'failure'>();
  private readonly regulatory = new Map<string, 'reject' | 'hold'>();
  private readonly costs = new Map<string, { monthly_cost: string; currency: string }>();
  private rules: FaultRule[] = [];
  /** Raw items appended to every search answer (malformed ones, best-effort ones...). */
  extraSearchResults: unknown[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private nextNumberId = 1293384261075731499n;

  private constructor(
    private readonly server: Server,
    private readonly opts: FakeTelnyxOptions,
    readonly url: string,
  ) {
    this.orderDelayMs = opts.orderDelayMs ?? 50;
    const dir = opts.inventoryDir ?? INVENTORY_DIR;
    this.inventory = readdirSync(dir)
      .filter((f) => f.endsWith('.csv'))
      .sort()
      .flatMap((f) => parseInventoryCsv(readFileSync(`${dir}/${f}`, 'utf8'), f));
    for (const n of this.inventory) this.byE164.set(n.e164, n);
    this.available = new Set(this.inventory.map((n) => n.e164));
  }

  static async start(opts: FakeTelnyxOptions): Promise<FakeTelnyxApi> {
    if (opts.webhook) assertLoopback(opts.webhook.url);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as { port: number };
    const fake = new FakeTelnyxApi(server, opts, `http://127.0.0.1:${port}/v2`);
    server.on('connection', (s: Socket) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    server.on('request', (req, res) => fake.onRequest(req, res));
    return fake;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Back to the first state: the whole inventory available, no orders, no numbers, no faults, no logs. */
  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.requests.length = 0;
    this.webhooks.length = 0;
    this.orders.clear();
    this.numbers.clear();
    this.available = new Set(this.inventory.map((n) => n.e164));
    this.searched = new Set();
    this.outcomes.clear();
    this.regulatory.clear();
    this.costs.clear();
    this.rules = [];
    this.extraSearchResults = [];
    this.webhookKnobs = { drop: 0, duplicates: 0, delayMs: 0, timestampSkewS: 0 };
    this.holdOrders = false;
    this.orderDelayMs = this.opts.orderDelayMs ?? 50;
  }

  // --- knobs ------------------------------------------------------------------

  /** Where number_order.complete goes from now on (a loopback URL: set once the gateway listens), signed with this key. */
  webhookTo(url: string, privateKey: KeyObject): void {
    assertLoopback(url);
    this.opts.webhook = { url, privateKey };
  }

  inject(rule: FaultRule): void {
    this.rules.push({ times: 1, ...rule });
  }

  /** Orders for this number fail. */
  failOrdersFor(e164: string): void {
    this.outcomes.set(e164, 'failure');
  }

  /** Numbers of this country need documents: `reject` refuses the order (422), `hold` accepts it and keeps it pending with requirements not met. */
  requireRegulatory(country: string, mode: 'reject' | 'hold'): void {
    this.regulatory.set(country, mode);
  }

  /** Another customer bought it meanwhile. */
  takeNumber(e164: string): void {
    this.available.delete(e164);
  }

  setCost(e164: string, monthly_cost: string, currency: string): void {
    this.costs.set(e164, { monthly_cost, currency });
  }

  /** A number the account owns already (bring your own number). */
  addOwned(e164: string, o: { connectionId?: string | null; country?: string; type?: 'local' | 'toll_free' } = {}): FakeNumber {
    const inv = this.byE164.get(e164);
    this.available.delete(e164);
    return this.own(
      e164,
      o.connectionId ?? null,
      o.country ?? inv?.countryCode ?? 'US',
      o.type ?? (inv?.numberType === 'toll-free' ? 'toll_free' : 'local'),
      null,
    );
  }

  /** Drift: someone deleted the number in the portal. */
  deleteInPortal(e164: string): void {
    const n = this.numberByE164(e164);
    if (n) this.numbers.delete(n.id);
  }

  /** Drift: someone pointed the number elsewhere in the portal. */
  setConnection(e164: string, connectionId: string | null): void {
    const n = this.numberByE164(e164);
    if (!n) throw new Error(`fake telnyx: ${e164} is not owned`);
    n.connection_id = connectionId;
  }

  numberByE164(e164: string): FakeNumber | undefined {
    return [...this.numbers.values()].find((n) => n.phone_number === e164);
  }

  isAvailable(e164: string): boolean {
    return this.available.has(e164);
  }

  ordersFor(reference: string): FakeOrder[] {
    return [...this.orders.values()].filter((o) => o.customer_reference === reference);
  }

  /** Requests matching a method and path (below /v2). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Settles a pending order now (by default as its number's outcome says). */
  completeOrder(id: string, outcome?: 'success' | 'failure'): FakeOrder {
    const o = this.orders.get(id);
    if (!o) throw new Error(`fake telnyx: no order ${id}`);
    if (o.status !== 'pending') return o;
    const result = outcome ?? (o.phone_numbers.some((p) => this.outcomes.get(p.phone_number) === 'failure') ? 'failure' : 'success');
    const now = new Date().toISOString();
    o.status = result;
    o.updated_at = now;
    for (const p of o.phone_numbers) {
      p.status = result;
      if (result === 'success') {
        const country = this.byE164.get(p.phone_number)?.countryCode ?? p.country_code;
        this.own(p.phone_number, o.connection_id, country, p.phone_number_type, o.customer_reference);
      } else {
        this.available.add(p.phone_number);
      }
    }
    this.deliverWebhook(o);
    return o;
  }

  /** Sends a number_order.complete for this order (again), whatever the knobs say about dropping. */
  redeliver(id: string): Promise<void> {
    const o = this.orders.get(id);
    if (!o) throw new Error(`fake telnyx: no order ${id}`);
    return this.post(o);
  }

  /** Sends an arbitrary (correctly signed) webhook body. */
  sendWebhook(body: unknown, orderId = 'custom'): Promise<void> {
    return this.postRaw(JSON.stringify(body), orderId);
  }

  // --- HTTP ---------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname.replace(/^\/v2(?=\/|$)/, '');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const rule = this.takeRule(method, path);
      const rec: RecordedRequest = {
        method,
        path,
        query: [...url.searchParams.entries()],
        rawQuery: url.search.slice(1),
        body,
        authorized: req.headers.authorization === `Bearer ${this.opts.apiKey}`,
        host: req.headers.host,
        fault: rule?.fault.kind ?? null,
        at: Date.now(),
      };
      this.requests.push(rec);
      this.answer(rec, url.searchParams, rule?.fault ?? null, res);
    });
  }

  private answer(rec: RecordedRequest, q: URLSearchParams, fault: Fault | null, res: ServerResponse): void {
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      const text = JSON.stringify(payload);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    if (fault?.kind === 'status') {
      send(fault.status, fault.body ?? telnyxError('10007', 'Unexpected error', 'An unexpected error occured.'), fault.headers);
      return;
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    const work = () => {
      const [status, payload] = this.route(rec, q);
      if (fault?.kind === 'lose-response') {
        if (fault.status !== undefined) send(fault.status, telnyxError('10007', 'Unexpected error', 'An unexpected error occured.'));
        else if (fault.mode === 'reset') res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'stall-body') {
        res.writeHead(status, { 'content-type': 'application/json' });
        const text = JSON.stringify(payload);
        res.write(text.slice(0, Math.floor(text.length / 2)));
        return;
      }
      if (fault?.kind === 'slow') this.later(fault.delayMs, () => send(status, payload));
      else send(status, payload);
    };
    work();
  }

  private takeRule(method: string, path: string): FaultRule | undefined {
    const i = this.rules.findIndex(
      (r) => (!r.method || r.method.toUpperCase() === method) && (!r.path || (typeof r.path === 'string' ? r.path === path : r.path.test(path))),
    );
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    rule.times = (rule.times ?? 1) - 1;
    if (rule.times <= 0) this.rules.splice(i, 1);
    return rule;
  }

  private route(rec: RecordedRequest, q: URLSearchParams): [number, unknown] {
    if (!rec.authorized) {
      return [401, telnyxError('10009', 'Authentication failed', 'The required authentication headers were either invalid or not included in the request.')];
    }
    const m = rec.method;
    const p = rec.path;
    if (m === 'GET' && p === '/available_phone_numbers') return this.search(q);
    if (m === 'POST' && p === '/number_orders') return this.createOrder(rec.body);
    if (m === 'GET' && p === '/number_orders') return this.listOrders(q);
    const order = /^\/number_orders\/([^/]+)$/.exec(p);
    if (m === 'GET' && order) {
      const o = this.orders.get(decodeURIComponent(order[1]!));
      return o ? [200, { data: o }] : notFound();
    }
    if (m === 'GET' && p === '/phone_numbers') return this.listNumbers(q);
    const num = /^\/phone_numbers\/([^/]+)$/.exec(p);
    if (num) {
      const n = this.numbers.get(decodeURIComponent(num[1]!));
      if (!n) return notFound();
      if (m === 'GET') return [200, { data: n }];
      if (m === 'DELETE') {
        this.numbers.delete(n.id);
        if (this.byE164.has(n.phone_number)) this.available.add(n.phone_number);
        return [200, { data: { ...n, status: 'deleted' } }];
      }
      if (m === 'PATCH') {
        const b = (rec.body ?? {}) as { connection_id?: unknown };
        if (b.connection_id !== undefined) {
          if (typeof b.connection_id !== 'string' || !this.connectionExists(b.connection_id)) {
            return [
              422,
              telnyxError('10017', 'Associated resource does not exist', 'The connection_id does not exist.', { source: { pointer: '/connection_id' } }),
            ];
          }
          n.connection_id = b.connection_id;
        }
        return [200, { data: n }];
      }
    }
    return notFound();
  }

  private search(q: URLSearchParams): [number, unknown] {
    for (const k of q.keys()) {
      if (!SEARCH_FILTERS.has(k)) return [400, telnyxError('10015', 'Bad Request', `Unknown query parameter ${k}.`, { source: { parameter: k } })];
    }
    const type = q.get('filter[phone_number_type]');
    if (type !== null && type !== 'local' && type !== 'toll_free') {
      return [400, telnyxError('10015', 'Bad Request', 'Invalid phone_number_type.', { source: { parameter: 'filter[phone_number_type]' } })];
    }
    const features = [...q.getAll('filter[features][]'), ...q.getAll('filter[features]').flatMap((v) => v.split(','))];
    if (features.some((f) => f !== 'voice' && f !== 'sms')) return [200, { data: [], meta: { total_results: 0, best_effort_results: 0 } }];
    const limitText = q.get('filter[limit]');
    const limit = limitText === null ? 50 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 250) return [400, telnyxError('10015', 'Bad Request', 'filter[limit] must be between 1 and 250.')];
    const digits = (s: string | null) => (s === null ? null : s.replace(/^\+/, ''));
    const starts = digits(q.get('filter[phone_number][starts_with]'));
    const contains = digits(q.get('filter[phone_number][contains]'));
    const ends = digits(q.get('filter[phone_number][ends_with]'));
    const lower = (s: string | null) => s?.toLowerCase() ?? null;
    const cc = q.get('filter[country_code]');
    const ndc = q.get('filter[national_destination_code]');
    const area = lower(q.get('filter[administrative_area]'));
    const locality = lower(q.get('filter[locality]'));
    const rateCenter = lower(q.get('filter[rate_center]'));
    const hits: AvailableNumber[] = [];
    for (const n of this.inventory) {
      if (!this.available.has(n.e164)) continue;
      const d = n.e164.slice(1);
      if (cc !== null && n.countryCode !== cc) continue;
      if (type !== null && (type === 'toll_free') !== (n.numberType === 'toll-free')) continue;
      if (ndc !== null && n.areaCode !== ndc) continue;
      if (area !== null && n.region?.toLowerCase() !== area) continue;
      if (locality !== null && n.city?.toLowerCase() !== locality) continue;
      if (rateCenter !== null && n.city?.toLowerCase() !== rateCenter) continue;
      if (starts !== null && !d.startsWith(starts)) continue;
      if (contains !== null && !d.includes(contains)) continue;
      if (ends !== null && !d.endsWith(ends)) continue;
      hits.push(n);
      if (hits.length >= limit) break;
    }
    for (const n of hits) this.searched.add(n.e164);
    const data = [...hits.map((n) => this.availableJson(n)), ...this.extraSearchResults];
    return [200, { data, meta: { total_results: data.length, best_effort_results: 0 } }];
  }

  private availableJson(n: AvailableNumber) {
    const nanp = n.e164.startsWith('+1');
    const region_information: Array<{ region_type: string; region_name: string }> = [];
    if (n.city) region_information.push({ region_type: nanp ? 'rate_center' : 'location', region_name: nanp ? n.city.toUpperCase() : n.city });
    if (n.region) region_information.push({ region_type: 'state', region_name: n.region });
    region_information.push({ region_type: 'country_code', region_name: n.countryCode });
    const cost = this.costs.get(n.e164) ?? { monthly_cost: (n.monthlyCost / 100).toFixed(2), currency: n.currency };
    return {
      record_type: 'available_phone_number',
      phone_number: n.e164,
      vanity_format: '',
      best_effort: false,
      quickship: true,
      reservable: true,
      region_information,
      cost_information: { upfront_cost: '0.00', monthly_cost: cost.monthly_cost, currency: cost.currency },
      features: [{ name: 'voice' }, { name: 'sms' }],
    };
  }

  private createOrder(body: unknown): [number, unknown] {
    const b = (body && typeof body === 'object' ? body : {}) as { phone_numbers?: unknown; connection_id?: unknown; customer_reference?: unknown };
    if (!Array.isArray(b.phone_numbers) || b.phone_numbers.length === 0) {
      return [422, telnyxError('10004', 'Missing required parameter', 'phone_numbers is required.', { source: { pointer: '/phone_numbers' } })];
    }
    const wanted: string[] = [];
    for (const p of b.phone_numbers as unknown[]) {
      const e164 = p && typeof p === 'object' ? (p as { phone_number?: unknown }).phone_number : undefined;
      if (typeof e164 !== 'string' || !/^\+\d{6,15}$/.test(e164)) {
        return [422, telnyxError('10016', 'Phone number must be in +E.164 format', 'The specified phone number parameter must be in +E.164 format.')];
      }
      wanted.push(e164);
    }
    if (b.connection_id !== undefined && (typeof b.connection_id !== 'string' || !this.connectionExists(b.connection_id))) {
      return [422, telnyxError('10017', 'Associated resource does not exist', 'The connection_id does not exist.', { source: { pointer: '/connection_id' } })];
    }
    let hold = false;
    for (const e164 of wanted) {
      const inv = this.byE164.get(e164);
      const mode = inv ? this.regulatory.get(inv.countryCode) : undefined;
      if (mode === 'reject') {
        return [
          422,
          telnyxError(
            '10015',
            'Regulatory requirements not met',
            `${inv!.countryCode} numbers require a requirement group or bundle (address and identity documents): pass requirement_group_id or bundle_id for ${e164}.`,
            { source: { pointer: '/phone_numbers/0/requirement_group_id' } },
          ),
        ];
      }
      if (mode === 'hold') hold = true;
      if (!inv || !this.available.has(e164) || !this.searched.has(e164)) {
        return [
          422,
          telnyxError('10015', 'Number not available', `${e164} is not available for purchase; search again.`, {
            source: { pointer: '/phone_numbers/0/phone_number' },
          }),
        ];
      }
    }
    const now = new Date().toISOString();
    const order: FakeOrder = {
      id: randomUUID(),
      record_type: 'number_order',
      status: 'pending',
      phone_numbers: wanted.map((e164) => {
        const inv = this.byE164.get(e164)!;
        this.available.delete(e164);
        return {
          id: randomUUID(),
          record_type: 'number_order_phone_number',
          phone_number: e164,
          phone_number_type: inv.numberType === 'toll-free' ? 'toll_free' : 'local',
          country_code: inv.countryCode,
          status: 'pending',
          requirements_met: !hold,
          ...(hold ? { requirements_status: 'requirement-info-pending' } : {}),
          regulatory_requirements: hold ? [{ requirement_id: randomUUID(), field_type: 'address', field_value: null }] : [],
        };
      }),
      phone_numbers_count: wanted.length,
      connection_id: typeof b.connection_id === 'string' ? b.connection_id : null,
      customer_reference: typeof b.customer_reference === 'string' ? b.customer_reference : null,
      requirements_met: !hold,
      created_at: now,
      updated_at: now,
    };
    this.orders.set(order.id, order);
    if (!hold && !this.holdOrders) this.later(this.orderDelayMs, () => this.completeOrder(order.id));
    return [200, { data: structuredClone(order) }];
  }

  private listOrders(q: URLSearchParams): [number, unknown] {
    const ref = q.get('filter[customer_reference]');
    const status = q.get('filter[status]');
    const all = [...this.orders.values()].filter((o) => (ref === null || o.customer_reference === ref) && (status === null || o.status === status));
    // The list shows its numbers abbreviated (PhoneNumbersJobPhoneNumber: id, phone_number).
    const data = all.map((o) => ({ ...o, phone_numbers: o.phone_numbers.map((p) => ({ id: p.id, phone_number: p.phone_number })) }));
    return this.page(data, q);
  }

  private listNumbers(q: URLSearchParams): [number, unknown] {
    const pn = q.get('filter[phone_number]');
    const conn = q.get('filter[connection_id]');
    let all = [...this.numbers.values()];
    // Telnyx: "Non-numerical characters will result in no values being returned"; partial matches.
    if (pn !== null) all = /^\d{3,}$/.test(pn) ? all.filter((n) => n.phone_number.slice(1).includes(pn)) : [];
    if (conn !== null) all = all.filter((n) => n.connection_id === conn);
    return this.page(all, q);
  }

  private page(all: unknown[], q: URLSearchParams): [number, unknown] {
    const number = Number(q.get('page[number]') ?? '1');
    const size = Number(q.get('page[size]') ?? '20');
    if (!Number.isInteger(number) || number < 1 || !Number.isInteger(size) || size < 1 || size > 250) {
      return [400, telnyxError('10015', 'Bad Request', 'Invalid page parameters.')];
    }
    const totalPages = Math.max(1, Math.ceil(all.length / size));
    return [
      200,
      {
        data: all.slice((number - 1) * size, number * size),
        meta: { page_number: number, page_size: size, total_pages: totalPages, total_results: all.length },
      },
    ];
  }

  private own(e164: string, connectionId: string | null, country: string, type: 'local' | 'toll_free', reference: string | null): FakeNumber {
    const now = new Date().toISOString();
    const n: FakeNumber = {
      id: String(this.nextNumberId++),
      record_type: 'phone_number',
      phone_number: e164,
      status: 'active',
      connection_id: connectionId,
      connection_name: connectionId ? `conn-${connectionId}` : null,
      country_iso_alpha2: country,
      phone_number_type: type,
      customer_reference: reference,
      tags: [],
      created_at: now,
      purchased_at: now,
      deletion_lock_enabled: false,
      external_pin: null,
    };
    this.numbers.set(n.id, n);
    return n;
  }

  private connectionExists(id: string): boolean {
    return !this.opts.connections || this.opts.connections.includes(id);
  }

  // --- webhooks -------------------------------------------------------------------

  private deliverWebhook(o: FakeOrder): void {
    if (!this.opts.webhook) return;
    if (this.webhookKnobs.drop > 0) {
      this.webhookKnobs.drop--;
      return;
    }
    const copies = 1 + this.webhookKnobs.duplicates;
    for (let i = 0; i < copies; i++) this.later(this.webhookKnobs.delayMs, () => void this.post(o));
  }

  private post(o: FakeOrder): Promise<void> {
    const body = JSON.stringify({
      data: { record_type: 'event', id: randomUUID(), event_type: 'number_order.complete', occurred_at: new Date().toISOString(), payload: o },
      meta: { attempt: 1, delivered_to: this.opts.webhook?.url },
    });
    return this.postRaw(body, o.id);
  }

  private postRaw(body: string, orderId: string): Promise<void> {
    const hook = this.opts.webhook;
    if (!hook) return Promise.reject(new Error('fake telnyx: no webhook configured'));
    const ts = String(Math.floor(Date.now() / 1000) + this.webhookKnobs.timestampSkewS);
    const signature = sign(null, Buffer.from(`${ts}|${body}`), hook.privateKey).toString('base64');
    const target = new URL(hook.url);
    return new Promise<void>((resolve) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'telnyx-signature-ed25519': signature,
            'telnyx-timestamp': ts,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            this.webhooks.push({ orderId, status: res.statusCode ?? 0, at: Date.now(), body });
            resolve();
          });
        },
      );
      req.on('error', () => {
        this.webhooks.push({ orderId, status: 'error', at: Date.now(), body });
        resolve();
      });
      req.end(body);
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function notFound(): [number, unknown] {
  return [404, telnyxError('10005', 'Resource not found', 'The requested resource or URL could not be found.')];
}

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== '[::1]' && host !== 'localhost') throw new Error(`fake telnyx: webhooks go to loopback only, not ${host}`);
}

/**
 * Replaces global fetch (which the SDK uses) with one that refuses any host
 * but 127.0.0.1 before sending, and records every URL asked for: even broken
 * code cannot reach a real Telnyx host from a test.
 */
export function guardLoopbackFetch(): { urls: string[]; refused: string[]; restore: () => void } {
  const original = globalThis.fetch;
  const urls: string[] = [];
  const refused: string[] = [];
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    urls.push(url);
    if (new URL(url).hostname !== '127.0.0.1') {
      refused.push(url);
      return Promise.reject(new TypeError(`loopback guard: refused a request to ${new URL(url).host}`));
    }
    return original(input, init);
  }) as typeof fetch;
  return { urls, refused, restore: () => void (globalThis.fetch = original) };
}
