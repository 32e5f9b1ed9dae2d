/**
 * Phone number normalisation. Inputs arrive in every common shape
 * (`+1 (415) 555-0100`, `14155550100`, `tel:+1-415-555-0100`,
 * `sip:+14155550100@host;user=phone`); everything inside Switchboard is E.164.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export const COUNTRIES = ['AE', 'US', 'CA', 'DE', 'AT', 'CH'] as const;
export type Country = (typeof COUNTRIES)[number];

export function isSupportedCountry(v: unknown): v is Country {
  return typeof v === 'string' && (COUNTRIES as readonly string[]).includes(v);
}

export interface ParsedNumber {
  e164: string;
  /** ISO country of the number, when libphonenumber can tell. */
  country: string | undefined;
  valid: boolean;
}

/** Strips URI schemes and SIP decorations: `sip:+1415...@host;user=phone` → `+1415...`. */
export function stripUri(input: string): string {
  let s = input.trim();
  const scheme = /^(tel|sips?):/i.exec(s);
  if (scheme) {
    s = s.slice(scheme[0].length);
    const at = s.indexOf('@');
    if (at >= 0) s = s.slice(0, at);
    const semi = s.indexOf(';');
    if (semi >= 0) s = s.slice(0, semi);
  }
  return s;
}

/**
 * Parses a number written any common way. `regionHint` (an ISO country such as
 * Twilio's `ToCountry`) is used only when the input has no `+`. Without a hint,
 * a bare digit string is read as international (`14155550100` → `+14155550100`).
 */
export function parsePhone(input: string, regionHint?: string): ParsedNumber | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > 64) return null;
  const s = stripUri(input);
  if (!/^[+\d\s().\-/]+$/.test(s)) return null;
  const digits = s.replace(/[^\d]/g, '');
  if (digits.length < 4 || digits.length > 17) return null;
  let parsed;
  if (s.startsWith('+')) {
    parsed = parsePhoneNumberFromString('+' + digits);
  } else if (s.startsWith('00')) {
    // International call prefix used across Europe and the UAE: 0041... = +41...
    parsed = parsePhoneNumberFromString('+' + digits.slice(2));
  } else if (regionHint && /^[A-Za-z]{2}$/.test(regionHint)) {
    parsed = parsePhoneNumberFromString(s, regionHint.toUpperCase() as CountryCode);
    // A hinted national number that does not parse may still be international without its '+'.
    if (!parsed?.isValid()) parsed = parsePhoneNumberFromString('+' + digits) ?? parsed;
  } else {
    parsed = parsePhoneNumberFromString('+' + digits);
  }
  if (!parsed) return null;
  return { e164: parsed.number, country: parsed.country, valid: parsed.isValid() };
}

/** The E.164 form of a valid number, or null. */
export function normalizePhone(input: string, regionHint?: string): string | null {
  const p = parsePhone(input, regionHint);
  return p && p.valid ? p.e164 : null;
}

/** The national significant number of an E.164 number (`+14155550100` → `4155550100`). */
export function nationalNumberOf(e164: string): string | null {
  const p = parsePhoneNumberFromString(e164);
  return p ? p.nationalNumber : null;
}
