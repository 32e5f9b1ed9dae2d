/**
 * Media test doubles: a fake assistant runtime (a real ws server on port 0
 * that records what it receives and answers with audio) and a carrier client
 * that speaks Twilio Media Streams.
 */
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { TestGateway } from './gateway.js';

export interface FakeAssistant {
  url: string;
  /** Every text frame received, per connection, in order. */
  received: string[][];
  connections: WebSocket[];
  /** Resolves when the n-th connection (1-based) has closed. */
  closed(n?: number): Promise<{ code: number }>;
  close(): Promise<void>;
}

export async function fakeAssistant(opts: { echo?: boolean; replyEvery?: number } = {}): Promise<FakeAssistant> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', r));
  const received: string[][] = [];
  const connections: WebSocket[] = [];
  const closes: Array<Promise<{ code: number }>> = [];
  wss.on('connection', (ws) => {
    const mine: string[] = [];
    received.push(mine);
    connections.push(ws);
    closes.push(new Promise((r) => ws.once('close', (code) => r({ code }))));
    let streamSid = '';
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      mine.push(isBinary ? `binary:${text}` : text);
      if (isBinary) return;
      const msg = JSON.parse(text);
      if (msg.event === 'start') streamSid = msg.streamSid;
      if (opts.echo && msg.event === 'media') {
        ws.send(JSON.stringify({ event: 'media', streamSid, media: { payload: msg.media.payload } }));
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/stream`,
    received,
    connections,
    async closed(n = 1) {
      for (let i = 0; i < 500 && closes.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      return closes[n - 1]!;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

export const STREAM_SID = 'MZ' + '0'.repeat(32);

export function twilioStart(callId: string, token: string, callSid = 'CA' + '1'.repeat(32)) {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: STREAM_SID,
    start: {
      accountSid: 'AC' + '2'.repeat(32),
      streamSid: STREAM_SID,
      callSid,
      tracks: ['inbound'],
      customParameters: { callId, token },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  });
}

export const CONNECTED = JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });

export function mediaFrame(seq: number): string {
  const payload = Buffer.alloc(160, seq % 256).toString('base64');
  return JSON.stringify({
    event: 'media',
    sequenceNumber: String(seq),
    streamSid: STREAM_SID,
    media: { track: 'inbound', chunk: String(seq - 2), timestamp: String((seq - 2) * 20), payload },
  });
}

/** A carrier-side client: connects, collects what the gateway sends back. */
export async function carrierSocket(url: string): Promise<{ ws: WebSocket; received: string[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (d) => received.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received, closed };
}

/**
 * A routed call pinned to an assistant and its media URL, as the inbound
 * webhook leaves it in the database; returns the call's media token.
 */
export async function routedCall(t: TestGateway, id: string, assistantId: string, mediaUrl: string): Promise<string> {
  await t.sql.run(
    `INSERT INTO calls (id, team_id, direction, carrier, carrier_call_id, from_number, to_number, assistant_id, media_url, status, created_at)
     VALUES (?, NULL, 'inbound', 'twilio', ?, '+15550001', '+15550002', ?, ?, 'routed', ?)`,
    id,
    `CA${Buffer.from(id).toString('hex').padEnd(32, '0').slice(0, 32)}`,
    assistantId,
    mediaUrl,
    t.clock.now(),
  );
  return t.gw.tokens.sign(id, assistantId, t.clock.now());
}

/** A call record as the store reads it (domain field names). */
export async function callRecord(t: TestGateway, id: string) {
  const c = await t.gw.store.calls.get(id);
  if (!c) throw new Error(`no call ${id}`);
  return c;
}

// --- Telnyx's media dialect (snake_case; see src/carriers/telnyx/media.ts) ---

export const TELNYX_STREAM_ID = '32de0dea-53cb-4b21-89a4-9e1819c043bc';
export const TELNYX_CONNECTED = JSON.stringify({ event: 'connected', version: '1.0.0' });

export function telnyxStart(callId: string, token: string, callControlId = 'v3:control-id', seq = 1) {
  return JSON.stringify({
    event: 'start',
    sequence_number: String(seq),
    stream_id: TELNYX_STREAM_ID,
    start: {
      user_id: '3e6f995f-85f7-4705-9741-53b116d28237',
      call_control_id: callControlId,
      call_session_id: 'ff55a038-6f5d-11ef-9692-02420aeffb1f',
      from: '+13122010094',
      to: '+13122123456',
      client_state: null,
      custom_parameters: { callId, token },
      media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
    },
  });
}

/** A Telnyx media frame; its sequence number counts every event, like Twilio's. */
export function telnyxMediaFrame(seq: number): string {
  const payload = Buffer.alloc(160, seq % 256).toString('base64');
  return JSON.stringify({
    event: 'media',
    sequence_number: String(seq),
    stream_id: TELNYX_STREAM_ID,
    media: { track: 'inbound', chunk: String(seq - 1), timestamp: String((seq - 1) * 20), payload },
  });
}

export function telnyxStop(seq: number, callControlId = 'v3:control-id') {
  return JSON.stringify({
    event: 'stop',
    sequence_number: String(seq),
    stream_id: TELNYX_STREAM_ID,
    stop: { user_id: '3e6f995f-85f7-4705-9741-53b116d28237', call_control_id: callControlId },
  });
}

/**
 * The frames an assistant receives for these carrier frames: the same bytes,
 * except the start message, whose media token the gateway keeps to itself.
 */
export function relayed(frames: readonly string[]): string[] {
  return frames.map((f) => {
    const msg = JSON.parse(f);
    if (msg.event !== 'start' || !msg.start?.customParameters) return f;
    delete msg.start.customParameters.token;
    return JSON.stringify(msg);
  });
}
