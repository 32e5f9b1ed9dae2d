/**
 * Calls through a spawned gateway (server.ts): a routed number to call, and
 * the carrier's side of a call: the signed Twilio voice webhook, the media
 * stream bridged to a fake assistant, and the check that it still relays.
 */
import { expect } from 'vitest';
import { callSid, parseTwiml, prepareTwilio, voiceParams, type Twiml } from '../helpers/carrier.js';
import { CONNECTED, carrierSocket, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';
import { api, until, type Gateway } from './server.js';

/**
 * A pro team, one active number from the carrier's inventory and an assistant
 * pointing at the fake assistant, with the number assigned to it.
 */
export async function provisionRoute(p: Gateway, adminToken: string, fake: FakeAssistant, name: string, slug: string) {
  const team = await api(p.base, adminToken, 'POST', '/api/teams', { name, slug, plan: 'pro' });
  expect(team.status, team.text).toBe(201);
  const teamId = team.body.team.id as string;
  const search = await api(p.base, adminToken, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } });
  const e164 = search.body.numbers[0].phoneNumber as string;
  const bought = await api(p.base, adminToken, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId });
  expect(bought.status, bought.text).toBe(201);
  const numberId = bought.body.phoneNumber.id as string;
  await until(
    async () => (await api(p.base, adminToken, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status === 'active',
    'the number to be active',
  );
  const asst = await api(p.base, adminToken, 'POST', '/api/assistants', { teamId, name: 'agent', mediaUrl: fake.url });
  expect(asst.status, asst.text).toBe(201);
  const assistantId = asst.body.assistant.id as string;
  const assigned = await api(p.base, adminToken, 'PATCH', `/api/assistants/${assistantId}/telephony/phone-numbers`, {
    accountSlug: slug,
    phoneNumberIds: [numberId],
  });
  expect(assigned.status, assigned.text).toBe(200);
  return { teamId, e164, numberId, assistantId };
}

export interface VoiceAnswer {
  sid: string;
  status: number;
  text: string;
  /** The parsed TwiML of a 200; null otherwise. */
  twiml: Twiml | null;
}

/** A signed Twilio voice webhook to p, signed with p's own public URL (as Twilio does). */
export async function twilioVoiceCall(p: Gateway, authToken: string, to: string, sid = callSid()): Promise<VoiceAnswer> {
  const r = prepareTwilio(p.base, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: to }), { authToken });
  const res = await fetch(p.base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  const text = await res.text();
  return { sid, status: res.status, text, twiml: res.status === 200 ? parseTwiml(text) : null };
}

export type Carrier = Awaited<ReturnType<typeof carrierSocket>>;

/**
 * Opens the media stream a connect answer points at (it must be p's), and
 * waits for the first frames to be bridged to the fake assistant and echoed.
 */
export async function bridge(p: Gateway, fake: FakeAssistant, v: { sid: string; twiml: Twiml | null }, what = `call ${v.sid} to be bridged through ${p.name}`) {
  expect(v.twiml!.streamUrl).toBe(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`);
  const conn = fake.connections.length;
  const c = await carrierSocket(v.twiml!.streamUrl!);
  c.ws.send(CONNECTED);
  c.ws.send(twilioStart(v.twiml!.callId!, v.twiml!.token!, v.sid));
  for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]?.length === 12 && c.received.length === 10, what);
  return { c, conn, callId: v.twiml!.callId!, sid: v.sid };
}

/** Sends n more frames and waits for their echoes: the call is still relaying. */
export async function stillRelays(c: Carrier, fake: FakeAssistant, conn: number, from: number, n = 10) {
  const before = fake.received[conn]!.length;
  const echoes = c.received.length;
  for (let i = from; i < from + n; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]!.length === before + n && c.received.length === echoes + n, 'frames to be relayed');
  expect(fake.received[conn]!.slice(before)).toEqual(Array.from({ length: n }, (_, k) => mediaFrame(from + k)));
}
