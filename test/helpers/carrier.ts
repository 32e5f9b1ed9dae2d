/**
 * Carrier-side test helpers: signed Twilio, Telnyx and generic webhooks,
 * carrier call ids, and a small TwiML reader. Twilio signatures come from the
 * official `twilio` package (the oracle, carriers.md), never from src/;
 * Telnyx's are made with node:crypto's Ed25519 from a key pair made here.
 */
import { generateKeyPairSync, randomBytes, sign as edSign } from 'node:crypto';
import twilio from 'twilio';
import { expect } from 'vitest';
import { signGeneric } from '../../src/carriers/generic/index.js';
import type { TestGateway } from './gateway.js';

export const TWILIO_TOKEN = 'tw_test_token';
export const GENERIC_SECRET = 'generic-secret-0123456789';
export const PUBLIC_URL = 'https://gw.example.com';
/** A Telnyx signing key pair, as Telnyx holds the private half and the portal shows the public one. */
const telnyxKeys = generateKeyPairSync('ed25519');
/** The private half, for fakes that sign as Telnyx does (number order webhooks). */
export const TELNYX_SIGNING_KEY = telnyxKeys.privateKey;
/** TELNYX_PUBLIC_KEY: the base64 of the raw 32-byte public key (the SPKI DER's last 32 bytes). */
export const TELNYX_PUBLIC_KEY = telnyxKeys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
/** The env most carrier tests start the gateway with. */
export const CARRIER_ENV = {
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  TELNYX_PUBLIC_KEY,
  SWITCHBOARD_WEBHOOK_SECRET: GENERIC_SECRET,
  SWITCHBOARD_PUBLIC_URL: PUBLIC_URL,
} as const;

/** The telnyx-signature-ed25519 and telnyx-timestamp headers for a raw body, as Telnyx signs it. */
export function telnyxHeaders(rawBody: string, nowMs: number): Record<string, string> {
  const ts = String(Math.floor(nowMs / 1000));
  const signature = edSign(null, Buffer.from(`${ts}|${rawBody}`), telnyxKeys.privateKey).toString('base64');
  return { 'telnyx-signature-ed25519': signature, 'telnyx-timestamp': ts };
}

/** A Telnyx call control id (`v3:` and an opaque token). */
export const telnyxCallId = (): string => 'v3:' + randomBytes(24).toString('base64url');

/** Typical TeXML voice webhook parameters (Twilio's names, Telnyx's ids). */
export function telnyxVoiceParams(p: Params = {}): Params {
  return {
    AccountSid: '4b5f0a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
    CallSid: telnyxCallId(),
    CallSessionId: 'b0e6141e-c81c-11f0-abac-02420aef93a0',
    CallStatus: 'ringing',
    ConnectionId: '2811212257810187875',
    Direction: 'inbound',
    From: '+12025550143',
    To: '+12025550100',
    ...p,
  };
}

export interface TelnyxOpts {
  /** false sends no signature headers. */
  sign?: boolean;
  /** Signs at this time instead of the gateway's clock. */
  nowMs?: number;
  /** Sends these headers instead of the signature. */
  headers?: Record<string, string>;
  /** Raw body to send instead of the form-encoded params (signed as sent). */
  rawBody?: string;
  contentType?: string;
}

function telnyxPost(t: TestGateway, path: string, params: Params, o: TelnyxOpts) {
  const body = o.rawBody ?? formEncode(params);
  const headers: Record<string, string> = { 'Content-Type': o.contentType ?? 'application/x-www-form-urlencoded' };
  if (o.headers) Object.assign(headers, o.headers);
  else if (o.sign !== false) Object.assign(headers, telnyxHeaders(body, o.nowMs ?? t.clock.now()));
  return t.api.post(path).set(headers).send(body);
}

export const telnyxVoice = (t: TestGateway, params: Params, o: TelnyxOpts = {}) => telnyxPost(t, '/carriers/telnyx/voice', params, o);
export const telnyxStatus = (t: TestGateway, params: Params, o: TelnyxOpts = {}) => telnyxPost(t, '/carriers/telnyx/status', params, o);
export const telnyxConnectAction = (t: TestGateway, params: Params, o: TelnyxOpts = {}) => telnyxPost(t, '/carriers/telnyx/connect-action', params, o);

/** A signed TeXML voice webhook for a call to `to`; the call control id sent and what the TeXML says. */
export async function telnyxCallTo(t: TestGateway, to: string) {
  const sid = telnyxCallId();
  const res = await telnyxVoice(t, telnyxVoiceParams({ CallSid: sid, To: to }));
  expect(res.status, res.text).toBe(200);
  const tw = parseTwiml(res.text);
  expect(tw.callId, res.text).toBeTruthy();
  return { sid, callId: tw.callId!, token: tw.token!, streamUrl: tw.streamUrl! };
}

