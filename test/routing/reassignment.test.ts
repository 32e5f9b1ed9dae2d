// "Takes effect immediately" (api.md section 3, Assign and unassign): once the
// reassignment's 200 is sent, every new call to the number routes by the new
// assignment; a call already routed stays pinned to its assistant. Real
// sockets, real SQLite, hundreds of alternations.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGeneric } from '../../src/carriers/generic/index.js';
import { assign, CARRIER_ENV, callSid, GENERIC_SECRET, newAssistant, parseTwiml, twilioVoiceFetch, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let base: string;
let team: Team;
let A: string;
let B: string;
let N: { id: string; e164: string };

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  const addr: AddressInfo = await t.gw.listen();
  base = `http://127.0.0.1:${addr.port}`;
  team = await createTeam(t, 'reassign', 'pro');
  A = await newAssistant(t, team, 'A', 'wss://a.example.com/stream');
  B = await newAssistant(t, team, 'B', 'wss://b.example.com/stream');
  const [e164] = await availableNumbers(t, 'US', 1);
  N = { id: await buyActive(t, team, e164!), e164: e164! };
  await assign(t, team, A, [N.id]);
});
afterAll(async () => {
  await t?.close();
});

/** PATCH over the socket; resolves once the 200 has arrived. */
async function reassign(to: string): Promise<void> {
  const res = await fetch(`${base}/api/assistants/${to}/telephony/phone-numbers`, {
    method: 'PATCH',
    headers: { ...team.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ accountSlug: team.slug, phoneNumberIds: [N.id] }),
  });
  if (res.status !== 200) throw new Error(`reassign → ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

interface Routed {
  callId: string;
  /** The assistant the answer's token verifies for (null: rejected or verifies for neither). */
  assistant: string | null;
  reject: string | null;
}

const verifyFor = (callId: string, token: unknown): string | null =>
  t.gw.tokens.verify(callId, A, token) ? A : t.gw.tokens.verify(callId, B, token) ? B : null;

async function callTwilio(): Promise<Routed> {
  const r = await twilioVoiceFetch(t, base, voiceParams({ To: N.e164 }));
  if (r.status !== 200) throw new Error(`voice → ${r.status} ${r.text}`);
  const tw = parseTwiml(r.text);
  if (tw.reject) return { callId: '', assistant: null, reject: tw.reject };
  return { callId: tw.callId!, assistant: verifyFor(tw.callId!, tw.token), reject: null };
}

async function callGeneric(): Promise<Routed> {
  const body = JSON.stringify({ callId: `sip-${callSid()}`, from: '+12025550143', to: N.e164 });
  const res = await fetch(`${base}/carriers/generic/inbound`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Switchboard-Signature': signGeneric(GENERIC_SECRET, '/carriers/generic/inbound', body, t.clock.now()) },
    body,
  });
  if (res.status !== 200) throw new Error(`generic → ${res.status} ${await res.text()}`);
  const j = (await res.json()) as { action: string; callId: string; assistantId: string; mediaUrl: string; reason?: string };
  if (j.action !== 'connect') return { callId: j.callId, assistant: null, reject: j.reason ?? 'unknown' };
  const token = new URL(j.mediaUrl).searchParams.get('token');
  const who = verifyFor(j.callId, token);
  // The JSON's assistantId must agree with what the token pins.
  return { callId: j.callId, assistant: who === j.assistantId ? who : null, reject: null };
}

const recordedAssistant = async (callId: string): Promise<string | null> =>
  ((await t.sql.value('SELECT assistant_id FROM calls WHERE id = ?', callId)) as string | null | undefined) ?? null;

describe('sequential alternation', () => {
  it('320 reassignments A↔B, a call right after each 200: zero misroutes', async () => {
    let current = A;
    await reassign(A);
    const misroutes: string[] = [];
    for (let i = 0; i < 320; i++) {
      current = current === A ? B : A;
      await reassign(current);
      const r = i % 4 === 3 ? await callGeneric() : await callTwilio();
      if (r.assistant !== current)
        misroutes.push(
          `#${i}: expected ${current === A ? 'A' : 'B'}, token says ${r.assistant === A ? 'A' : r.assistant === B ? 'B' : `${r.assistant} (${r.reject})`}`,
        );
      else if ((await recordedAssistant(r.callId)) !== current) misroutes.push(`#${i}: record says ${await recordedAssistant(r.callId)}`);
    }
    expect(misroutes).toEqual([]);
  });
});

