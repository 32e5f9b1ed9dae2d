/**
 * Twilio as a number provider, through the official `twilio` SDK
 * (carriers.md, "Twilio numbers REST API").
 *
 * Twilio buys in one request: placeOrder answers `active` with the
 * IncomingPhoneNumber's sid (PN…), which is both the order id and the
 * provider's id for the number. It has no idempotency key, so a purchase whose
 * answer was lost (timeout, reset, 5xx) is settled by looking the number up in
 * the account before anything else: found → ours; not found → one more try;
 * still unknown → `unknown` with the order id `lookup:<e164>`, which getOrder
 * settles the same way later. A number is never bought twice nor a bought one
 * lost.
 *
 * Numbers bought or imported here point their voice URL and status callback
 * at this gateway (SWITCHBOARD_PUBLIC_URL + /carriers/twilio/...).
 */
import type { Logger } from 'pino';
import twilio from 'twilio';
import { COUNTRIES, type Country } from '../../domain/phone.js';
import type { AvailableNumber, NumberType } from '../../domain/types.js';
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
import { classify } from './errors.js';
import { TwilioHttpClient, parseBase, type TwilioHttpHooks } from './http-client.js';
import { listingOf, searchQuery, takesCalls, toAvailable, type TwilioAvailable } from './numbers.js';
import { PriceCache, parsePrices, type CountryPrices } from './pricing.js';

export interface TwilioProviderOptions {
  accountSid: string;
  authToken: string;
  /** Replaces scheme and host of every Twilio API called (api.twilio.com, pricing.twilio.com); paths stay. */
  apiUrl?: string | undefined;
  /** pricing.twilio.com's replacement when it differs from apiUrl's (the contract tests' second Prism). */
  pricingUrl?: string | undefined;
  /** The gateway's SWITCHBOARD_PUBLIC_URL. */
  publicUrl: () => string;
  log: Logger;
  requestTimeoutMs?: number | undefined;
  /** Test-only: see TwilioHttpHooks. */
  httpHooks?: TwilioHttpHooks | undefined;
}

/** An IncomingPhoneNumber as the SDK hands it over (the fields used here). */
interface Incoming {
  sid: string;
  phoneNumber: string;
  voiceUrl?: string | null;
}

const PN_SID = /^PN[0-9a-fA-F]{32}$/;
const LOOKUP = 'lookup:';
/** FriendlyName is at most 64 characters at Twilio. */
const FRIENDLY_MAX = 64;

function badAnswer(what: string): ProviderError {
  return new ProviderError('twilio', 'bad_response', `Twilio's answer to ${what} lacks the fields Switchboard needs`);
}

function asIncoming(x: unknown, what: string): Incoming {
  const r = x as Partial<Incoming> | null;
  if (typeof r?.sid !== 'string' || !PN_SID.test(r.sid) || typeof r.phoneNumber !== 'string') throw badAnswer(what);
  return { sid: r.sid, phoneNumber: r.phoneNumber, voiceUrl: r.voiceUrl ?? null };
}

export class TwilioProvider implements NumberProvider {
  readonly name = 'twilio' as const;
  private readonly client: twilio.Twilio;
  private readonly log: Logger;
  private readonly prices: PriceCache;
  private readonly listeners: Array<(u: OrderUpdate) => void> = [];

  constructor(private readonly opts: TwilioProviderOptions) {
    const apiBase = parseBase(opts.apiUrl, 'apiUrl');
    const httpClient = new TwilioHttpClient({
      apiBase,
      pricingBase: parseBase(opts.pricingUrl, 'pricingUrl') ?? apiBase,
      timeoutMs: opts.requestTimeoutMs ?? 10_000,
      hooks: opts.httpHooks,
    });
    // logLevel pinned: TWILIO_LOG_LEVEL=debug would make the SDK print every request to stdout.
    this.client = twilio(opts.accountSid, opts.authToken, { httpClient, autoRetry: false, logLevel: 'info' });
    this.log = opts.log.child({ provider: 'twilio' });
    this.prices = new PriceCache((country) => this.fetchPrices(country));
  }

