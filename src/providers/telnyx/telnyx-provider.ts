/**
 * Telnyx as a number provider (carriers.md, "Telnyx numbers"), through the
 * official `telnyx` SDK (7.x): search, quote, asynchronous number orders,
 * release, import, the account's numbers.
 *
 * Orders are asynchronous (pending → success | failure). Their result
 * reaches onOrderUpdate from two sources that settle each order once:
 * polling GET /number_orders/{id} while any order this process placed (or
 * was told about with track()) is pending, and handleEvent() for a
 * signature-checked `number_order.complete` webhook. Webhooks may be lost,
 * duplicated or reordered, so polling runs whether or not they are set up.
 * An order's final state is reported once per process: by an update, or as
 * the answer of a getOrder() call (which then keeps the update back).
 *
 * Requests carry our own deadline (requestTimeoutMs, body included) and are
 * not retried by the SDK: a POST the SDK retried after a timeout could order
 * twice. placeOrder instead asks Telnyx by customer_reference whether an
 * order it could not hear back about exists, and retries at most once, within
 * orderBudgetMs (under the services' ORDER_GRACE_MS).
 *
 * The API key appears in no log line and no error message.
 */
import Telnyx, { APIConnectionError, APIError, APIUserAbortError } from 'telnyx';
import type { Logger } from 'pino';
import { COUNTRIES, parsePhone } from '../../domain/phone.js';
import type { AvailableNumber } from '../../domain/types.js';
import {
  ProviderError,
  type NumberProvider,
  type OrderStatus,
  type OrderUpdate,
  type OwnedNumber,
  type PlacedOrder,
  type ProviderCapabilities,
  type SearchFilters,
} from '../provider.js';
import {
  areaCodeOf,
  callingCode,
  classify4xx,
  countriesOf,
  describeErrors,
  errorItems,
  orderNumbers,
  orderState,
  toAvailable,
  type TelnyxAvailable,
  type TelnyxErrorItem,
  type TelnyxOrder,
  type TelnyxOrderState,
} from './mapping.js';

export const TELNYX_DEFAULT_API_URL = 'https://api.telnyx.com/v2';

export interface TelnyxProviderOptions {
  apiKey: string;
  /** Default https://api.telnyx.com/v2. */
  apiUrl?: string | undefined;
  /** TELNYX_CONNECTION_ID: the TeXML application (connection) our numbers are attached to. */
  connectionId: string | undefined;
  log: Logger;
  /** Deadline of one request, body included (default 10 s). */
  requestTimeoutMs?: number | undefined;
  /** placeOrder's whole budget, its lookup and one retry included (default 15 s, under the services' ORDER_GRACE_MS). */
  orderBudgetMs?: number | undefined;
  /** First poll of a pending order after this long (default 2 s), then 1.5× longer each time... */
  pollIntervalMs?: number | undefined;
  /** ...up to this (default 60 s). */
  maxPollIntervalMs?: number | undefined;
  /** A pending order is watched this long at most (default 24 h: regulated numbers can take days; the services gave up long before). */
  maxWatchMs?: number | undefined;
}

/** How a request failed, before it becomes a ProviderError: placeOrder needs to know whether Telnyx may have acted. */
type Failure =
  | { type: 'http'; status: number; items: TelnyxErrorItem[]; retryAfterS: number | undefined }
  /** Sent, and no (complete) answer within the deadline: Telnyx may have acted. */
  | { type: 'timeout' }
  /** Never reached Telnyx (connection refused, no such host): nothing happened there. */
  | { type: 'unreachable'; code: string }
  /** The connection broke after it was open: Telnyx may have acted. */
  | { type: 'connection'; code: string }
  | { type: 'bad_response'; message: string };

class TelnyxCallError extends Error {
  constructor(
    readonly op: string,
    readonly failure: Failure,
  ) {
    super(`telnyx: ${op} failed (${failure.type})`);
  }
}

interface Watch {
  /** The order id the services know: Telnyx's, or `ref:<customer_reference>` when placeOrder could not tell. */
  key: string;
  telnyxId: string | null;
  reference: string | null;
  e164: string;
  since: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  /** Nobody waits for its result (released, or refused for regulatory reasons): no update. */
  silent: boolean;
  /** Give the number back if the order succeeds after all. */
  releaseOnSuccess: boolean;
  notFound: number;
}

