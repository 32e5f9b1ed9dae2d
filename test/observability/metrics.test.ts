// GET /metrics (api.md section 6): Prometheus text that moves by exactly what
// happened. Each test scrapes, does something, scrapes again and compares.
// Label sets are bounded: never a phone number, never an id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TRIAL_MS } from '../../src/domain/plans.js';
import {
  CARRIER_ENV,
  accountSid,
  assign,
  callSid,
  genericInbound,
  newAssistant,
  parseTwiml,
  twilioStatus,
  twilioVoice,
  voiceParams,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (0.0.4): comments skipped, one sample per line. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    }
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

class Scrape {
  constructor(readonly samples: Sample[]) {}
  /** Sum of the samples named `name` whose labels include `labels`. */
  get(name: string, labels: Record<string, string> = {}): number {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
  }
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

let t: TestGateway;
let clock: ManualClock;
let port: number;
let assistant: FakeAssistant;
let team: Awaited<ReturnType<typeof createTeam>>;
let e164: string;

async function scrape(): Promise<Scrape> {
  const res = await t.api.get('/metrics');
  expect(res.status).toBe(200);
  return new Scrape(parse(res.text));
}

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  t = await startGateway({ env: { ...CARRIER_ENV }, clock });
  port = (await t.gw.listen()).port;
  assistant = await fakeAssistant({ echo: true });
  team = await createTeam(t, 'metrics-team', 'starter');
  const asst = await newAssistant(t, team, 'metrics-agent', assistant.url);
  [e164] = (await availableNumbers(t, 'US', 1)) as [string];
  await assign(t, team, asst, [await buyActive(t, team, e164)]);
});
afterAll(async () => {
  await assistant?.close();
  await t?.close();
});

