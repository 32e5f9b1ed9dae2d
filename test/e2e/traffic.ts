/**
 * Mixed traffic against a real `node dist/src/main.js` process, for the
 * crash-safety test (crash.test.ts): a seeded PRNG, and the traffic loops themselves
 * (purchases, assignments, signed voice webhooks, status callbacks, live media
 * bridges). Every loop records only answers that fully arrived; a request cut
 * off by the kill is ignored.
 */
import WebSocket from 'ws';
import { accountSid, parseTwiml, prepareTwilio, voiceParams } from '../helpers/carrier.js';
import { CONNECTED, mediaFrame, twilioStart } from '../helpers/media.js';
import { api, sleep, type ApiAnswer } from './server.js';

// ------------------------------------------------------------------ PRNG

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick<T>(xs: readonly T[]): T {
      if (xs.length === 0) throw new Error('pick from an empty list');
      return xs[Math.floor(next() * xs.length)]!;
    },
    /** A random subset (each element kept with probability p). */
    subset<T>(xs: readonly T[], p: number): T[] {
      return xs.filter(() => next() < p);
    },
    /** CA + 32 hex digits, from this generator (reproducible). */
    callSid: () => 'CA' + Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join(''),
  };
}
export type Rng = ReturnType<typeof prng>;

// ------------------------------------------------------------------ HTTP

/** An answer that must be the given status (setup steps; never used for traffic). */
export async function must(status: number, a: Promise<ApiAnswer>, what: string): Promise<any> {
  const r = await a;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r.body;
}

/** A signed Twilio voice webhook; resolves only when the whole answer arrived. */
export async function voice(base: string, authToken: string, sid: string, to: string): Promise<{ status: number; text: string }> {
  const r = prepareTwilio(base, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: to, Called: to }), { authToken });
  const res = await fetch(base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  return { status: res.status, text: await res.text() };
}

/** A signed Twilio status callback. */
export async function statusCallback(base: string, authToken: string, sid: string, status: string, seq: number, durationSec?: number) {
  const params: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: sid,
    CallStatus: status,
    SequenceNumber: String(seq),
    Timestamp: new Date().toUTCString(),
  };
  if (durationSec !== undefined) params.CallDuration = String(durationSec);
  const r = prepareTwilio(base, '/carriers/twilio/status', params, { authToken });
  const res = await fetch(base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  await res.arrayBuffer();
  return res.status;
}

// ------------------------------------------------------------------ traffic

export const PLAN_LIMITS = { free: 1, starter: 5, pro: 50 } as const;
export type Plan = keyof typeof PLAN_LIMITS;

export interface TeamCtx {
  id: string;
  slug: string;
  plan: Plan;
  token: string;
  assistantIds: string[];
}

export interface TrafficCtx {
  base: string;
  adminToken: string;
  twilioToken: string;
  teams: TeamCtx[];
  /** Numbers the traffic may buy and dial (the carrier's inventory as searched). */
  pool: string[];
  /** Numbers bought so far (some since released); the traffic adds to it. */
  held: string[];
  /** Numbers nobody can hold (no_route). */
  unknown: string[];
  rng: Rng;
  /** Calls answered before the traffic started (the bridge loop streams them first). */
  preAnswered: Answered[];
  /** Live media bridges kept open at most at once. */
  maxBridges: number;
}

export interface Answered {
  sid: string;
  to: string;
  kind: 'connect' | 'reject';
  callId: string | null;
  token: string | null;
  streamUrl: string | null;
}

export interface TrafficLog {
  answered: Answered[];
  /** Voice webhooks sent (answered or not). */
  voiceSent: number;
  /** Purchases by outcome (HTTP status), and the numbers whose 201 arrived. */
  purchases: Record<string, number>;
  purchased: Array<{ id: string; e164: string; teamId: string }>;
  /** Purchases sent with an Idempotency-Key; status and id once (if) the answer arrived. */
  keyed: Array<{ key: string; teamId: string; e164: string; status: number | null; id: string | null }>;
  /** Same-number purchase pairs (two teams at once) whose answers both arrived: [201s, other]. */
  doubleBuys: Array<[number, number]>;
  assigns: Record<string, number>;
  suspends: Record<string, number>;
  releases: Record<string, number>;
  statusCallbacks: Record<string, number>;
  bridgesOpened: number;
  /** Frames the fake assistant echoed back to a carrier socket, over all bridges. */
  echoes: number;
  errors: number;
}