/** Polls that find no such order before a watch is dropped (an id from a restart that Telnyx does not know, a create that never happened). */
const NOT_FOUND_LIMIT = 10;
/** Settled order ids remembered, to recognise late duplicates (FIFO). */
const SETTLED_MEMORY = 10_000;
/** Number statuses that mean the account does not hold the number. */
const GONE_STATUSES = new Set(['deleted', 'purchase-failed', 'port-failed', 'ported-out']);
const MAX_PAGES = 1000;

export class TelnyxProvider implements NumberProvider {
  readonly name = 'telnyx' as const;
  private readonly client: Telnyx;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly orderBudgetMs: number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;
  private readonly maxWatchMs: number;
  private readonly listeners: Array<(u: OrderUpdate) => void> = [];
  private readonly watches = new Map<string, Watch>();
  private readonly byTelnyxId = new Map<string, Watch>();
  private readonly byReference = new Map<string, Watch>();
  private readonly settled = new Map<string, true>();
  private readonly settling = new Set<string>();
  private stopped = false;

  constructor(private readonly opts: TelnyxProviderOptions) {
    if (typeof opts.apiKey !== 'string' || opts.apiKey.trim() === '') throw new Error('telnyx: an API key is required (TELNYX_API_KEY)');
    const apiUrl = opts.apiUrl ?? TELNYX_DEFAULT_API_URL;
    if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(apiUrl)) throw new Error('telnyx: the API URL must be an http(s) URL');
    this.log = opts.log.child({ provider: 'telnyx' });
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.orderBudgetMs = opts.orderBudgetMs ?? 15_000;
    this.pollMs = opts.pollIntervalMs ?? 2_000;
    this.maxPollMs = opts.maxPollIntervalMs ?? 60_000;
    this.maxWatchMs = opts.maxWatchMs ?? 24 * 3600_000;
    const sdkLog = (level: 'warn' | 'error') => (message: string) => this.log[level]({ sdk: true }, this.scrub(String(message)));
    this.client = new Telnyx({
      apiKey: opts.apiKey,
      baseURL: apiUrl.replace(/\/+$/, ''),
      // Everything explicit: the SDK would otherwise read TELNYX_* variables
      // (and with TELNYX_CLIENT_ID/SECRET set, fetch OAuth tokens from api.telnyx.com whatever the base URL).
      publicKey: null,
      clientID: null,
      clientSecret: null,
      maxRetries: 0,
      timeout: this.timeoutMs,
      logLevel: 'warn',
      logger: { error: sdkLog('error'), warn: sdkLog('warn'), info: () => undefined, debug: () => undefined },
    });
  }

  capabilities(): ProviderCapabilities {
    return {
      countries: COUNTRIES,
      numberTypes: ['local', 'toll-free'],
      filters: { local: ['areaCode', 'state', 'city'], 'toll-free': ['prefix'] },
      pricing: 'per-number',
    };
  }

  async search(f: SearchFilters): Promise<AvailableNumber[]> {
    const filter: Record<string, unknown> = {
      country_code: f.countryCode,
      phone_number_type: f.numberType === 'toll-free' ? 'toll_free' : 'local',
    };
    if (f.numberType === 'local') {
      if (f.areaCode) filter.national_destination_code = f.areaCode;
      if (f.region) filter.administrative_area = f.region;
      if (f.city) filter.locality = f.city;
    } else if (f.prefix) {
      filter.phone_number = { starts_with: callingCode(f.countryCode) + f.prefix };
    }
    filter.limit = f.limit;
    const items = await this.searchRaw('search numbers', filter);
    const out: AvailableNumber[] = [];
    for (const item of items) {
      const a = toAvailable(item, { countryCode: f.countryCode, numberType: f.numberType, areaCode: f.numberType === 'local' ? f.areaCode : f.prefix });
      if (typeof a === 'string') {
        this.log.warn({ reason: a }, 'telnyx: search result skipped');
        continue;
      }
      out.push(a);
      if (out.length >= f.limit) break;
    }
    return out;
  }

  /** "Only numbers returned by a search can be ordered": the number is searched for by its digits and must come back exactly. */
  async quote(e164: string): Promise<AvailableNumber | null> {
    const where = countriesOf(e164);
    if (!where) return null;
    for (const country of where.countries) {
      const items = await this.searchRaw('quote number', {
        country_code: country,
        phone_number_type: where.numberType === 'toll-free' ? 'toll_free' : 'local',
        phone_number: { starts_with: e164.slice(1) },
        limit: 10,
      });
      const item = items.find((i) => i.phone_number === e164);
      if (!item) continue;
      const a = toAvailable(item, { countryCode: country, numberType: where.numberType });
      if (typeof a !== 'string') return a;
      if (/cost/.test(a)) throw new ProviderError('telnyx', 'bad_response', `Telnyx offered ${e164} without a usable monthly cost`);
      return null;
    }
    return null;
  }

  async placeOrder(number: AvailableNumber, reference: string): Promise<PlacedOrder> {
    const started = Date.now();
    const left = () => this.orderBudgetMs - (Date.now() - started);
    const body = {
      phone_numbers: [{ phone_number: number.e164 }],
      ...(this.opts.connectionId ? { connection_id: this.opts.connectionId } : {}),
      customer_reference: reference,
    };
    for (let attempt = 1; ; attempt++) {
      let created: TelnyxOrder;
      try {
        const res = await this.call('create number order', (o) => this.client.numberOrders.create(body, o), Math.max(1, Math.min(this.timeoutMs, left())));
        created = this.dataOf(res, 'create number order');
      } catch (err) {
        const failure = failureOf(err);
        if (!mayHaveActed(failure)) throw this.toProviderError('create number order', failure);
        // Telnyx may have created it: ask by our reference before answering.
        this.log.warn(
          { reference, attempt, failure: failure.type, status: failure.type === 'http' ? failure.status : undefined },
          'telnyx: no answer to the order; looking it up by customer_reference',
        );
        if (left() <= 0) return this.unknownOrder(reference, number.e164);
        let found: TelnyxOrder | null;
        try {
          found = await this.findOrderByReference(reference, number.e164, Math.max(1, Math.min(this.timeoutMs, left())));
        } catch {
          return this.unknownOrder(reference, number.e164);
        }
        if (found) return this.accepted(found, number, reference);
        // Not created. A lost connection or a timeout is worth one more try; a 5xx is Telnyx saying it failed.
        if (attempt === 1 && (failure.type === 'timeout' || failure.type === 'connection') && left() > 0) continue;
        throw this.toProviderError('create number order', failure);
      }
      return this.accepted(created, number, reference);
    }
  }

  async getOrder(orderId: string, e164: string): Promise<{ status: OrderStatus; providerNumberId?: string; reason?: string }> {
    const order = await this.fetchOrder(orderId, e164, this.timeoutMs);
    if (!order) return { status: 'unknown' };
    const state = orderState(order, e164);
    if (state.status === 'pending') return { status: 'pending' };
    // The caller learns the result here: the watch of this order ends without an update.
    const w = this.watches.get(orderId);
    if (w) this.finish(w, order);
    else this.remember(orderId, order);
    if (state.status === 'failure') return { status: 'failed', reason: state.reason };
    const id = await this.numberIdOrNull(e164);
    return id ? { status: 'active', providerNumberId: id } : { status: 'active' };
  }

  async release(e164: string, orderId: string | null, providerNumberId: string | null): Promise<void> {
    const w = orderId ? this.watchOf(orderId) : undefined;
    if (w) {
      // Nobody waits for it any more; if it completes after all, the number goes back.
      w.silent = true;
      w.releaseOnSuccess = true;
    }
    if (providerNumberId && (await this.deleteNumber(providerNumberId))) {
      // The number existed, so its order had succeeded: nothing left to watch.
      if (w) this.finish(w, {});
      return;
    }
    // No id, or an id Telnyx does not know: find the number by its digits.
    const id = await this.findNumberId(e164, this.timeoutMs);
    if (id) {
      await this.deleteNumber(id);
      if (w) this.finish(w, {});
      return;
    }
    if (orderId && !w && !this.settled.has(orderId)) {
      // Not (yet) ours: its order may still complete. Watch it and give the number back if it does.
      this.watch(orderId, e164, { silent: true, releaseOnSuccess: true });
    }
  }

  async importNumber(e164: string): Promise<{ number: AvailableNumber; providerNumberId: string }> {
    const rec = await this.findNumber(e164, this.timeoutMs);
    if (!rec) throw new ProviderError('telnyx', 'not_found', `${e164} is not a number of this Telnyx account`);
    if (this.opts.connectionId && rec.connection_id !== this.opts.connectionId) {
      const connectionId = this.opts.connectionId;
      await this.call('point number at connection', (o) => this.client.phoneNumbers.update(rec.id, { connection_id: connectionId }, o));
      this.log.info({ e164, from: rec.connection_id ?? null }, 'telnyx: imported number now points at our connection');
    } else if (!this.opts.connectionId) {
      this.log.warn({ e164 }, 'telnyx: no TELNYX_CONNECTION_ID: the imported number keeps its connection');
    }
    const parsed = parsePhone(e164);
    const number: AvailableNumber = {
      e164,
      countryCode: rec.country_iso_alpha2 ?? parsed?.country ?? '',
      numberType: rec.phone_number_type === 'toll_free' ? 'toll-free' : 'local',
      areaCode: areaCodeOf(e164),
      city: null,
      region: null,
      // Telnyx's phone number record carries no price (it is on the account's
      // invoice, not the number): an imported number is shown at no cost.
      monthlyCost: 0,
      currency: 'USD',
    };
    return { number, providerNumberId: rec.id };
  }

  async owned(): Promise<OwnedNumber[] | null> {
    const out: OwnedNumber[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const res = await this.call('list numbers', (o) => this.client.phoneNumbers.list({ 'page[number]': page, 'page[size]': 250 }, o));
      const data = Array.isArray(res.data) ? res.data : null;
      if (!data) throw new ProviderError('telnyx', 'bad_response', 'Telnyx listed phone numbers without a data array');
      for (const n of data) {
        if (typeof n?.phone_number !== 'string' || typeof n.id !== 'string' || GONE_STATUSES.has(n.status)) continue;
        out.push({ e164: n.phone_number, providerNumberId: n.id, voiceTarget: n.connection_id ?? null });
      }
      const totalPages = typeof res.meta?.total_pages === 'number' ? res.meta.total_pages : null;
      if (data.length === 0 || totalPages === null || page >= totalPages) return out;
    }
    throw new ProviderError('telnyx', 'bad_response', `Telnyx listed more than ${MAX_PAGES} pages of phone numbers`);
  }

  expectedVoiceTarget(): string | null {
    return this.opts.connectionId ?? null;
  }

  onOrderUpdate(listener: (update: OrderUpdate) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Watches an order placed before a restart (the services' recovery calls
   * it for every number still purchasing), until it settles: its result then
   * reaches onOrderUpdate. `ref:` ids are looked up by customer_reference.
   */
  track(orderId: string, e164: string): void {
    this.watch(orderId, e164, {});
  }

  /**
   * A `number_order.complete` webhook whose signature the caller checked
   * (POST /carriers/telnyx/events). Settles the order once, whatever the
   * polling did; duplicates and events that settle nothing are recognised.
   * Answer Telnyx 2xx whatever this returns (it would only resend).
   */
  async handleEvent(body: unknown): Promise<'settled' | 'duplicate' | 'ignored'> {
    // Shutting down: polling (or the next process's track()) settles it instead.
    if (this.stopped) return 'ignored';
    const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
    if (!data || typeof data !== 'object') return 'ignored';
    const { event_type: type, payload } = data as { event_type?: unknown; payload?: unknown };
    if (type !== 'number_order.complete' || !payload || typeof payload !== 'object') return 'ignored';
    const order = payload as TelnyxOrder;
    const id = typeof order.id === 'string' && order.id !== '' ? order.id : null;
    const reference = typeof order.customer_reference === 'string' && order.customer_reference !== '' ? order.customer_reference : null;
    let w: Watch | undefined = id ? (this.byTelnyxId.get(id) ?? this.watches.get(id)) : undefined;
    if (!w && reference) w = this.byReference.get(reference);
    if (!w) {
      // An order this process does not watch (placed by another instance, or
      // before a restart and not tracked yet): its result is news all the same.
      const e164 = orderNumbers(order).find((p) => typeof p.phone_number === 'string')?.phone_number;
      const key = id ?? (reference ? `ref:${reference}` : null);
      if (!e164 || !key) return 'ignored';
      w = this.newWatch(key, e164, id, reference);
    }
    if (this.settled.has(w.key) || this.settling.has(w.key)) return 'duplicate';
    let state: TelnyxOrderState;
    try {
      state = orderState(order, w.e164);
    } catch {
      return 'ignored';
    }
    if (state.status === 'pending') return 'ignored';
    if (id && !w.telnyxId) this.index(w, id);
    return (await this.settle(w, order, state)) ? 'settled' : 'duplicate';
  }

  async start(): Promise<void> {
    this.stopped = false;
    for (const w of this.watches.values()) this.arm(w, this.pollMs);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
    }
  }

  // --- orders ---------------------------------------------------------------

  /** An order Telnyx accepted: watched until it settles; refused when Telnyx holds it for regulatory requirements. */
  private accepted(order: TelnyxOrder, number: AvailableNumber, reference: string): PlacedOrder {
    if (typeof order.id !== 'string' || order.id === '') throw new ProviderError('telnyx', 'bad_response', 'Telnyx accepted the order without an id');
    let state: TelnyxOrderState;
    try {
      state = orderState(order, number.e164);
    } catch {
      // A status we do not know on an order that exists: watch it like any other.
      state = { status: 'pending', requirementsMet: true, requirementsStatus: null };
    }
    if (state.status === 'pending' && !state.requirementsMet) {
      // Telnyx holds the order until documents are approved: nothing the
      // buyer can wait for here. The order is watched silently, and the
      // number given back should it ever complete.
      this.watch(order.id, number.e164, { reference, silent: true, releaseOnSuccess: true });
      throw new ProviderError(
        'telnyx',
        'regulatory',
        `Telnyx holds ${number.countryCode} numbers until regulatory requirements are met (${state.requirementsStatus ?? 'requirements not met'}): ` +
          `add a requirement group or bundle (address and identity documents) for ${number.countryCode} in the Telnyx portal, then buy again`,
        { code: state.requirementsStatus ?? 'requirements_not_met' },
      );
    }
    this.watch(order.id, number.e164, { reference });
    return { outcome: 'pending', orderId: order.id };
  }

  private unknownOrder(reference: string, e164: string): PlacedOrder {
    const orderId = `ref:${reference}`;
    this.log.warn({ reference }, 'telnyx: cannot tell whether the order exists; it will be looked up by customer_reference');
    this.watch(orderId, e164, { reference });
    return { outcome: 'unknown', orderId };
  }

  /** The order, or null when Telnyx knows no such order. */
  private async fetchOrder(orderId: string, e164: string, timeoutMs: number): Promise<TelnyxOrder | null> {
    if (orderId.startsWith('ref:')) return this.findOrderByReference(orderId.slice(4), e164, timeoutMs);
    try {
      const res = await this.call('get number order', (o) => this.client.numberOrders.retrieve(orderId, o), timeoutMs);
      return this.dataOf(res, 'get number order');
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'not_found') return null;
      throw err;
    }
  }

  private async findOrderByReference(reference: string, e164: string, timeoutMs: number): Promise<TelnyxOrder | null> {
    const page = await this.call('find number order', (o) => this.client.numberOrders.list({ filter: { customer_reference: reference } }, o), timeoutMs);
    if (!Array.isArray(page.data)) throw new ProviderError('telnyx', 'bad_response', 'Telnyx listed number orders without a data array');
    const rank = (o: TelnyxOrder) => (o.status === 'success' ? 0 : o.status === 'pending' ? 1 : 2);
    const matches = (page.data as TelnyxOrder[])
      .filter((o) => o && o.customer_reference === reference && typeof o.id === 'string')
      .filter((o) => {
        const numbers = orderNumbers(o);
        return numbers.length === 0 || numbers.some((p) => p.phone_number === e164);
      })
      .sort((a, b) => rank(a) - rank(b) || createdAt(b).localeCompare(createdAt(a)));
    const best = matches[0];
    if (!best) return null;
    // The list's numbers may be abbreviated: the order itself says more.
    if (orderNumbers(best).length === 0) return { ...best, phone_numbers: [{ phone_number: e164 }] };
    return best;
  }

  // --- watching -------------------------------------------------------------

  private watch(key: string, e164: string, o: { reference?: string; silent?: boolean; releaseOnSuccess?: boolean }): void {
    if (this.settled.has(key)) return;
    const existing = this.watchOf(key);
    if (existing) {
      existing.silent ||= o.silent ?? false;
      existing.releaseOnSuccess ||= o.releaseOnSuccess ?? false;
      return;
    }
    const ref = key.startsWith('ref:') ? key.slice(4) : (o.reference ?? null);
    const w = this.newWatch(key, e164, key.startsWith('ref:') ? null : key, ref);
    w.silent = o.silent ?? false;
    w.releaseOnSuccess = o.releaseOnSuccess ?? false;
    this.watches.set(key, w);
    if (w.telnyxId) this.byTelnyxId.set(w.telnyxId, w);
    if (w.reference) this.byReference.set(w.reference, w);
    this.arm(w, this.pollMs);
  }

  private newWatch(key: string, e164: string, telnyxId: string | null, reference: string | null): Watch {
    return { key, telnyxId, reference, e164, since: Date.now(), delayMs: this.pollMs, timer: null, silent: false, releaseOnSuccess: false, notFound: 0 };
  }

  private watchOf(orderId: string): Watch | undefined {
    return this.watches.get(orderId) ?? this.byTelnyxId.get(orderId);
  }

  private index(w: Watch, telnyxId: string): void {
    w.telnyxId = telnyxId;
    if (this.watches.get(w.key) === w) this.byTelnyxId.set(telnyxId, w);
  }

  private arm(w: Watch, delayMs: number): void {
    if (this.stopped || this.watches.get(w.key) !== w) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = null;
      this.poll(w).catch((err: unknown) => this.log.warn({ orderId: w.key, err: this.scrub(String(err)) }, 'telnyx: order poll failed'));
    }, delayMs);
    w.timer.unref();
  }

  private async poll(w: Watch): Promise<void> {
    if (this.stopped || this.watches.get(w.key) !== w) return;
    if (Date.now() - w.since > this.maxWatchMs) {
      this.log.warn({ orderId: w.key }, 'telnyx: order still pending after the longest watch; no longer polled');
      this.unwatch(w);
      return;
    }
    try {
      const order = await this.fetchOrder(w.telnyxId ?? w.key, w.e164, this.timeoutMs);
      // Stopped meanwhile: start() polls it again rather than settling it with nobody to tell.
      if (this.stopped || this.watches.get(w.key) !== w) return;
      if (!order) {
        if (++w.notFound >= NOT_FOUND_LIMIT) {
          this.log.warn({ orderId: w.key }, 'telnyx: no such order at Telnyx; no longer polled');
          this.unwatch(w);
          return;
        }
      } else {
        if (!w.telnyxId && typeof order.id === 'string') this.index(w, order.id);
        const state = orderState(order, w.e164);
        if (state.status !== 'pending') {
          await this.settle(w, order, state);
          return;
        }
      }
    } catch (err) {
      this.log.warn({ orderId: w.key, err: err instanceof ProviderError ? err.message : this.scrub(String(err)) }, 'telnyx: order poll failed; will retry');
    }
    w.delayMs = Math.min(Math.round(w.delayMs * 1.5), this.maxPollMs);
    this.arm(w, w.delayMs);
  }

  /** Delivers an order's result once (whichever of the poll and the webhook gets here first). Returns false for a duplicate. */
  private async settle(w: Watch, order: TelnyxOrder, state: Exclude<TelnyxOrderState, { status: 'pending' }>): Promise<boolean> {
    if (this.settled.has(w.key) || this.settling.has(w.key)) return false;
    this.settling.add(w.key);
    try {
      let update: OrderUpdate;
      if (state.status === 'success') {
        const id = await this.numberIdOrNull(w.e164);
        if (w.releaseOnSuccess) await this.giveBack(w.e164, id);
        update = id ? { orderId: w.key, e164: w.e164, status: 'active', providerNumberId: id } : { orderId: w.key, e164: w.e164, status: 'active' };
      } else {
        update = { orderId: w.key, e164: w.e164, status: 'failed', reason: state.reason };
      }
      this.finish(w, order);
      if (!w.silent && !this.stopped) this.emit(update);
      return true;
    } finally {
      this.settling.delete(w.key);
    }
  }

  /** The order is settled: no more polls, and later news of it is a duplicate. */
  private finish(w: Watch, order: TelnyxOrder): void {
    this.remember(w.key, order);
    if (w.telnyxId) this.remember(w.telnyxId, order);
    this.unwatch(w);
  }

  private remember(key: string, order: TelnyxOrder): void {
    this.settled.set(key, true);
    if (typeof order.id === 'string') this.settled.set(order.id, true);
    while (this.settled.size > SETTLED_MEMORY) this.settled.delete(this.settled.keys().next().value!);
  }

  private unwatch(w: Watch): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (this.watches.get(w.key) === w) this.watches.delete(w.key);
    if (w.telnyxId && this.byTelnyxId.get(w.telnyxId) === w) this.byTelnyxId.delete(w.telnyxId);
    if (w.reference && this.byReference.get(w.reference) === w) this.byReference.delete(w.reference);
  }

  private emit(update: OrderUpdate): void {
    for (const l of this.listeners) {
      try {
        l(update);
      } catch (err) {
        this.log.error({ err, orderId: update.orderId }, 'telnyx: order update listener threw');
      }
    }
  }

  /** A number bought by an order nobody wanted any more. */
  private async giveBack(e164: string, id: string | null): Promise<void> {
    try {
      const target = id ?? (await this.findNumberId(e164, this.timeoutMs));
      if (target) await this.deleteNumber(target);
      this.log.info({ e164 }, 'telnyx: released a number whose order completed after it was abandoned');
    } catch (err) {
      this.log.warn(
        { e164, err: err instanceof ProviderError ? err.message : 'error' },
        'telnyx: could not release a number bought by an abandoned order; reconciliation will show it',
      );
    }
  }

  // --- numbers --------------------------------------------------------------

  private async findNumber(e164: string, timeoutMs: number) {
    // filter[phone_number] takes digits only ("non-numerical characters will
    // result in no values") and matches partially: the exact number is picked here.
    const res = await this.call(
      'find number',
      (o) => this.client.phoneNumbers.list({ filter: { phone_number: e164.replace(/\D/g, '') }, 'page[size]': 100 }, o),
      timeoutMs,
    );
    if (!Array.isArray(res.data)) throw new ProviderError('telnyx', 'bad_response', 'Telnyx listed phone numbers without a data array');
    return res.data.find((n) => n?.phone_number === e164 && typeof n.id === 'string' && !GONE_STATUSES.has(n.status)) ?? null;
  }

  private async findNumberId(e164: string, timeoutMs: number): Promise<string | null> {
    return (await this.findNumber(e164, timeoutMs))?.id ?? null;
  }

  private async numberIdOrNull(e164: string): Promise<string | null> {
    try {
      return await this.findNumberId(e164, this.timeoutMs);
    } catch {
      // The update goes out without the id; release() finds the number by its digits.
      return null;
    }
  }

  /** DELETE /phone_numbers/{id}: true if deleted, false if Telnyx has no such number (already gone). */
  private async deleteNumber(id: string): Promise<boolean> {
    try {
      await this.call('release number', (o) => this.client.phoneNumbers.delete(id, o));
      return true;
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'not_found') return false;
      throw err;
    }
  }

  // --- requests -------------------------------------------------------------

  private async searchRaw(op: string, filter: Record<string, unknown>): Promise<TelnyxAvailable[]> {
    // filter[features][]=voice as carriers.md writes it; the SDK's typed
    // `features: ['voice']` would send filter[features]=voice (its arrays are comma-joined).
    const res = await this.call(op, (o) => this.client.availablePhoneNumbers.list(undefined, { ...o, query: { filter, 'filter[features][]': 'voice' } }));
    if (!res || typeof res !== 'object' || !Array.isArray(res.data))
      throw new ProviderError('telnyx', 'bad_response', 'Telnyx answered the number search without a data array');
    return res.data;
  }

  private dataOf(res: { data?: unknown } | null | undefined, op: string): TelnyxOrder {
    const data = res && typeof res === 'object' ? res.data : undefined;
    if (!data || typeof data !== 'object') throw new ProviderError('telnyx', 'bad_response', `Telnyx answered "${op}" without data`);
    return data;
  }

  /** One SDK request under our deadline (body included); failures become ProviderErrors, or TelnyxCallErrors for placeOrder to look at. */
  private async call<T>(
    op: string,
    fn: (o: { signal: AbortSignal; timeout: number; maxRetries: 0 }) => PromiseLike<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await fn({ signal, timeout: timeoutMs, maxRetries: 0 });
    } catch (err) {
      const failure: Failure = signal.aborted ? { type: 'timeout' } : classifyError(err);
      if (op === 'create number order') throw new TelnyxCallError(op, failure);
      throw this.toProviderError(op, failure);
    }
  }

  private toProviderError(op: string, f: Failure): ProviderError {
    const e = (kind: ConstructorParameters<typeof ProviderError>[1], message: string, details?: ConstructorParameters<typeof ProviderError>[3]) => {
      const err = new ProviderError('telnyx', kind, this.scrub(message), details);
      // A 404 is an answer (already released, not ours), not trouble.
      this.log[kind === 'not_found' ? 'debug' : 'warn']({ op, kind, status: details?.status, code: details?.code }, `telnyx: ${err.message}`);
      return err;
    };
    switch (f.type) {
      case 'timeout':
        return e('unavailable_provider', `Telnyx did not answer "${op}" in time`);
      case 'unreachable':
      case 'connection':
        return e('unavailable_provider', `Telnyx could not be reached for "${op}" (${f.code})`);
      case 'bad_response':
        return e('bad_response', `Telnyx's answer to "${op}" could not be read (${f.message})`);
      case 'http': {
        const what = describeErrors(f.items, (s) => this.scrub(s));
        const details = { status: f.status, ...(f.items[0]?.code ? { code: f.items[0].code } : {}) };
        const said = what ? `: ${what}` : '';
        if (f.status === 401 || f.status === 403) return e('auth', `Telnyx refused our API key for "${op}" (HTTP ${f.status}); check TELNYX_API_KEY`, details);
        if (f.status === 429)
          return e('unavailable_provider', `Telnyx is rate limiting "${op}" (HTTP 429)`, {
            ...details,
            ...(f.retryAfterS !== undefined ? { retryAfterS: f.retryAfterS } : {}),
          });
        if (f.status >= 500 || f.status === 408) return e('unavailable_provider', `Telnyx failed "${op}" (HTTP ${f.status})${said}`, details);
        if (f.status === 404) return e('not_found', `Telnyx found nothing for "${op}"${said}`, details);
        const kind = classify4xx(f.items);
        if (kind === 'regulatory') {
          return e(
            'regulatory',
            `Telnyx needs regulatory requirements met before it sells this number${said}. Add a requirement group or bundle (address and identity documents) for the country in the Telnyx portal`,
            details,
          );
        }
        if (kind === 'unavailable') return e('unavailable', `Telnyx can no longer sell this number${said}`, details);
        return e('invalid_request', `Telnyx refused "${op}" as invalid (HTTP ${f.status})${said}`, details);
      }
    }
  }

  /** Nothing secret leaves in a message: the API key is cut out of anything Telnyx (or a proxy) echoed. */
  private scrub(s: string): string {
    const key = this.opts.apiKey;
    return key.length >= 4 ? s.split(key).join('[redacted]') : s;
  }
}

