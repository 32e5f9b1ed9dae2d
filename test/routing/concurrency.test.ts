// 500 concurrent signed webhooks over real sockets: every one answered 200
// with valid TwiML routed to the right assistant, one call record each, and
// carrier retries inside the burst do not add records.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, CARRIER_ENV, callSid, countCalls, newAssistant, parseTwiml, twilioVoiceFetch, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
let base: string;
/** 10 numbers; number i is on assistant floor(i / 2). */
const numbers: Array<{ id: string; e164: string; assistant: string }> = [];

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  const addr: AddressInfo = await t.gw.listen();
  base = `http://127.0.0.1:${addr.port}`;
  const team = await createTeam(t, 'burst', 'pro');
  const assistants: string[] = [];
  for (let i = 0; i < 5; i++) assistants.push(await newAssistant(t, team, `agent-${i}`, `wss://agent${i}.example.com/s`));
  const e164s = await availableNumbers(t, 'US', 10);
  const ids = await Promise.all(e164s.map((e) => buyActive(t, team, e)));
  for (let i = 0; i < 10; i++) numbers.push({ id: ids[i]!, e164: e164s[i]!, assistant: assistants[Math.floor(i / 2)]! });
  for (let a = 0; a < 5; a++) await assign(t, team, assistants[a]!, [numbers[2 * a]!.id, numbers[2 * a + 1]!.id]);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe('a burst of 500 concurrent inbound webhooks', () => {
  it('all 200, valid TwiML, routed to the right assistant, 500 records, zero errors', async () => {
    const before = await countCalls(t);
    const jobs = Array.from({ length: 500 }, (_, i) => {
      const unknown = i % 12 === 0; // 42 calls to numbers nobody holds
      const n = numbers[i % 10]!;
      return { sid: callSid(), to: unknown ? `+1415555${String(9000 + i).padStart(4, '0')}` : n.e164, expect: unknown ? null : n };
    });
    // Every 10th call is also retried by the carrier inside the same burst.
    const sends = [...jobs.map((j) => ({ j, retry: false })), ...jobs.filter((_, i) => i % 10 === 5).map((j) => ({ j, retry: true }))];
    const UNKNOWN = jobs.filter((j) => j.expect === null).length;
    const started = performance.now();
    const results = await Promise.allSettled(sends.map(({ j }) => twilioVoiceFetch(t, base, voiceParams({ CallSid: j.sid, To: j.to }))));
    const elapsed = performance.now() - started;

    const errors: string[] = [];
    const answerBySid = new Map<string, string>();
    let connected = 0;
    let rejected = 0;
    results.forEach((r, k) => {
      const { j, retry } = sends[k]!;
      if (r.status === 'rejected') return void errors.push(`${j.sid}: ${String(r.reason)}`);
      const res = r.value;
      if (res.status !== 200 || !res.contentType.startsWith('text/xml')) return void errors.push(`${j.sid}: ${res.status} ${res.text.slice(0, 200)}`);
      let tw;
      try {
        tw = parseTwiml(res.text);
      } catch (err) {
        return void errors.push(`${j.sid}: malformed TwiML ${String(err)}`);
      }
      if (retry) {
        if (answerBySid.get(j.sid) !== undefined && answerBySid.get(j.sid) !== res.text) errors.push(`${j.sid}: retry answered differently`);
        return;
      }
      answerBySid.set(j.sid, res.text);
      if (j.expect === null) {
        if (tw.reject !== 'rejected') errors.push(`${j.sid}: expected a reject, got ${res.text}`);
        else rejected++;
        return;
      }
      if (tw.reject || !tw.callId || !t.gw.tokens.verify(tw.callId, j.expect.assistant, tw.token)) {
        return void errors.push(`${j.sid}: not routed to its assistant: ${res.text}`);
      }
      if (tw.streamUrl !== 'wss://gw.example.com/media/twilio') errors.push(`${j.sid}: stream url ${tw.streamUrl}`);
      connected++;
    });
    expect(errors.slice(0, 10)).toEqual([]);
    expect(errors).toHaveLength(0);
    expect(rejected).toBe(UNKNOWN);
    expect(connected).toBe(500 - UNKNOWN);

    // One durable record per call, each pinned to the right assistant and number.
    expect((await countCalls(t)) - before).toBe(500);
    const rows = (await t.sql.all('SELECT carrier_call_id AS sid, status, reason, assistant_id, phone_number_id, id FROM calls')) as Array<{
      sid: string;
      status: string;
      reason: string | null;
      assistant_id: string | null;
      phone_number_id: string | null;
      id: string;
    }>;
    const bySid = new Map(rows.map((r) => [r.sid, r]));
    const mismatches: string[] = [];
    for (const j of jobs) {
      const row = bySid.get(j.sid);
      if (!row) {
        mismatches.push(`${j.sid}: no record`);
        continue;
      }
      if (j.expect === null) {
        if (row.status !== 'rejected' || row.reason !== 'no_route') mismatches.push(`${j.sid}: ${row.status}/${row.reason}`);
      } else if (row.status !== 'routed' || row.assistant_id !== j.expect.assistant || row.phone_number_id !== j.expect.id) {
        mismatches.push(`${j.sid}: ${row.status} ${row.assistant_id} ${row.phone_number_id}`);
      } else if (!answerBySid.get(j.sid)!.includes(`value="${row.id}"`)) {
        mismatches.push(`${j.sid}: answered a callId that is not its record's`);
      }
    }
    expect(mismatches).toEqual([]);
    // Informative only (a shared CI box makes a hard bound flaky).
    console.info(`burst of ${sends.length} webhooks answered in ${Math.round(elapsed)} ms`);
  });

  it('the gateway still answers normally right after the burst', async () => {
    const n = numbers[3]!;
    const r = await twilioVoiceFetch(t, base, voiceParams({ To: n.e164 }));
    expect(r.status).toBe(200);
    const tw = parseTwiml(r.text);
    expect(t.gw.tokens.verify(tw.callId!, n.assistant, tw.token)).toBe(true);
    const health = await fetch(`${base}/readyz`);
    expect(health.status).toBe(200);
  });
});