describe('GET /metrics', () => {
  it('is Prometheus text, version 0.0.4, every line a comment or a sample', async () => {
    const res = await t.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(() => parse(res.text)).not.toThrow();
    // Every metric has HELP and TYPE.
    for (const name of [
      'switchboard_calls_total',
      'switchboard_webhook_duration_seconds',
      'switchboard_routing_cache_hits_total',
      'switchboard_media_bridges_open',
    ]) {
      expect(res.text).toContain(`# HELP ${name} `);
      expect(res.text).toMatch(new RegExp(`# TYPE ${name} (counter|gauge|histogram)`));
    }
  });

  it('calls: connect and reject (with its reason) by carrier; the webhook histogram counts both', async () => {
    const before = await scrape();
    expect((await twilioVoice(t, voiceParams({ To: e164 }))).status).toBe(200);
    expect((await twilioVoice(t, voiceParams({ To: '+12025550199' }))).status).toBe(200); // nobody holds it
    expect((await twilioVoice(t, voiceParams({ To: '+12025550198' }))).status).toBe(200);
    // A retry of the same call is not a new call.
    const sid = callSid();
    await twilioVoice(t, voiceParams({ CallSid: sid, To: e164 }));
    await twilioVoice(t, voiceParams({ CallSid: sid, To: e164 }));
    expect((await genericInbound(t, { callId: 'm-1', from: '+12025550143', to: e164 })).status).toBe(200);
    const after = await scrape();

    const d = (name: string, labels: Record<string, string>) => after.get(name, labels) - before.get(name, labels);
    expect(d('switchboard_calls_total', { carrier: 'twilio', decision: 'connect' })).toBe(2);
    expect(d('switchboard_calls_total', { carrier: 'twilio', decision: 'reject', reason: 'no_route' })).toBe(2);
    expect(d('switchboard_calls_total', { carrier: 'generic', decision: 'connect' })).toBe(1);
    expect(after.has('switchboard_calls_total', { carrier: 'twilio', decision: 'reject', reason: 'no_route' })).toBe(true);

    // Histogram: _count moves by every answered webhook (retries included), buckets are cumulative.
    expect(d('switchboard_webhook_duration_seconds_count', { carrier: 'twilio', action: 'inbound' })).toBe(5);
    expect(d('switchboard_webhook_duration_seconds_count', { carrier: 'generic', action: 'inbound' })).toBe(1);
    expect(d('switchboard_webhook_duration_seconds_sum', { carrier: 'twilio', action: 'inbound' })).toBeGreaterThan(0);
    const buckets = after.samples.filter(
      (s) => s.name === 'switchboard_webhook_duration_seconds_bucket' && s.labels.carrier === 'twilio' && s.labels.action === 'inbound',
    );
    expect(buckets.length).toBeGreaterThanOrEqual(5);
    const inf = buckets.find((b) => b.labels.le === '+Inf')!;
    expect(inf.value).toBe(after.get('switchboard_webhook_duration_seconds_count', { carrier: 'twilio', action: 'inbound' }));
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    for (let i = 1; i < buckets.length; i++) {
      expect(les[i]!).toBeGreaterThan(les[i - 1]!);
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    }
  });

  it('status callbacks are timed under their own action', async () => {
    const sid = callSid();
    await twilioVoice(t, voiceParams({ CallSid: sid, To: e164 }));
    const before = await scrape();
    expect((await twilioStatus(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '1', AccountSid: accountSid })).status).toBe(204);
    const after = await scrape();
    const key = { carrier: 'twilio', action: 'status' };
    expect(after.get('switchboard_webhook_duration_seconds_count', key) - before.get('switchboard_webhook_duration_seconds_count', key)).toBe(1);
  });

  it('routing cache: a first lookup misses, the next ones hit; entries are counted by kind', async () => {
    // A number nobody has looked up yet.
    const fresh = '+12025550177';
    const before = await scrape();
    await twilioVoice(t, voiceParams({ To: fresh }));
    const mid = await scrape();
    expect(mid.get('switchboard_routing_cache_misses_total') - before.get('switchboard_routing_cache_misses_total')).toBe(1);
    expect(mid.get('switchboard_routing_cache_entries', { kind: 'negative' }) - before.get('switchboard_routing_cache_entries', { kind: 'negative' })).toBe(1);
    await twilioVoice(t, voiceParams({ To: fresh }));
    await twilioVoice(t, voiceParams({ To: fresh }));
    const after = await scrape();
    expect(after.get('switchboard_routing_cache_hits_total') - mid.get('switchboard_routing_cache_hits_total')).toBe(2);
    expect(after.get('switchboard_routing_cache_misses_total')).toBe(mid.get('switchboard_routing_cache_misses_total'));
    expect(after.get('switchboard_routing_cache_entries', { kind: 'positive' })).toBeGreaterThanOrEqual(1); // e164 is routed and cached
  });

  it('media: bridges open while a call is bridged, and every relayed frame is counted by direction', async () => {
    const voice = await twilioVoice(t, voiceParams({ To: e164 }));
    const { callId, token } = parseTwiml(voice.text);
    const before = await scrape();
    const carrier = await carrierSocket(`ws://127.0.0.1:${port}/media/twilio`);
    carrier.ws.send(CONNECTED);
    carrier.ws.send(twilioStart(callId!, token!));
    const N = 7;
    for (let i = 3; i < 3 + N; i++) carrier.ws.send(mediaFrame(i));
    await eventually(() => carrier.received.length >= N); // the echo comes back
    const open = await scrape();
    expect(open.get('switchboard_media_bridges_open')).toBe(before.get('switchboard_media_bridges_open') + 1);
    // connected + start + N media went to the assistant; N echoes came back.
    expect(
      open.get('switchboard_media_frames_relayed_total', { direction: 'to_assistant' }) -
        before.get('switchboard_media_frames_relayed_total', { direction: 'to_assistant' }),
    ).toBe(N + 2);
    expect(
      open.get('switchboard_media_frames_relayed_total', { direction: 'to_carrier' }) -
        before.get('switchboard_media_frames_relayed_total', { direction: 'to_carrier' }),
    ).toBe(N);
    expect(open.get('switchboard_media_bridges_total', { result: 'opened' }) - before.get('switchboard_media_bridges_total', { result: 'opened' })).toBe(1);
    carrier.ws.close();
    await carrier.closed;
    await eventually(() => t.gw.liveCalls.size === 0);
    expect((await scrape()).get('switchboard_media_bridges_open')).toBe(before.get('switchboard_media_bridges_open'));
  });

  it('purchases by outcome and provisioning by result', async () => {
    const before = await scrape();
    const [n] = await availableNumbers(t, 'US', 1);
    await buyActive(t, team, n!);
    // A second purchase of the same number is unavailable.
    expect((await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: n, teamId: team.id })).status).toBe(409);
    const after = await scrape();
    const d = (name: string, labels: Record<string, string>) => after.get(name, labels) - before.get(name, labels);
    expect(d('switchboard_purchases_total', { outcome: 'created' })).toBe(1);
    expect(d('switchboard_purchases_total', { outcome: 'unavailable' })).toBe(1);
    expect(d('switchboard_provisioning_total', { result: 'active' })).toBe(1);
    expect(d('switchboard_provisioning_total', { result: 'error' })).toBe(0);
    expect(d('switchboard_provisioning_duration_seconds_count', {})).toBe(1);
  });

  it("trial expiries: a free team's number expiring at the sweep", async () => {
    const free = await createTeam(t, 'metrics-free', 'free');
    const [n] = await availableNumbers(t, 'US', 1);
    await buyActive(t, free, n!);
    const before = await scrape();
    clock.advance(TRIAL_MS + 1000);
    await t.gw.services.sweeper.sweep();
    const after = await scrape();
    expect(after.get('switchboard_trial_expiries_total') - before.get('switchboard_trial_expiries_total')).toBe(1);
    // Nothing else expired: the starter team's numbers are not trials.
    await t.gw.services.sweeper.sweep();
    expect((await scrape()).get('switchboard_trial_expiries_total')).toBe(after.get('switchboard_trial_expiries_total'));
  });

  it('label values are bounded: no phone number, no UUID, no call id anywhere in the exposition', async () => {
    // Traffic with many distinct numbers and ids first.
    for (let i = 0; i < 5; i++) await twilioVoice(t, voiceParams({ To: `+1202555${String(3000 + i)}`, From: `+1415555${String(4000 + i)}` }));
    await twilioVoice(t, voiceParams({ CallSid: 'not-a-sid', To: e164 })); // a 400
    const res = await t.api.get('/metrics');
    const samples = parse(res.text);
    const PHONE = /\+?\d{7,}/;
    const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    const SID = /\b(CA|AC|MZ|SO)[0-9a-f]{32}\b/i;
    for (const s of samples) {
      for (const [k, v] of Object.entries(s.labels)) {
        expect(v, `${s.name}{${k}="${v}"}`).not.toMatch(PHONE);
        expect(v, `${s.name}{${k}="${v}"}`).not.toMatch(UUID);
        expect(v, `${s.name}{${k}="${v}"}`).not.toMatch(SID);
        expect(v.length, `${s.name}{${k}}`).toBeLessThanOrEqual(64);
      }
    }
    // And the numbers used by the calls are nowhere in the text, labels or not.
    expect(res.text).not.toContain(e164.slice(1));
    // Bounded: the switchboard_* series stay few, however much traffic there was.
    const series = new Set(
      samples.filter((s) => s.name.startsWith('switchboard_') && !s.name.startsWith('switchboard_process_')).map((s) => s.name + JSON.stringify(s.labels)),
    );
    expect(series.size).toBeLessThan(200);
  });
});