/** The SDK's errors → a Failure. */
function classifyError(err: unknown): Failure {
  if (err instanceof APIUserAbortError) return { type: 'timeout' };
  if (err instanceof APIConnectionError) {
    // APIConnectionTimeoutError is a subclass; undici puts the socket's code in the cause chain.
    if (/timed? ?out/i.test(err.message)) return { type: 'timeout' };
    const code = causeCode(err) ?? 'connection error';
    return NEVER_CONNECTED.has(code) ? { type: 'unreachable', code } : { type: 'connection', code };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const headers = err.headers as Headers | undefined;
    const retryAfter = headers?.get('retry-after') ?? null;
    return { type: 'http', status: err.status, items: errorItems(err.error), retryAfterS: parseRetryAfter(retryAfter) };
  }
  if (err instanceof ProviderError) return { type: 'bad_response', message: err.message };
  // JSON that does not parse, a body that ends early...
  return { type: 'bad_response', message: err instanceof Error ? err.name : 'unexpected error' };
}

/** Connection errors that happen before a request is sent: Telnyx cannot have acted. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL']);

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function createdAt(o: TelnyxOrder): string {
  return typeof o.created_at === 'string' ? o.created_at : '';
}

function parseRetryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d{1,6}$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Whether Telnyx may have created the order although we heard no success: it must be looked up before answering. */
function mayHaveActed(f: Failure): boolean {
  // bad_response: Telnyx answered something we could not read, so it did act.
  if (f.type === 'timeout' || f.type === 'connection' || f.type === 'bad_response') return true;
  return f.type === 'http' && (f.status >= 500 || f.status === 408);
}

function failureOf(err: unknown): Failure {
  if (err instanceof TelnyxCallError) return err.failure;
  if (err instanceof ProviderError) return { type: 'bad_response', message: err.message };
  return classifyError(err);
}