/** A Twilio CallSid: CA + 32 hex digits. */
export const callSid = (): string => 'CA' + randomBytes(16).toString('hex');
export const accountSid = 'AC' + 'ab'.repeat(16);

export type Params = Record<string, string | string[]>;

/** application/x-www-form-urlencoded, repeated names for array values. */
export function formEncode(params: Params): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  return u.toString();
}

/** X-Twilio-Signature as the official package computes it. */
export const twilioSignature = (authToken: string, url: string, params: Params): string => twilio.getExpectedTwilioSignature(authToken, url, params);

export interface TwilioOpts {
  /** Key to sign with; null sends no signature header. */
  authToken?: string | null;
  /** URL to sign (default: the gateway's public URL + path as sent). */
  url?: string;
  /** Params to sign (default: the ones sent). */
  signParams?: Params;
  /** Path + query to POST to (default: the endpoint's path). */
  path?: string;
  contentType?: string;
  /** Raw body to send instead of the form-encoded params. */
  rawBody?: string;
}

/** Typical inbound voice webhook parameters, as Twilio sends them. */
export function voiceParams(p: Params = {}): Params {
  return {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid(),
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+12025550143',
    Caller: '+12025550143',
    FromCountry: 'US',
    ToCountry: 'US',
    ...p,
  };
}

export interface Prepared {
  path: string;
  body: string;
  headers: Record<string, string>;
}

/** Builds a signed Twilio webhook request. */
export function prepareTwilio(publicUrl: string, defaultPath: string, params: Params, o: TwilioOpts = {}): Prepared {
  const path = o.path ?? defaultPath;
  const headers: Record<string, string> = { 'Content-Type': o.contentType ?? 'application/x-www-form-urlencoded' };
  const token = o.authToken === undefined ? TWILIO_TOKEN : o.authToken;
  if (token !== null) headers['X-Twilio-Signature'] = twilioSignature(token, o.url ?? publicUrl + path, o.signParams ?? params);
  return { path, body: o.rawBody ?? formEncode(params), headers };
}

function sendPrepared(t: TestGateway, r: Prepared) {
  return t.api.post(r.path).set(r.headers).send(r.body);
}

export const twilioVoice = (t: TestGateway, params: Params, o: TwilioOpts = {}) =>
  sendPrepared(t, prepareTwilio(t.gw.publicUrl(), '/carriers/twilio/voice', params, o));
export const twilioStatus = (t: TestGateway, params: Params, o: TwilioOpts = {}) =>
  sendPrepared(t, prepareTwilio(t.gw.publicUrl(), '/carriers/twilio/status', { AccountSid: accountSid, ApiVersion: '2010-04-01', ...params }, o));
export const twilioConnectAction = (t: TestGateway, params: Params, o: TwilioOpts = {}) =>
  sendPrepared(t, prepareTwilio(t.gw.publicUrl(), '/carriers/twilio/connect-action', { AccountSid: accountSid, ...params }, o));

/** The same inbound webhook over a real socket (gateway listening at base). */
export async function twilioVoiceFetch(t: TestGateway, base: string, params: Params, o: TwilioOpts = {}) {
  const r = prepareTwilio(t.gw.publicUrl(), '/carriers/twilio/voice', params, o);
  const res = await fetch(base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

export interface GenericOpts {
  secret?: string | null;
  nowMs?: number;
  /** Overrides the whole signature header. */
  signature?: string;
  contentType?: string;
}

function genericPost(t: TestGateway, path: string, body: unknown, o: GenericOpts) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const secret = o.secret === undefined ? GENERIC_SECRET : o.secret;
  const headers: Record<string, string> = { 'Content-Type': o.contentType ?? 'application/json' };
  const sig = o.signature ?? (secret === null ? undefined : signGeneric(secret, path, raw, o.nowMs ?? t.clock.now()));
  if (sig !== undefined) headers['X-Switchboard-Signature'] = sig;
  return t.api.post(path).set(headers).send(raw);
}

/** POST /carriers/generic/inbound, signed with the generic secret at the gateway's clock. */
export const genericInbound = (t: TestGateway, body: unknown, o: GenericOpts = {}) => genericPost(t, '/carriers/generic/inbound', body, o);
export const genericStatus = (t: TestGateway, body: unknown, o: GenericOpts = {}) => genericPost(t, '/carriers/generic/status', body, o);

export interface Twiml {
  streamUrl: string | null;
  callId: string | null;
  token: string | null;
  action: string | null;
  reject: string | null;
  say: string | null;
  hangup: boolean;
}

const unescape = (s: string) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);

