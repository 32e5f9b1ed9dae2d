/**
 * Monthly prices from Twilio's Pricing API
 * (`GET https://pricing.twilio.com/v1/PhoneNumbers/Countries/{CC}`).
 *
 * Twilio prices numbers per country and number type, not per number: every
 * local number in the US costs the same, so one answer prices a whole search
 * and is cached per country for an hour (prices change rarely and with notice).
 * Concurrent searches share one request; a failed one is not cached.
 */
import type { Country } from '../../domain/phone.js';
import type { NumberType } from '../../domain/types.js';

/** One price per number type, in minor units of `currency`. */
export interface CountryPrices {
  currency: string;
  monthly: Partial<Record<NumberType, number>>;
}

/** The Pricing API's answer, as the SDK hands it over (its field names). */
export interface PricingAnswer {
  priceUnit?: string | null;
  phoneNumberPrices?: Array<{ numberType?: string | null; basePrice?: unknown; currentPrice?: unknown }> | null;
}

/** Twilio's `number_type` for ours. */
const TWILIO_TYPE: Record<NumberType, string> = { local: 'local', 'toll-free': 'toll free' };

export const PRICE_TTL_MS = 60 * 60 * 1000;

/** Decimal digits of a currency's minor unit (USD 2, JPY 0, BHD 3). */
function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** A price as Twilio writes it ("1.15", or a number: the OpenAPI file says number) in minor units, or null. */
export function toMinorUnits(price: unknown, currency: string): number | null {
  const n = typeof price === 'number' ? price : typeof price === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(price) ? Number(price) : NaN;
  if (!Number.isFinite(n) || n < 0) return null;
  return Math.round(n * 10 ** minorDigits(currency));
}

/** The prices we can use from one answer; null when it has no currency or no readable price. */
export function parsePrices(answer: PricingAnswer): CountryPrices | null {
  const currency = typeof answer.priceUnit === 'string' && /^[a-z]{3}$/i.test(answer.priceUnit) ? answer.priceUnit.toUpperCase() : null;
  if (!currency || !Array.isArray(answer.phoneNumberPrices)) return null;
  const monthly: CountryPrices['monthly'] = {};
  for (const [ours, theirs] of Object.entries(TWILIO_TYPE) as Array<[NumberType, string]>) {
    const row = answer.phoneNumberPrices.find((p) => p.numberType?.toLowerCase() === theirs);
    // What the account pays now (a promotion or a discount changes it); the list price otherwise.
    const price = row ? (toMinorUnits(row.currentPrice, currency) ?? toMinorUnits(row.basePrice, currency)) : null;
    if (price !== null) monthly[ours] = price;
  }
  return Object.keys(monthly).length > 0 ? { currency, monthly } : null;
}

export class PriceCache {
  private readonly entries = new Map<Country, { at: number; prices: Promise<CountryPrices> }>();

  constructor(
    private readonly fetchPrices: (country: Country) => Promise<CountryPrices>,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = PRICE_TTL_MS,
  ) {}

  get(country: Country): Promise<CountryPrices> {
    const hit = this.entries.get(country);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.prices;
    const prices = this.fetchPrices(country);
    const entry = { at: this.now(), prices };
    this.entries.set(country, entry);
    prices.catch(() => {
      if (this.entries.get(country) === entry) this.entries.delete(country);
    });
    return prices;
  }
}
