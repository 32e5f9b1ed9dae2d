/**
 * Shared by the media simulators (carrier-sim.mjs, assistant-sim.mjs): the
 * clock, a latency histogram, the payload, and cheap field extraction from
 * the JSON frames (the sims build and read frames as strings, never through
 * JSON, so that the gateway, not the simulators, is what gets measured).
 */

/**
 * Milliseconds on CLOCK_MONOTONIC, which on Linux is one clock for every
 * process on the machine: a stamp taken in one process and read in another
 * gives the one-way latency to well under a microsecond of error.
 */
export const hrms = () => {
  const t = process.hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
};

/** Microseconds on the same clock, as an integer. */
export const usNow = () => {
  const t = process.hrtime();
  return t[0] * 1e6 + ((t[1] / 1e3) | 0);
};

/** 20 ms of 8 kHz mu-law: 160 bytes (0xFF is mu-law silence), base64 once. */
export const PAYLOAD = Buffer.alloc(160, 0xff).toString('base64');

/**
 * Every media frame carries its stamp in the first 28 characters of its
 * payload (all base64 characters, so the payload stays valid base64 of the
 * same length): a 10-digit sequence number, `T`, the send time in µs (16
 * digits), `A`. In the payload, because a translating relay (the gateway's
 * Telnyx path) rebuilds every frame and keeps only its payload.
 */
export const STAMP_LEN = 28;
export const PAYLOAD_REST = PAYLOAD.slice(STAMP_LEN);
export const stamp = (seq, us) => String(seq).padStart(10, '0') + 'T' + String(us).padStart(16, '0') + 'A';
export const PAYLOAD_KEY = Buffer.from('"payload":"');

const FINE_MS = 0.01; // 10 µs bins up to 200 ms
const FINE_N = 20_000;
const COARSE_N = 60_000; // then 1 ms bins up to 60.2 s

/** Latency histogram: 10 µs resolution below 200 ms, 1 ms above. */
export class Histogram {
  constructor() {
    this.bins = new Uint32Array(FINE_N + COARSE_N + 1);
    this.n = 0;
    this.sum = 0;
    this.max = 0;
  }

  add(ms) {
    if (!(ms > 0)) ms = 0;
    const i = ms < 200 ? (ms / FINE_MS) | 0 : Math.min(FINE_N + ((ms - 200) | 0), FINE_N + COARSE_N);
    this.bins[i]++;
    this.n++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  percentile(q) {
    if (this.n === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * this.n));
    let c = 0;
    for (let i = 0; i < this.bins.length; i++) {
      c += this.bins[i];
      if (c >= target) return i < FINE_N ? (i + 0.5) * FINE_MS : 200 + (i - FINE_N) + 0.5;
    }
    return this.max;
  }

  summary() {
    return {
      n: this.n,
      p50: this.percentile(0.5),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.max,
      mean: this.n ? this.sum / this.n : NaN,
    };
  }
}

/** The integer in `"sequenceNumber":"123"` (Twilio sends it as a string). */
export function seqOf(s) {
  const i = s.indexOf('"sequenceNumber":"');
  if (i < 0) return NaN;
  return parseInt(s.slice(i + 18, i + 30), 10);
}

/** A bare number field `"name":123.4` (our own fields: seq, t). */
export function numField(s, name, fromEnd = false) {
  const key = `"${name}":`;
  const i = fromEnd ? s.lastIndexOf(key) : s.indexOf(key);
  if (i < 0) return NaN;
  return parseFloat(s.slice(i + key.length, i + key.length + 24));
}

/** A string field `"name":"value"`. */
export function strField(s, name) {
  const key = `"${name}":"`;
  const i = s.indexOf(key);
  if (i < 0) return undefined;
  return s.slice(i + key.length, s.indexOf('"', i + key.length));
}