/** Reads the verbs the gateway emits. Throws if the document is not well-formed. */
export function parseTwiml(xml: string): Twiml {
  assertWellFormed(xml);
  const attr = (re: RegExp) => {
    const m = re.exec(xml);
    return m ? unescape(m[1]!) : null;
  };
  const say = /<Say(?:\s[^>]*)?>([^<]*)<\/Say>/.exec(xml);
  return {
    streamUrl: attr(/<Stream\s[^>]*\burl="([^"]*)"/),
    callId: attr(/<Parameter\s+name="callId"\s+value="([^"]*)"\s*\/>/),
    token: attr(/<Parameter\s+name="token"\s+value="([^"]*)"\s*\/>/),
    action: attr(/<Connect\s[^>]*\baction="([^"]*)"/),
    reject: attr(/<Reject\s[^>]*\breason="([^"]*)"/),
    say: say ? unescape(say[1]!) : null,
    hangup: /<Hangup\s*\/>/.test(xml),
  };
}

/**
 * A strict, small well-formedness check: XML declaration first, one root,
 * balanced tags, quoted attributes without raw `<` or `&`, text without raw
 * `<` and every `&` starting a known entity.
 */
export function assertWellFormed(xml: string): void {
  if (!xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')) throw new Error(`no XML declaration first: ${xml.slice(0, 40)}`);
  let s = xml.slice(xml.indexOf('?>') + 2);
  const stack: string[] = [];
  let roots = 0;
  const entityOk = (text: string) => !/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text);
  while (s.length) {
    const lt = s.indexOf('<');
    const text = lt < 0 ? s : s.slice(0, lt);
    if (!entityOk(text) || text.includes('>')) throw new Error(`bad text: ${text}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text}`);
    if (lt < 0) break;
    s = s.slice(lt);
    const close = /^<\/([A-Za-z][\w.-]*)\s*>/.exec(s);
    if (close) {
      if (stack.pop() !== close[1]) throw new Error(`unbalanced </${close[1]}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const open = /^<([A-Za-z][\w.-]*)((?:\s+[A-Za-z_][\w.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(s);
    if (!open) throw new Error(`bad tag at: ${s.slice(0, 60)}`);
    for (const m of open[2]!.matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      if (!entityOk(m[1] ?? m[2] ?? '')) throw new Error(`raw & in attribute: ${m[0]}`);
    }
    if (stack.length === 0) roots++;
    if (!open[3]) stack.push(open[1]!);
    s = s.slice(open[0].length);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

/** Rows in the calls table, straight from the database. */
export const countCalls = async (t: TestGateway, where = '1 = 1', ...args: unknown[]): Promise<number> =>
  Number(await t.sql.value(`SELECT count(*) FROM calls WHERE ${where}`, ...args));

/** A call record by carrier call id, straight from the database (column names as stored). */
export const callRow = (t: TestGateway, carrierCallId: string) =>
  t.sql.get<Record<string, any>>('SELECT * FROM calls WHERE carrier_call_id = ?', carrierCallId);

type TeamRef = { id: string; slug: string; auth: Record<string, string> };

/** Creates an assistant through the API; returns its id. */
export async function newAssistant(t: TestGateway, team: TeamRef, name = 'agent', mediaUrl = 'wss://agent.example.com/stream'): Promise<string> {
  const res = await t.api.post('/api/assistants').set(team.auth).send({ teamId: team.id, name, mediaUrl });
  if (res.status !== 201) throw new Error(`assistant: ${res.status} ${res.text}`);
  return res.body.assistant.id as string;
}

/** Sets the complete list of numbers on an assistant (expects 200). */
export async function assign(t: TestGateway, team: TeamRef, assistantId: string, phoneNumberIds: string[]) {
  const res = await t.api.patch(`/api/assistants/${assistantId}/telephony/phone-numbers`).set(team.auth).send({ accountSlug: team.slug, phoneNumberIds });
  if (res.status !== 200) throw new Error(`assign: ${res.status} ${res.text}`);
  return res;
}

/**
 * A real signed Twilio voice webhook for a call to `to`; returns the CallSid
 * sent and the call id, token and stream URL from the connect TwiML.
 */
export async function twilioCallTo(t: TestGateway, to: string) {
  const sid = callSid();
  const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: to }));
  expect(res.status).toBe(200);
  const tw = parseTwiml(res.text);
  expect(tw.callId, res.text).toBeTruthy();
  return { sid, callId: tw.callId!, token: tw.token!, streamUrl: tw.streamUrl! };
}