  capabilities(): ProviderCapabilities {
    return {
      countries: COUNTRIES,
      numberTypes: ['local', 'toll-free'],
      filters: { local: ['areaCode', 'state', 'city'], 'toll-free': ['prefix'] },
      pricing: 'per-country',
    };
  }

  expectedVoiceTarget(): string {
    return `${this.opts.publicUrl()}/carriers/twilio/voice`;
  }

  async search(f: SearchFilters): Promise<AvailableNumber[]> {
    const query = searchQuery(f);
    const [records, prices] = await Promise.all([this.listAvailable(f.countryCode, f.numberType, query), this.pricesFor(f.countryCode, f.numberType)]);
    return this.toAvailableList(records, f.countryCode, f.numberType, prices).slice(0, f.limit);
  }

  /**
   * Twilio cannot fetch one available number: search its country and type with
   * the whole number as Contains (anchored by its `+`) and keep an exact match.
   */
  async quote(e164: string): Promise<AvailableNumber | null> {
    const listing = listingOf(e164);
    if (!listing) return null;
    for (const country of listing.countries) {
      const records = await this.listAvailable(country, listing.numberType, { contains: e164, voiceEnabled: true, pageSize: 10 });
      const match = records.filter((r) => r.phoneNumber === e164);
      if (match.length === 0) continue;
      const prices = await this.pricesFor(country, listing.numberType);
      return this.toAvailableList(match, country, listing.numberType, prices)[0] ?? null;
    }
    return null;
  }

  async placeOrder(number: AvailableNumber, reference: string): Promise<PlacedOrder> {
    const first = await this.buy(number, reference);
    if (first.ok) return first.placed;
    // We do not know whether Twilio bought it: the account tells.
    const owned = await this.lookupOrNull(number.e164);
    if (owned === undefined) return this.unknown(number.e164, 'the purchase and the lookup both failed');
    if (owned) return this.recovered(owned, 'found in the account after a lost answer');
    this.log.warn({ e164: number.e164 }, 'twilio: purchase answer lost and the number is not in the account; buying once more');
    const second = await this.buy(number, reference, true);
    if (second.ok) return second.placed;
    const again = await this.lookupOrNull(number.e164);
    if (again) return this.recovered(again, 'found in the account after a second lost answer');
    return this.unknown(number.e164, 'the second purchase attempt was not answered either');
  }

  async getOrder(orderId: string, e164: string): Promise<{ status: OrderStatus; providerNumberId?: string; reason?: string }> {
    if (PN_SID.test(orderId)) {
      try {
        const pn = asIncoming(await this.client.api.v2010.account.incomingPhoneNumbers(orderId).fetch(), 'a number fetch');
        return { status: 'active', providerNumberId: pn.sid };
      } catch (err) {
        const e = this.failure(err, { op: 'a number fetch' });
        if (e.kind === 'not_found') return { status: 'failed', reason: 'the number is no longer in the Twilio account' };
        if (e.kind === 'unavailable_provider' || e.kind === 'bad_response') return { status: 'unknown', reason: e.message };
        throw e;
      }
    }
    if (orderId.startsWith(LOOKUP)) {
      const number = orderId.slice(LOOKUP.length) || e164;
      const owned = await this.lookupOrNull(number);
      if (owned === undefined) return { status: 'unknown', reason: 'Twilio is unreachable' };
      if (owned) return { status: 'active', providerNumberId: owned.sid };
      return { status: 'failed', reason: 'Twilio did not buy the number (it is not in the account)' };
    }
    throw new ProviderError('twilio', 'invalid_request', `not a Twilio order id: ${orderId}`);
  }

  async release(e164: string, orderId: string | null, providerNumberId: string | null): Promise<void> {
    const sid = [providerNumberId, orderId].find((id) => id !== null && PN_SID.test(id)) ?? (await this.lookup(e164))?.sid;
    if (!sid) return; // not in the account: nothing to give back
    try {
      await this.client.api.v2010.account.incomingPhoneNumbers(sid).remove();
      this.log.info({ e164, sid }, 'twilio: number released');
    } catch (err) {
      const e = this.failure(err, { op: 'a release' });
      if (e.kind === 'not_found') return; // released already (here or in the console): idempotent
      throw e;
    }
  }