describe('concurrent reassignments and calls', () => {
  it('every call routes to an assignment that was in force while its webhook was in flight', async () => {
    await reassign(A);
    // versions[k] is the assignment set by the k-th reassignment (0: the initial one).
    const versions: string[] = [A];
    let started = 0; // reassignments sent so far
    let completed = 0; // reassignments answered 200 so far
    const PATCHES = 100;
    interface Observed {
      lo: number;
      hi: number;
      r: Routed;
    }
    const observed: Observed[] = [];
    const observe = async (generic: boolean) => {
      const lo = completed;
      const r = generic ? await callGeneric() : await callTwilio();
      observed.push({ lo, hi: started, r });
    };
    let done = false;
    const patcher = (async () => {
      for (let k = 1; k <= PATCHES; k++) {
        const to = k % 2 === 1 ? B : A;
        versions[k] = to;
        started = k;
        await reassign(to);
        completed = k;
        // Every other time, also call right after the 200 before the next
        // reassignment starts (while the background callers keep going).
        if (k % 2 === 0) await Promise.all([observe(false), observe(true), observe(false)]);
      }
    })().finally(() => (done = true));
    const caller = async (w: number) => {
      for (let i = 0; !done; i++) await observe((w + i) % 5 === 0);
    };
    await Promise.all([patcher, ...Array.from({ length: 6 }, (_, w) => caller(w))]);

    expect(completed).toBe(PATCHES);
    expect(observed.length).toBeGreaterThan(300);
    const bad: string[] = [];
    let exact = 0;
    for (const { lo, hi, r } of observed) {
      const allowed = new Set(versions.slice(lo, hi + 1));
      if (lo === hi) exact++;
      if (r.reject || !r.assistant || !allowed.has(r.assistant)) {
        bad.push(
          `versions ${lo}..${hi} allow ${[...allowed].map((x) => (x === A ? 'A' : 'B'))}, got ${r.assistant === A ? 'A' : r.assistant === B ? 'B' : r.reject}`,
        );
        continue;
      }
      const rec = await recordedAssistant(r.callId);
      if (rec !== r.assistant) bad.push(`call ${r.callId}: answer pins ${r.assistant}, record says ${rec}`);
    }
    expect(bad).toEqual([]);
    // Enough calls ran with no reassignment in flight to pin the exact answer.
    expect(exact).toBeGreaterThanOrEqual(150);
  });
});

describe('calls already routed stay pinned', () => {
  it('a call routed before a reassignment keeps its assistant in its record', async () => {
    await reassign(A);
    const before = await callTwilio();
    expect(before.assistant).toBe(A);
    await reassign(B);
    const after = await callTwilio();
    expect(after.assistant).toBe(B);
    const rec = (await t.api.get(`/api/calls/${before.callId}`).set(team.auth).expect(200)).body.call;
    expect(rec.assistantId).toBe(A);
    expect(rec.status).toBe('routed');
    const rec2 = (await t.api.get(`/api/calls/${after.callId}`).set(team.auth).expect(200)).body.call;
    expect(rec2.assistantId).toBe(B);
  });

  it('deleting the assistant: the next call is rejected `unassigned`, the earlier record still names it', async () => {
    const tm = await createTeam(t, 'reassign-del', 'pro');
    const X = await newAssistant(t, tm, 'X');
    const [e164] = await availableNumbers(t, 'US', 1);
    const id = await buyActive(t, tm, e164!);
    await assign(t, tm, X, [id]);
    const r1 = await twilioVoiceFetch(t, base, voiceParams({ To: e164! }));
    const first = parseTwiml(r1.text);
    expect(t.gw.tokens.verify(first.callId!, X, first.token)).toBe(true);

    await t.api.delete(`/api/assistants/${X}`).set(tm.auth).expect(204);

    const sid = callSid();
    const r2 = await twilioVoiceFetch(t, base, voiceParams({ CallSid: sid, To: e164! }));
    expect(r2.status).toBe(200);
    expect(parseTwiml(r2.text).reject).toBe('rejected');
    const row = await t.sql.get('SELECT status, reason, assistant_id FROM calls WHERE carrier_call_id = ?', sid);
    expect(row).toEqual({ status: 'rejected', reason: 'unassigned', assistant_id: null });

    const rec = (await t.api.get(`/api/calls/${first.callId}`).set(tm.auth).expect(200)).body.call;
    expect(rec.assistantId).toBe(X);
    // Still listable by the deleted assistant's id.
    const list = (await t.api.get(`/api/calls?assistantId=${X}`).set(tm.auth).expect(200)).body.calls;
    expect(list.map((c: { id: string }) => c.id)).toEqual([first.callId]);
  });
});
