/**
 * Twilio's number records ↔ Switchboard's: search filters into Twilio's query
 * parameters, available and incoming numbers into AvailableNumber. Pure
 * functions, no I/O.
 */
import { getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { isSupportedCountry, type Country } from '../../domain/phone.js';
import type { AvailableNumber, NumberType } from '../../domain/types.js';
import { ProviderError, type SearchFilters } from '../provider.js';
import type { CountryPrices } from './pricing.js';

/** North American Numbering Plan countries: Twilio's AreaCode filter works there only. */
const NANP: ReadonlySet<Country> = new Set(['US', 'CA']);

/** The query parameters of `AvailablePhoneNumbers/{CC}/Local|TollFree.json`, as the SDK names them. */
export interface SearchQuery {
  areaCode?: number;
  contains?: string;
  inRegion?: string;
  inLocality?: string;
  voiceEnabled: true;
  pageSize: number;
}

/** An available number as the SDK hands it over (Local and TollFree instances share these fields). */
export interface TwilioAvailable {
  phoneNumber?: string | null;
  locality?: string | null;
  region?: string | null;
  capabilities?: unknown;
}

/** Twilio's PageSize is 1..1000 (carriers.md, "Search"). */
const MAX_PAGE_SIZE = 1000;

function invalid(message: string): ProviderError {
  return new ProviderError('twilio', 'invalid_request', message);
}

/**
 * The filters in Twilio's terms. Local: AreaCode in the US and Canada; in the
 * other countries Twilio has no area-code filter, so the area code becomes an
 * anchored Contains (`+49211`: numbers that start with it). InRegion and
 * InLocality as given. Toll-free: the prefix as Contains, `+1800*******` in
 * North America (Twilio's own example), `+49800` elsewhere. VoiceEnabled
 * always: Switchboard only sells numbers that take calls.
 */
export function searchQuery(f: SearchFilters): SearchQuery {
  const q: SearchQuery = { voiceEnabled: true, pageSize: Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(f.limit))) };
  const cc = getCountryCallingCode(f.countryCode);
  const nanp = NANP.has(f.countryCode);
  if (f.numberType === 'local') {
    if (f.areaCode) {
      if (!(nanp ? /^[2-9]\d\d$/ : /^\d{1,5}$/).test(f.areaCode)) throw invalid(`not an area code in ${f.countryCode}: ${f.areaCode}`);
      if (nanp) q.areaCode = Number(f.areaCode);
      else q.contains = `+${cc}${f.areaCode}`;
    }
    if (f.region) q.inRegion = f.region;
    if (f.city) q.inLocality = f.city;
  } else if (f.prefix) {
    if (!(nanp ? /^8\d\d$/ : /^\d{1,5}$/).test(f.prefix)) throw invalid(`not a toll-free prefix in ${f.countryCode}: ${f.prefix}`);
    q.contains = nanp ? `+1${f.prefix}*******` : `+${cc}${f.prefix}`;
  }
  return q;
}

/**
 * The area code of a number: the national destination code, i.e. the first
 * group of its international format (`+1 415 555 0100` → 415, `+49 211 2047899`
 * → 211, `+971 2 207 0714` → 2, `+49 800 ...` → 800), which is how
 * libphonenumber itself measures it. Empty when the number does not parse.
 */
export function areaCodeOf(e164: string): string {
  const p = parsePhoneNumberFromString(e164);
  return p?.formatInternational().split(' ')[1] ?? '';
}

/**
 * Where a number would be listed at Twilio: the countries to search (a North
 * American toll-free number may be listed under the US or Canada) and its type.
 * Null when it is not a valid number of a country Switchboard sells in.
 */
export function listingOf(e164: string): { countries: Country[]; numberType: NumberType } | null {
  const p = parsePhoneNumberFromString(e164);
  if (!p?.isValid() || !isSupportedCountry(p.country)) return null;
  const numberType: NumberType = p.getType() === 'TOLL_FREE' ? 'toll-free' : 'local';
  const countries: Country[] = numberType === 'toll-free' && NANP.has(p.country) ? ['US', 'CA'] : [p.country];
  return { countries, numberType };
}

/**
 * Whether Twilio says the number takes calls. The live API writes capability
 * keys as `voice`, `SMS`, `MMS`, `fax` although its OpenAPI file says
 * lower-case (carriers.md): read them case-insensitively. No capabilities at
 * all: trust the VoiceEnabled filter.
 */
export function takesCalls(capabilities: unknown): boolean {
  if (capabilities === null || typeof capabilities !== 'object') return true;
  const voice = Object.entries(capabilities).find(([k]) => k.toLowerCase() === 'voice');
  return voice === undefined || voice[1] !== false;
}

const E164 = /^\+[1-9]\d{5,14}$/;

/** An available number in Switchboard's shape, priced for its country and type; null when unusable. */
export function toAvailable(r: TwilioAvailable, country: Country, numberType: NumberType, prices: CountryPrices): AvailableNumber | null {
  const e164 = r.phoneNumber ?? '';
  const monthlyCost = prices.monthly[numberType];
  if (!E164.test(e164) || monthlyCost === undefined) return null;
  return {
    e164,
    countryCode: country,
    numberType,
    areaCode: areaCodeOf(e164),
    city: r.locality || null,
    region: r.region || null,
    monthlyCost,
    currency: prices.currency,
  };
}