const bump = (m: Record<string, number>, k: string | number) => (m[String(k)] = (m[String(k)] ?? 0) + 1);

/**
 * Runs every loop until `stop()` says so (the test kills the server then),
 * and returns once each loop has seen its last request settle.
 */
export async function runTraffic(ctx: TrafficCtx, stopped: () => boolean): Promise<TrafficLog> {
  const log: TrafficLog = {
    answered: [...ctx.preAnswered],
    voiceSent: 0,
    purchases: {},
    purchased: [],
    keyed: [],
    doubleBuys: [],
    assigns: {},
    suspends: {},
    releases: {},
    statusCallbacks: {},
    bridgesOpened: 0,
    echoes: 0,
    errors: 0,
  };
  const { rng } = ctx;
  const sockets = new Set<WebSocket>();
  const bridged = new Set<string>();
  const guard = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch {
      // The server was killed under this request: its answer never arrived.
      log.errors++;
    }
  };
  const loop = (fn: () => Promise<void>, pauseMs: number) => async () => {
    while (!stopped()) {
      await guard(fn);
      if (pauseMs) await sleep(rng.int(0, pauseMs));
    }
  };

  let keys = 0;
  const buy = async (team: TeamCtx, e164: string): Promise<number> => {
    // Half the purchases carry an Idempotency-Key: the test retries them after the restart.
    const keyed = rng.chance(0.5)
      ? { key: `crash-${rng.int(0, 1e9)}-${++keys}`, teamId: team.id, e164, status: null as number | null, id: null as string | null }
      : null;
    if (keyed) log.keyed.push(keyed);
    const r = await api(
      ctx.base,
      team.token,
      'POST',
      '/api/phone-numbers/purchase',
      { phoneNumber: e164, teamId: team.id },
      keyed ? { 'Idempotency-Key': keyed.key } : {},
    );
    if (keyed) {
      keyed.status = r.status;
      keyed.id = r.status === 201 ? r.body.phoneNumber.id : null;
    }
    bump(log.purchases, r.status);
    if (r.status === 201) {
      log.purchased.push({ id: r.body.phoneNumber.id, e164, teamId: team.id });
      ctx.held.push(e164);
    }
    return r.status;
  };

  const purchase = async () => {
    if (rng.chance(0.3)) {
      // Two teams buy the same number at the same moment: at most one 201.
      const [a, b] = [rng.pick(ctx.teams), rng.pick(ctx.teams)];
      if (a === b) return;
      const e164 = rng.pick(ctx.pool);
      const both = await Promise.allSettled([buy(a, e164), buy(b, e164)]);
      const got = both.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      if (got.length === 2) log.doubleBuys.push([got.filter((s) => s === 201).length, got.filter((s) => s !== 201).length]);
      if (got.length < 2) throw new Error('cut off');
      return;
    }
    await buy(rng.pick(ctx.teams), rng.pick(ctx.pool));
  };

  const assign = async () => {
    const team = rng.pick(ctx.teams);
    const list = await api(ctx.base, team.token, 'GET', `/api/phone-numbers?teamId=${team.id}`);
    if (list.status !== 200) return;
    const numbers = list.body.phoneNumbers as Array<{ id: string; status: string }>;
    const held = numbers.filter((n) => n.status === 'active' || n.status === 'suspended' || n.status === 'purchasing');
    if (rng.chance(0.15) && held.length) {
      // Admin suspends or reactivates one (suspended numbers keep their assistant and reject).
      const n = rng.pick(held);
      const status = n.status === 'suspended' ? 'active' : 'suspended';
      const r = await api(ctx.base, ctx.adminToken, 'PATCH', `/api/phone-numbers/${n.id}`, { status });
      bump(log.suspends, r.status);
      return;
    }
    // Mostly active numbers; now and then a purchasing one (409 NUMBER_NOT_ACTIVE, and nothing changes).
    const pickFrom = rng.chance(0.1) ? held : held.filter((n) => n.status === 'active');
    const ids = rng.subset(pickFrom, 0.5).map((n) => n.id);
    const assistantId = rng.pick(team.assistantIds);
    const r = await api(ctx.base, team.token, 'PATCH', `/api/assistants/${assistantId}/telephony/phone-numbers`, {
      accountSlug: team.slug,
      phoneNumberIds: ids,
    });
    bump(log.assigns, r.status);
  };

  const call = async () => {
    const sid = rng.callSid();
    // Mostly numbers someone holds (they connect when assigned), some from the pool, a few unknown.
    const r = rng.next();
    const to = r < 0.6 ? rng.pick(ctx.held) : r < 0.9 ? rng.pick(ctx.pool) : rng.pick(ctx.unknown);
    log.voiceSent++;
    const res = await voice(ctx.base, ctx.twilioToken, sid, to);
    if (res.status !== 200) return;
    const tw = parseTwiml(res.text);
    if (tw.callId) log.answered.push({ sid, to, kind: 'connect', callId: tw.callId, token: tw.token, streamUrl: tw.streamUrl });
    else if (tw.reject) log.answered.push({ sid, to, kind: 'reject', callId: null, token: null, streamUrl: null });
    else throw new Error(`neither connect nor reject: ${res.text}`);
  };

  let seq = 0;
  const status = async () => {
    if (log.answered.length === 0) return;
    const a = rng.pick(log.answered);
    const s = rng.pick(['ringing', 'in-progress', 'in-progress', 'completed', 'no-answer']);
    const code = await statusCallback(ctx.base, ctx.twilioToken, a.sid, s, ++seq, s === 'completed' ? rng.int(1, 30) : undefined);
    bump(log.statusCallbacks, code);
  };

  // A live bridge runs in the background (a carrier streaming audio) while the loop opens others.
  const live: Array<Promise<void>> = [];
  const stream = async (ws: WebSocket, a: Answered) => {
    ws.send(CONNECTED);
    ws.send(twilioStart(a.callId!, a.token!, a.sid));
    // Audio every 20 ms until the gateway goes away (or the caller hangs up).
    const frames = rng.int(10, 100);
    for (let i = 3; i < 3 + frames && ws.readyState === WebSocket.OPEN; i++) {
      ws.send(mediaFrame(i));
      await sleep(20);
    }
    if (ws.readyState === WebSocket.OPEN && rng.chance(0.5)) ws.close(1000);
  };
  const bridge = async () => {
    if (sockets.size >= ctx.maxBridges) return;
    const candidates = log.answered.filter((a) => a.kind === 'connect' && !bridged.has(a.sid));
    if (candidates.length === 0) return;
    const a = rng.pick(candidates);
    bridged.add(a.sid);
    const ws = new WebSocket(a.streamUrl!);
    sockets.add(ws);
    ws.on('error', () => {});
    ws.on('message', () => log.echoes++);
    ws.once('close', () => sockets.delete(ws));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('closed before open')));
    });
    log.bridgesOpened++;
    live.push(guard(() => stream(ws, a)));
  };

  const release = async () => {
    const team = rng.pick(ctx.teams);
    const list = await api(ctx.base, team.token, 'GET', `/api/phone-numbers?teamId=${team.id}`);
    if (list.status !== 200) return;
    const held = (list.body.phoneNumbers as Array<{ id: string; status: string }>).filter((n) => n.status === 'active' || n.status === 'suspended');
    if (held.length === 0) return;
    const r = await api(ctx.base, team.token, 'DELETE', `/api/phone-numbers/${rng.pick(held).id}`);
    bump(log.releases, r.status);
  };

  await Promise.all([
    loop(purchase, 30)(),
    loop(purchase, 30)(),
    loop(assign, 20)(),
    loop(assign, 20)(),
    loop(call, 0)(),
    loop(call, 0)(),
    loop(call, 5)(),
    loop(call, 5)(),
    loop(status, 10)(),
    loop(bridge, 40)(),
    loop(release, 80)(),
  ]);
  await Promise.all(live);
  for (const ws of sockets) ws.terminate();
  return log;
}
