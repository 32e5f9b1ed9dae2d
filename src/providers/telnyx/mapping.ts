/**
 * Telnyx's shapes → ours: available numbers, prices, order states, errors.
 * Pure functions; the provider does the talking.
 */
import { getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { COUNTRIES, type Country } from '../../domain/phone.js';
import type { AvailableNumber, NumberType } from '../../domain/types.js';
import { ProviderError, type ProviderErrorKind } from '../provider.js';

/** An item of GET /available_phone_numbers, as far as we read it. */
export interface TelnyxAvailable {
  phone_number?: unknown;
  region_information?: unknown;
  cost_information?: unknown;
  features?: unknown;
  best_effort?: unknown;
}

/** A number order (POST /number_orders, GET /number_orders/{id}, the number_order.complete payload). */
export interface TelnyxOrder {
  id?: unknown;
  status?: unknown;
  phone_numbers?: unknown;
  customer_reference?: unknown;
  connection_id?: unknown;
  requirements_met?: unknown;
  created_at?: unknown;
}

export interface TelnyxOrderNumber {
  id?: string;
  phone_number?: string;
  status?: string;
  requirements_met?: boolean;
  requirements_status?: string;
}

export type TelnyxOrderState =
  { status: 'pending'; requirementsMet: boolean; requirementsStatus: string | null } | { status: 'success' } | { status: 'failure'; reason: string };

export function callingCode(country: Country): string {
  return getCountryCallingCode(country);
}

/**
 * A decimal price string ("1.15", "1.00000", "2") → minor units of the
 * currency (115, 100, 200), half-up beyond the currency's decimals. Exact
 * (no floating point). Null when it is not a price.
 */
export function decimalToMinor(amount: unknown, currency: unknown): number | null {
  if (typeof amount !== 'string' || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return null;
  const m = /^(\d{1,12})(?:\.(\d{1,12}))?$/.exec(amount.trim());
  if (!m) return null;
  const digits = currencyDigits(currency);
  const whole = BigInt(m[1]!);
  const frac = m[2] ?? '';
  const kept = BigInt((frac.slice(0, digits) || '0').padEnd(digits, '0'));
  const roundUp = frac.length > digits && frac.charCodeAt(digits) >= 53; /* '5' */
  const minor = whole * 10n ** BigInt(digits) + kept + (roundUp ? 1n : 0n);
  return minor <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(minor) : null;
}

function currencyDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/**
 * The area code of a number, without trunk prefix: the first group of its
 * national format (0211 2047899 → 211, 021 236 55 40 → 21, 02 207 0714 → 2),
 * the NPA for NANP numbers. The simulator's inventory agrees on every row.
 */
export function areaCodeOf(e164: string): string {
  const p = parsePhoneNumberFromString(e164);
  if (!p) return '';
  if (p.countryCallingCode === '1') return p.nationalNumber.slice(0, 3);
  const m = /^\(?0?(\d+)/.exec(p.formatNational());
  return m?.[1] ?? '';
}

/** Telnyx's `region_information` → city and region: a `location` (else `rate_center`) is the city, a `state` the region. */
export function placeOf(regionInformation: unknown): { city: string | null; region: string | null } {
  let location: string | null = null;
  let rateCenter: string | null = null;
  let state: string | null = null;
  if (Array.isArray(regionInformation)) {
    for (const r of regionInformation as unknown[]) {
      if (!r || typeof r !== 'object') continue;
      const { region_type: type, region_name: name } = r as { region_type?: unknown; region_name?: unknown };
      if (typeof name !== 'string' || name.trim() === '') continue;
      if (type === 'location') location ??= name.trim();
      else if (type === 'rate_center') rateCenter ??= titleCase(name.trim());
      else if (type === 'state') state ??= name.trim();
    }
  }
  return { city: location ?? rateCenter, region: state };
}

/** Rate centres come upper-case (SAN FRANCISCO): shown as San Francisco. */
function titleCase(s: string): string {
  return s === s.toUpperCase() ? s.toLowerCase().replace(/(^|[\s\-'])\p{L}/gu, (c) => c.toUpperCase()) : s;
}

/**
 * One search result → an AvailableNumber, or why it is unusable (missing
 * price, no voice, best-effort match, not E.164).
 */
export function toAvailable(
  item: TelnyxAvailable,
  want: { countryCode: Country; numberType: NumberType; areaCode?: string | undefined },
): AvailableNumber | string {
  const e164 = item.phone_number;
  if (typeof e164 !== 'string' || !/^\+[1-9]\d{5,14}$/.test(e164)) return 'phone_number is not E.164';
  if (item.best_effort === true) return 'best-effort match (does not meet the filters)';
  if (Array.isArray(item.features) && !(item.features as unknown[]).some((f) => !!f && typeof f === 'object' && (f as { name?: unknown }).name === 'voice')) {
    return 'no voice feature';
  }
  const cost = item.cost_information as { monthly_cost?: unknown; currency?: unknown } | undefined;
  const monthlyCost = cost && typeof cost === 'object' ? decimalToMinor(cost.monthly_cost, cost.currency) : null;
  if (monthlyCost === null) return 'no usable cost_information.monthly_cost';
  const { city, region } = placeOf(item.region_information);
  const national = parsePhoneNumberFromString(e164)?.nationalNumber ?? '';
  const areaCode = want.areaCode && national.startsWith(want.areaCode) ? want.areaCode : areaCodeOf(e164);
  return {
    e164,
    countryCode: want.countryCode,
    numberType: want.numberType,
    areaCode,
    city,
    region,
    monthlyCost,
    currency: (cost as { currency: string }).currency,
  };
}

/** The countries a number may be listed under at Telnyx (NANP toll-free numbers belong to the US and Canada alike). */
export function countriesOf(e164: string): { countries: Country[]; numberType: NumberType } | null {
  const p = parsePhoneNumberFromString(e164);
  if (!p || p.number !== e164) return null;
  const numberType: NumberType = p.getType() === 'TOLL_FREE' ? 'toll-free' : 'local';
  if (p.countryCallingCode === '1' && numberType === 'toll-free') return { countries: ['US', 'CA'], numberType };
  const country = p.country as string | undefined;
  if (!country || !(COUNTRIES as readonly string[]).includes(country)) return null;
  return { countries: [country as Country], numberType };
}

export function orderNumbers(order: TelnyxOrder): TelnyxOrderNumber[] {
  if (!Array.isArray(order.phone_numbers)) return [];
  return (order.phone_numbers as unknown[]).filter((p): p is TelnyxOrderNumber => !!p && typeof p === 'object');
}

/** Where an order stands for one of its numbers. Throws bad_response for a status we do not know. */
export function orderState(order: TelnyxOrder, e164: string): TelnyxOrderState {
  const entry = orderNumbers(order).find((p) => p.phone_number === e164);
  const status = order.status;
  const requirementsMet = entry?.requirements_met !== false && order.requirements_met !== false;
  const requirementsStatus = typeof entry?.requirements_status === 'string' ? entry.requirements_status : null;
  if (status === 'pending') return { status: 'pending', requirementsMet, requirementsStatus };
  if (status === 'success') {
    // A multi-number order can succeed with one of its numbers failed; ours is one number, but look anyway.
    if (entry?.status === 'failure') return { status: 'failure', reason: failureReason(requirementsMet, requirementsStatus) };
    return { status: 'success' };
  }
  if (status === 'failure' || status === 'cancelled' || status === 'canceled')
    return { status: 'failure', reason: failureReason(requirementsMet, requirementsStatus) };
  throw new ProviderError(
    'telnyx',
    'bad_response',
    `Telnyx answered with an order status we do not know (${typeof status === 'string' ? status.slice(0, 40) : typeof status})`,
  );
}

/**
 * The failureReason a failed order leaves on the number (docs/api-notes.md):
 * `carrier_rejected` like the simulator's, or
 * `regulatory_requirements_not_met` when Telnyx says the requirements were
 * not met (or were rejected).
 */
function failureReason(requirementsMet: boolean, requirementsStatus: string | null): string {
  const rejected = requirementsStatus !== null && /cancel|delete|exception/.test(requirementsStatus);
  return !requirementsMet || rejected ? 'regulatory_requirements_not_met' : 'carrier_rejected';
}

// --- Errors ------------------------------------------------------------------

export interface TelnyxErrorItem {
  code: string;
  title: string;
  detail: string;
}

/** Telnyx's `{ errors: [{ code, title, detail }] }`, tolerant of anything else. */
export function errorItems(body: unknown): TelnyxErrorItem[] {
  const errors = body && typeof body === 'object' ? (body as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  return (errors as unknown[])
    .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
    .map((e) => ({ code: scalar(e.code), title: scalar(e.title), detail: scalar(e.detail) }));
}

function scalar(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

const REGULATORY = /requirement|regulator|bundle|address|document|identity|proof of/i;
const UNAVAILABLE =
  /not available|unavailable|no longer available|already (?:been )?(?:reserved|ordered|purchased|taken|sold|owned)|is reserved|reserved by|could not be reserved|not in (?:the )?inventory/i;

/**
 * What a 4xx answer to a request about numbers means: the number is gone,
 * Telnyx wants regulatory documents first, or the request was wrong.
 */
export function classify4xx(items: TelnyxErrorItem[]): Extract<ProviderErrorKind, 'unavailable' | 'regulatory' | 'invalid_request'> {
  const text = items.map((e) => `${e.title} ${e.detail}`).join(' | ');
  if (REGULATORY.test(text)) return 'regulatory';
  if (UNAVAILABLE.test(text)) return 'unavailable';
  return 'invalid_request';
}

/** Telnyx's own words for an error, short, with anything secret taken out. */
export function describeErrors(items: TelnyxErrorItem[], scrub: (s: string) => string): string {
  const parts = items.slice(0, 3).map((e) => [e.title, e.detail].filter((s) => s.length > 0).join(': ') + (e.code ? ` (code ${e.code})` : ''));
  const text = scrub(parts.filter((s) => s.length > 0).join('; '));
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