  async importNumber(e164: string): Promise<{ number: AvailableNumber; providerNumberId: string }> {
    const owned = await this.lookup(e164);
    if (!owned) throw new ProviderError('twilio', 'not_found', `the Twilio account does not own ${e164}`);
    const listing = listingOf(e164);
    if (!listing) throw new ProviderError('twilio', 'invalid_request', `${e164} is not a number of a country Switchboard sells in`);
    // A North American toll-free number belongs to the US and Canada alike: the first, US, is as good (same prices).
    const country = listing.countries[0]!;
    const prices = await this.pricesFor(country, listing.numberType);
    try {
      await this.client.api.v2010.account.incomingPhoneNumbers(owned.sid).update(this.webhooks());
    } catch (err) {
      throw this.failure(err, { op: 'a number update', country });
    }
    const number = toAvailable({ phoneNumber: owned.phoneNumber }, country, listing.numberType, prices);
    if (!number) throw badAnswer('a number lookup');
    this.log.info({ e164, sid: owned.sid }, 'twilio: number imported, its calls now come here');
    return { number, providerNumberId: owned.sid };
  }

  async owned(): Promise<OwnedNumber[]> {
    try {
      const all = await this.client.api.v2010.account.incomingPhoneNumbers.list({ pageSize: 1000 });
      return all.map((r) => {
        const pn = asIncoming(r, 'the number list');
        return { e164: pn.phoneNumber, providerNumberId: pn.sid, voiceTarget: pn.voiceUrl || null };
      });
    } catch (err) {
      throw this.failure(err, { op: 'the number list' });
    }
  }

