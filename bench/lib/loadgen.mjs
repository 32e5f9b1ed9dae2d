/**
 * Load generator for the routing benchmarks, in its own process so the
 * server's process is measured alone: HTTP/1.1 keep-alive connections on
 * plain sockets POSTing signed Twilio voice webhooks, each a distinct call
 * (a new CallSid, its own X-Twilio-Signature) to a number drawn from the
 * seeded set, with the parameters Twilio sends for a real inbound call.
 *
 * As cheap as it can be, because it shares the machine's cores with the
 * server it measures: the requests are built and signed before the measured
 * window (a pool, refilled between turns if it runs dry), written as one
 * Buffer each, and a response is parsed only as far as its status and
 * Content-Length. Latency is measured per request, send to last byte, in
 * 10 µs bins (autocannon, used before, rounds to whole milliseconds).
 *
 * Without `rate`: every connection sends its next request as soon as the
 * answer arrives (saturation). With `rate` (requests/s over all
 * connections): requests are sent on a 1 ms clock at that rate, each on a
 * free connection; while every connection is busy, at most one request per
 * connection waits for one and the rest are skipped (counted), so a server
 * that falls behind is never sent the backlog in a burst.
 *
 * argv[2]: JSON { port, publicUrl, authToken, numbers, seconds, warmup,
 *                 connections, offset, rate }
 * IPC out: {type:'window', phase:'start'|'end'} around the measured window
 * (the caller samples the server's CPU there), then {type:'result', ...}.
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { Histogram, hrms } from './media-sim.mjs';
import { benchNumber } from './seed.mjs';

const o = JSON.parse(process.argv[2]);
const PATH = '/carriers/twilio/voice';
const signedUrl = o.publicUrl + PATH;
const connections = o.connections ?? 50;
const warmup = o.warmup ?? 0;
const send = (m) => process.send?.(m);

let seed = (0x9e3779b9 ^ (o.offset ?? 0)) >>> 0 || 1;
const rand = () => {
  // xorshift32: cheap, deterministic spread over the numbers
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

// What Twilio posts for an inbound call (its documented parameter set for a
// US number), with the CallSid, To and the geography of To varied per call.
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const FIXED = {
  AccountSid: ACCOUNT,
  ApiVersion: '2010-04-01',
  CallStatus: 'ringing',
  CallToken: '%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D',
  Caller: '+12125550123',
  CallerCity: 'NEW YORK',
  CallerCountry: 'US',
  CallerState: 'NY',
  CallerZip: '10001',
  Direction: 'inbound',
  From: '+12125550123',
  FromCity: 'NEW YORK',
  FromCountry: 'US',
  FromState: 'NY',
  FromZip: '10001',
  StirVerstat: 'TN-Validation-Passed-A',
};
const NAMES = [
  ...Object.keys(FIXED),
  'CallSid',
  'Called',
  'CalledCity',
  'CalledCountry',
  'CalledState',
  'CalledZip',
  'To',
  'ToCity',
  'ToCountry',
  'ToState',
  'ToZip',
].sort();
const HEAD = `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: `;
let made = 0;

/** The next request: a new call, signed. */
function build() {
  const i = made++;
  const to = benchNumber(Math.floor(rand() * o.numbers));
  const p = {
    ...FIXED,
    CallSid: 'CA' + (o.offset ?? 0).toString(16).padStart(8, '0') + i.toString(16).padStart(24, '0'),
    Called: to,
    CalledCity: 'BENCH CITY',
    CalledCountry: 'US',
    CalledState: 'CA',
    CalledZip: '94105',
    To: to,
    ToCity: 'BENCH CITY',
    ToCountry: 'US',
    ToState: 'CA',
    ToZip: '94105',
  };
  // X-Twilio-Signature: the URL, then each name and value sorted by name.
  let data = signedUrl;
  for (const k of NAMES) data += k + p[k];
  const sig = createHmac('sha1', o.authToken).update(data).digest('base64');
  const body = new URLSearchParams(p).toString();
  return Buffer.from(`${HEAD}${sig}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
}

const expected = Math.ceil((o.rate || 25_000) * (o.seconds + warmup) * 1.1);
const pool = [];
const t0 = performance.now();
for (let i = 0; i < Math.min(expected, 500_000); i++) pool.push(build());
const buildMs = performance.now() - t0;
let next = 0;
let builtLate = 0;
function take() {
  if (next < pool.length) {
    const r = pool[next];
    pool[next++] = undefined;
    return r;
  }
  builtLate++;
  return build();
}

const hist = new Histogram();
let measuring = false;
let done = 0;
let errors = 0;
let non2xx = 0;
let stopped = false;
let answered = 0; // warm-up included
const statuses = {};

class Conn {
  constructor() {
    this.busy = false;
    this.sentAt = 0;
    this.buf = null;
    this.sock = null;
    this.open();
  }

  open() {
    this.busy = false;
    this.buf = null;
    const s = net.connect({ host: '127.0.0.1', port: o.port, noDelay: true });
    this.sock = s;
    s.on('data', (d) => this.onData(d));
    s.on('error', () => {});
    s.on('close', () => {
      if (this.sock !== s) return;
      if (this.busy) errors += measuring ? 1 : 0;
      if (!stopped) setTimeout(() => this.open(), 10);
    });
    s.on('connect', () => (started ? ready(this) : idle.push(this)));
  }

  fire() {
    this.busy = true;
    this.sentAt = hrms();
    this.sock.write(take());
  }

  onData(d) {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    const b = this.buf;
    const end = b.indexOf('\r\n\r\n');
    if (end < 0) return;
    // "HTTP/1.1 200 OK": the status is bytes 9..11.
    const status = (b[9] - 48) * 100 + (b[10] - 48) * 10 + (b[11] - 48);
    const head = b.latin1Slice(0, end);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (b.length < end + 4 + len) return;
    const close = /\r\nconnection: *close/i.test(head);
    this.buf = b.length > end + 4 + len ? b.subarray(end + 4 + len) : null;
    this.busy = false;
    answered++;
    if (measuring) {
      hist.add(hrms() - this.sentAt);
      done++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status < 200 || status > 299) {
        non2xx++;
        errors++;
      }
    }
    if (close) {
      this.sock.destroy();
      return;
    }
    ready(this);
  }
}

const idle = [];
let started = false;
let due = 0; // requests owed by the fixed-rate clock
let skipped = 0; // owed while every connection was busy, and dropped
function ready(c) {
  if (stopped) return;
  if (!o.rate) return c.fire();
  if (due > 0) {
    due--;
    return c.fire();
  }
  idle.push(c);
}

const conns = Array.from({ length: connections }, () => new Conn());
await new Promise((r) => setTimeout(r, 100));

let clock = null;
started = true;
if (o.rate) {
  // 1 ms clock: add what is due since the start, send on idle connections.
  const start = hrms();
  let sent = 0;
  clock = setInterval(() => {
    const owed = Math.floor(((hrms() - start) / 1000) * o.rate) - sent;
    if (owed <= 0) return;
    sent += owed;
    due += owed;
    while (due > 0 && idle.length) {
      due--;
      idle.pop().fire();
    }
    // A server that cannot keep up does not get the backlog in a burst later:
    // at most one request per connection waits; the rest are not sent.
    if (due > connections) {
      if (measuring) skipped += due - connections;
      due = connections;
    }
  }, 1);
} else {
  while (idle.length) idle.pop().fire();
}

await new Promise((r) => setTimeout(r, warmup * 1000));
send({ type: 'window', phase: 'start' });
const cpu0 = process.cpuUsage();
const w0 = hrms();
measuring = true;
await new Promise((r) => setTimeout(r, o.seconds * 1000));
measuring = false;
const elapsed = (hrms() - w0) / 1000;
const cpu = process.cpuUsage(cpu0);
send({ type: 'window', phase: 'end' });
stopped = true;
if (clock) clearInterval(clock);
for (const c of conns) c.sock.destroy();
const h = hist.summary();
const result = {
  rps: done / elapsed,
  total: done,
  p50: h.p50,
  p90: hist.percentile(0.9),
  p99: h.p99,
  max: h.max,
  errors,
  non2xx,
  statuses,
  loadgenCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
  prebuilt: pool.length,
  prebuildMs: Math.round(buildMs),
  builtLate,
  skipped,
  answered,
};
if (process.send) process.send({ type: 'result', ...result }, () => process.exit(0));
else {
  console.log(JSON.stringify(result));
  process.exit(0);
}
