/** How the console writes numbers, money and times for people. */
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import type { Money } from './api/types';

/** "+1 415 207 2819" for "+14152072819"; the input when it cannot be parsed. */
export function humanNumber(e164: string): string {
  const p = parsePhoneNumberFromString(e164);
  return p ? p.formatInternational() : e164;
}

const COUNTRY_NAMES: Record<string, string> = {
  AE: 'United Arab Emirates',
  US: 'United States',
  CA: 'Canada',
  DE: 'Germany',
  AT: 'Austria',
  CH: 'Switzerland',
};
export const countryName = (code: string): string => COUNTRY_NAMES[code] ?? code;

export function place(city: string | null | undefined, state: string | null | undefined): string {
  return [city, state].filter(Boolean).join(', ') || '—';
}

/** { amount: 115, currency: 'USD' } → "$1.15"; minor units as the currency defines them. */
export function money(m: Money): string {
  try {
    const f = new Intl.NumberFormat('en-US', { style: 'currency', currency: m.currency });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(m.amount / 10 ** digits);
  } catch {
    return `${(m.amount / 100).toFixed(2)} ${m.currency}`;
  }
}

const dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
const time = new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' });

export const when = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
export const clock = (iso: string): string => time.format(new Date(iso));

/** "4 days 23 hours left", "3 hours left", "expired". */
export function timeLeft(iso: string, now = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  if (ms <= 0) return 'expired';
  const h = Math.floor(ms / 3_600_000);
  const d = Math.floor(h / 24);
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (d > 0) return `${plural(d, 'day')} ${plural(h % 24, 'hour')} left`;
  if (h > 0) return `${plural(h, 'hour')} left`;
  return `${plural(Math.max(1, Math.floor(ms / 60_000)), 'minute')} left`;
}

export function duration(sec: number | null): string {
  if (sec === null) return '—';
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return m ? `${m} min ${s} s` : `${s} s`;
}

/** "sim" → "Simulated carrier"; other provider names as they are, capitalised. */
export function providerLabel(name: string): string {
  if (name === 'sim') return 'Simulated carrier';
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** snake_case reasons from the API for people: "assistant_unreachable" → "assistant unreachable". */
export const words = (s: string | null | undefined): string => (s ? s.replace(/[_-]+/g, ' ') : '—');