  /** Twilio has no asynchronous orders: listeners are kept for the port and never called. */
  onOrderUpdate(listener: (u: OrderUpdate) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {}

  stop(): void {}

  /**
   * A failed call in the port's terms, logged with its HTTP status and Twilio
   * code (the SDK's error itself, which holds the request's Authorization
   * header, is never logged). A 404 is often the expected answer (a release
   * done already): debug level.
   */
  private failure(err: unknown, ctx: { op: string; country?: Country }): ProviderError {
    const { error } = classify(err, ctx);
    const level = error.kind === 'not_found' ? 'debug' : 'warn';
    this.log[level]({ op: ctx.op, kind: error.kind, status: error.details?.status, code: error.details?.code }, `twilio: ${error.message}`);
    return error;
  }

  // -- purchase ------------------------------------------------------------

  private webhooks() {
    const base = this.opts.publicUrl();
    return {
      voiceUrl: `${base}/carriers/twilio/voice`,
      voiceMethod: 'POST',
      statusCallback: `${base}/carriers/twilio/status`,
      statusCallbackMethod: 'POST',
    } as const;
  }

  /**
   * One purchase request: bought (ok), refused for sure (thrown), or not sure
   * (ok: false: a timeout, a reset, a 5xx, a 2xx we cannot read).
   */
  private async buy(number: AvailableNumber, reference: string, retry = false): Promise<{ ok: true; placed: PlacedOrder } | { ok: false }> {
    const op = 'a purchase';
    let created: unknown;
    try {
      created = await this.client.api.v2010.account.incomingPhoneNumbers.create({
        phoneNumber: number.e164,
        friendlyName: `Switchboard ${reference}`.slice(0, FRIENDLY_MAX),
        ...this.webhooks(),
      });
    } catch (err) {
      const { error, certainty } = classify(err, { op, country: number.countryCode });
      this.log.warn(
        { e164: number.e164, kind: error.kind, status: error.details?.status, code: error.details?.code, certainty, retry },
        `twilio: purchase failed: ${error.message}`,
      );
      if (certainty === 'maybe-done') return { ok: false };
      // 21422 on the second try may be our own first purchase, completed late: the lookup decides.
      if (retry && error.kind === 'unavailable') return { ok: false };
      throw error;
    }
    let pn: Incoming;
    try {
      pn = asIncoming(created, op);
    } catch {
      this.log.warn({ e164: number.e164 }, 'twilio: purchase answered without a readable number sid');
      return { ok: false }; // bought, but we cannot tell its sid: the lookup can
    }
    this.log.info({ e164: number.e164, sid: pn.sid, reference }, 'twilio: number bought');
    return { ok: true, placed: { outcome: 'active', orderId: pn.sid, providerNumberId: pn.sid } };
  }

  private recovered(pn: Incoming, how: string): PlacedOrder {
    this.log.warn({ e164: pn.phoneNumber, sid: pn.sid }, `twilio: purchase ${how}`);
    return { outcome: 'active', orderId: pn.sid, providerNumberId: pn.sid };
  }

  private unknown(e164: string, why: string): PlacedOrder {
    this.log.warn({ e164 }, `twilio: purchase outcome unknown (${why}); getOrder will look the number up`);
    return { outcome: 'unknown', orderId: LOOKUP + e164 };
  }

  // -- lookups -------------------------------------------------------------

  /**
   * The account's IncomingPhoneNumber for this number, or null. Throws
   * ProviderError. Twilio's PhoneNumber filter matches partial numbers
   * (+49211208772 also finds +492112087721), so every match is read and the
   * exact one kept.
   */
  private async lookup(e164: string): Promise<Incoming | null> {
    try {
      const found = await this.client.api.v2010.account.incomingPhoneNumbers.list({ phoneNumber: e164, pageSize: 50 });
      const first = found.map((r) => asIncoming(r, 'a number lookup')).find((r) => r.phoneNumber === e164);
      return first ?? null;
    } catch (err) {
      throw this.failure(err, { op: 'a number lookup' });
    }
  }

  /** lookup, with undefined for "could not tell" (logged by lookup). */
  private async lookupOrNull(e164: string): Promise<Incoming | null | undefined> {
    try {
      return await this.lookup(e164);
    } catch {
      return undefined;
    }
  }

  private async listAvailable(country: Country, numberType: NumberType, query: ReturnType<typeof searchQuery>): Promise<TwilioAvailable[]> {
    const listing = this.client.api.v2010.account.availablePhoneNumbers(country);
    try {
      const page = await (numberType === 'local' ? listing.local.page(query) : listing.tollFree.page(query));
      return page.instances.filter((r) => takesCalls(r.capabilities));
    } catch (err) {
      const e = this.failure(err, { op: 'a number search', country });
      // Twilio answers 404 for a country it sells no numbers of this type in.
      if (e.kind === 'not_found') return [];
      throw e;
    }
  }

  // -- prices --------------------------------------------------------------

  private async fetchPrices(country: Country): Promise<CountryPrices> {
    let answer;
    try {
      answer = await this.client.pricing.v1.phoneNumbers.countries(country).fetch();
    } catch (err) {
      throw this.failure(err, { op: 'a price lookup', country });
    }
    const prices = parsePrices(answer);
    if (!prices) throw badAnswer(`the price lookup for ${country}`);
    return prices;
  }

  private async pricesFor(country: Country, numberType: NumberType): Promise<CountryPrices> {
    const prices = await this.prices.get(country);
    if (prices.monthly[numberType] === undefined) {
      throw new ProviderError('twilio', 'bad_response', `Twilio's Pricing API has no ${numberType} price for ${country}`);
    }
    return prices;
  }

  private toAvailableList(records: TwilioAvailable[], country: Country, numberType: NumberType, prices: CountryPrices): AvailableNumber[] {
    const out: AvailableNumber[] = [];
    for (const r of records) {
      const n = toAvailable(r, country, numberType, prices);
      if (n) out.push(n);
      else this.log.warn({ country, numberType }, 'twilio: skipped a search result without a valid phone_number');
    }
    return out;
  }
}
