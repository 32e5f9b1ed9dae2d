/**
 * Carrier simulator for the media benchmark, in its own process: N calls,
 * each a media stream sending 50 frames/s of 160-byte mu-law.
 *
 *   mode 'gateway'  per call: a signed voice webhook (Twilio: X-Twilio-Signature;
 *                   Telnyx: Ed25519), callId and token taken from the markup's
 *                   <Parameter>s, then a WebSocket to its <Stream url>
 *                   (/media/twilio or /media/telnyx)
 *   mode 'direct'   a WebSocket straight to `url` (the assistant simulator, or
 *                   a baseline relay in front of it)
 *
 * dialect 'twilio' speaks Twilio Media Streams, 'telnyx' Telnyx's media
 * streaming (snake_case, the gateway translates it). Each stream sends
 * connected, start (sequence number 1, custom parameters {callId, token}),
 * media frames every 20 ms (sequence number, chunk and timestamp as the
 * carrier sets them, the send time stamped in the payload, see
 * media-sim.mjs), then stop. Calls are spread over the 20 ms period in 1 ms
 * phases and opened gradually (rampBatch every rampEveryMs). Echoes from
 * the assistant are checked for completeness and order and their one-way
 * latency measured; the assistant's end mark (`end-<count>`) says how many
 * it sent.
 *
 * Cheap on purpose (it shares the cores with what it measures): plain
 * sockets with hand-built WebSocket frames (wsraw.mjs), one Buffer and one
 * write per frame, reads into one shared buffer (net's `onread`), no JSON.
 *
 * argv[2]: JSON { mode, dialect, calls, port, publicUrl, authToken,
 *                 telnyxKey, numbers, url, offset, rampBatch, rampEveryMs }
 * IPC out: {type:'ready', ...}, {type:'done', stats}.
 * IPC in: {type:'window', start, end} (ms, hrms clock), {type:'stop'}.
 */
import { createHmac, createPrivateKey, sign as edSign } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Histogram, PAYLOAD_KEY, PAYLOAD_REST, stamp, usNow } from './media-sim.mjs';
import { benchNumber } from './seed.mjs';
import { FrameReader, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, clientFrame, digitsAt, upgradeRequest } from './wsraw.mjs';

const o = JSON.parse(process.argv[2]);
const dialect = o.dialect ?? 'twilio';
const rampBatch = o.rampBatch ?? 100;
const rampEveryMs = o.rampEveryMs ?? 100;
const PHASES = 20;
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const TELNYX_USER = '3e6f995f-85f7-4705-9741-53b116d28237';
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const telnyxKey = o.telnyxKey ? createPrivateKey({ key: Buffer.from(o.telnyxKey, 'base64'), format: 'der', type: 'pkcs8' }) : null;

const hist = new Histogram();
let winStart = Infinity; // µs
let winEnd = -Infinity;
const st = {
  mode: o.mode,
  dialect,
  calls: o.calls,
  opened: 0,
  webhookFailed: 0,
  connectFailed: 0,
  closedEarly: 0,
  finished: 0,
  unfinished: 0,
  sentMedia: 0,
  sentInWindow: 0,
  echoRecv: 0,
  echoRecvInWindow: 0,
  echoLost: 0,
  echoReordered: 0,
  lateTicks: 0,
  maxTickLagMs: 0,
  closeReasons: {},
  errors: {},
};
const tally = (m, k) => (m[k] = (m[k] ?? 0) + 1);
const hex = (n, w) => n.toString(16).padStart(w, '0');

// ---- frames, as each dialect writes them ----
const TW = {
  connected: () => '{"event":"connected","protocol":"Call","version":"1.0.0"}',
  start: (c, params) =>
    `{"event":"start","sequenceNumber":"1","streamSid":"${c.sid}","start":{"accountSid":"${ACCOUNT}","streamSid":"${c.sid}","callSid":"${c.callSid}",` +
    `"tracks":["inbound"],"customParameters":${JSON.stringify(params)},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`,
  media: (c, seq, chunk, st) =>
    `{"event":"media","sequenceNumber":"${seq}","streamSid":"${c.sid}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${(chunk - 1) * 20}","payload":"${st}${PAYLOAD_REST}"}}`,
  stop: (c, seq) => `{"event":"stop","sequenceNumber":"${seq}","streamSid":"${c.sid}","stop":{"accountSid":"${ACCOUNT}","callSid":"${c.callSid}"}}`,
};
const TX = {
  connected: () => '{"event":"connected","version":"1.0.0"}',
  start: (c, params) =>
    `{"event":"start","sequence_number":"1","stream_id":"${c.sid}","start":{"user_id":"${TELNYX_USER}","call_control_id":"${c.callSid}",` +
    `"call_session_id":"ff55a038-6f5d-11ef-9692-02420aeffb1f","from":"+12125550123","to":"${c.to}","client_state":null,` +
    `"custom_parameters":${JSON.stringify(params)},"media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}`,
  media: (c, seq, chunk, st) =>
    `{"event":"media","sequence_number":"${seq}","stream_id":"${c.sid}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${(chunk - 1) * 20}","payload":"${st}${PAYLOAD_REST}"}}`,
  stop: (c, seq) => `{"event":"stop","sequence_number":"${seq}","stream_id":"${c.sid}","stop":{"user_id":"${TELNYX_USER}","call_control_id":"${c.callSid}"}}`,
};
const F = dialect === 'telnyx' ? TX : TW;

// ---- the voice webhook (gateway mode) ----
const unescapeXml = (s) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]);

function webhookRequest(call) {
  if (dialect === 'telnyx') {
    const body = new URLSearchParams({
      AccountSid: TELNYX_USER,
      CallSid: call.callSid,
      CallSessionId: 'b0e6141e-c81c-11f0-abac-02420aef93a0',
      CallStatus: 'ringing',
      ConnectionId: '2811212257810187875',
      Direction: 'inbound',
      From: '+12125550123',
      To: call.to,
    }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = edSign(null, Buffer.from(`${ts}|${body}`), telnyxKey).toString('base64');
    return { path: '/carriers/telnyx/voice', body, headers: { 'telnyx-signature-ed25519': sig, 'telnyx-timestamp': ts } };
  }
  const params = {
    AccountSid: ACCOUNT,
    ApiVersion: '2010-04-01',
    CallSid: call.callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+12125550123',
    To: call.to,
  };
  const path = '/carriers/twilio/voice';
  // X-Twilio-Signature: URL then name+value of each parameter, sorted by name.
  const h = createHmac('sha1', o.authToken).update(o.publicUrl + path);
  for (const k of Object.keys(params).sort()) h.update(k + params[k]);
  return { path, body: new URLSearchParams(params).toString(), headers: { 'x-twilio-signature': h.digest('base64') } };
}

/** POSTs the voice webhook; the stream URL and parameters from the markup. */
function webhook(call) {
  const { path, body, headers } = webhookRequest(call);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: o.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let xml = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (xml += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`webhook ${res.statusCode}: ${xml.slice(0, 120)}`));
          const url = /<Stream\b[^>]*\burl="([^"]+)"/.exec(xml)?.[1];
          const p = {};
          for (const m of xml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) p[unescapeXml(m[1])] = unescapeXml(m[2]);
          if (!url || !p.callId || !p.token) return reject(new Error(`webhook: no <Stream> in the markup: ${xml.slice(xml.indexOf('<Response>'), 160)}`));
          resolve({ url: unescapeXml(url), params: p });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- calls ----
/** One buffer for every socket's reads: data is parsed before the next read. */
const READ_BUF = Buffer.allocUnsafe(256 * 1024);
const END_KEY = Buffer.from('"name":"end-');

class Call {
  constructor(i) {
    this.i = i;
    this.sid = 'MZ' + hex(o.offset ?? 0, 8) + hex(i, 24);
    this.callSid = dialect === 'telnyx' ? 'v3:bench' + hex(o.offset ?? 0, 8) + hex(i, 24) : 'CA' + hex(o.offset ?? 0, 8) + hex(i, 24);
    this.to = benchNumber(i % o.numbers);
    this.sock = null;
    this.seq = 1;
    this.chunk = 0;
    this.lastEcho = 0;
    this.echoRecv = 0;
    this.live = false; // sending media
    this.done = false; // end mark received (or given up)
    this.reader = new FrameReader({ head: true, onHead: (h) => this.onHead(h), onFrame: (op, b, s, e) => this.onFrame(op, b, s, e) });
    this.opened = null;
    this.opening = false;
  }

  async open() {
    let url = o.url;
    let params = {};
    if (o.mode === 'gateway') {
      try {
        ({ url, params } = await webhook(this));
      } catch (err) {
        st.webhookFailed++;
        tally(st.errors, err.message);
        this.done = true;
        return;
      }
    }
    const u = new URL(url);
    this.opening = true;
    const ok = await new Promise((resolve) => {
      this.opened = resolve;
      const sock = net.connect({
        host: u.hostname,
        port: Number(u.port),
        noDelay: true,
        onread: { buffer: READ_BUF, callback: (n, buf) => void this.reader.push(buf.subarray(0, n)) },
      });
      this.sock = sock;
      sock.on('connect', () => sock.write(upgradeRequest(u.hostname, u.port, u.pathname + u.search)));
      sock.on('error', (err) => {
        tally(st.errors, err.message);
        resolve(false);
      });
      sock.on('close', () => this.onClose());
      setTimeout(() => resolve(false), 30_000).unref();
    });
    this.opening = false;
    if (!ok) {
      st.connectFailed++;
      this.done = true;
      this.sock?.destroy();
      return;
    }
    this.sock.write(clientFrame(F.connected()));
    this.sock.write(clientFrame(F.start(this, params)));
    st.opened++;
    this.live = true;
    phases[this.i % PHASES].push(this);
  }

  onHead(head) {
    const ok = head.startsWith('HTTP/1.1 101');
    if (!ok) tally(st.errors, head.split('\r\n')[0]);
    this.opened?.(ok);
  }

  onClose() {
    if (this.opening) return void this.opened(false);
    const wasLive = this.live;
    this.live = false;
    if (!this.done) {
      this.done = true;
      if (wasLive || stopping) {
        st.closedEarly++;
        tally(st.closeReasons, 'socket closed');
      }
      maybeFinish();
    }
  }

  sendMedia() {
    if (!this.live) return;
    const t = usNow();
    const chunk = ++this.chunk;
    this.sock.write(clientFrame(F.media(this, ++this.seq, chunk, stamp(chunk, t))));
    st.sentMedia++;
    if (t >= winStart && t < winEnd) st.sentInWindow++;
  }

  stop() {
    if (!this.live) return;
    this.live = false;
    this.sock.write(clientFrame(F.stop(this, this.seq + 1)));
  }

  onFrame(op, b, s, e) {
    if (op === OP_TEXT) {
      // {"event":"media"... or {"event":"mark"...: the letter after "m".
      const c = b[s + 11];
      if (c === 101 /* media */) {
        const now = usNow();
        const p = b.indexOf(PAYLOAD_KEY, s);
        if (p < 0 || p >= e) return;
        const seq = digitsAt(b, p + 11, 10);
        const t = digitsAt(b, p + 22, 16);
        this.echoRecv++;
        st.echoRecv++;
        if (now >= winStart && now < winEnd) st.echoRecvInWindow++;
        if (seq > this.lastEcho) this.lastEcho = seq;
        else st.echoReordered++;
        if (t >= winStart && t < winEnd) hist.add((now - t) / 1000);
      } else if (c === 97 /* mark */ && !this.done) {
        const p = b.indexOf(END_KEY, s);
        if (p < 0 || p >= e) return;
        const expected = digitsAt(b, p + END_KEY.length, 12);
        if (expected > this.echoRecv) st.echoLost += expected - this.echoRecv;
        this.done = true;
        st.finished++;
        this.sock.write(clientFrame(Buffer.from([0x03, 0xe8]), OP_CLOSE));
        this.sock.end();
        maybeFinish();
      }
    } else if (op === OP_PING) {
      this.sock.write(clientFrame(Buffer.from(b.subarray(s, e)), OP_PONG));
    } else if (op === OP_CLOSE) {
      if (!this.done) {
        const code = e - s >= 2 ? (b[s] << 8) | b[s + 1] : 1005;
        tally(st.closeReasons, `${code} ${b.latin1Slice(s + 2, e)}`);
      }
      this.sock.end();
    }
  }
}

// ---- the 20 ms clock: phase p sends for its calls at t0 + p + 20k ms ----
const phases = Array.from({ length: PHASES }, () => []);
const t0 = usNow() / 1000;
const due = phases.map((_, p) => t0 + p);
let ticking = true;
function tick() {
  const now = usNow() / 1000;
  for (let p = 0; p < PHASES; p++) {
    if (due[p] > now) continue;
    const lag = now - due[p];
    if (lag > st.maxTickLagMs) st.maxTickLagMs = lag;
    if (lag > 5) st.lateTicks++;
    // Behind schedule: catch up, so every call still sends 50 frames a second.
    while (due[p] <= now) {
      for (const c of phases[p]) c.sendMedia();
      due[p] += 20;
    }
  }
  if (ticking) setTimeout(tick, 1);
}
setTimeout(tick, 1);

// ---- ramp up ----
const calls = Array.from({ length: o.calls }, (_, i) => new Call(i));
let stopping = false;
const opening = [];
for (let b = 0; b < o.calls; b += rampBatch) {
  if (b > 0) await new Promise((r) => setTimeout(r, rampEveryMs));
  for (const c of calls.slice(b, b + rampBatch)) opening.push(c.open());
}
await Promise.all(opening);
process.send({ type: 'ready', opened: st.opened, webhookFailed: st.webhookFailed, connectFailed: st.connectFailed, errors: st.errors });

// ---- stop: stop, wait for every end mark (or give up), report ----
let finishResolve;
const finishedAll = new Promise((r) => (finishResolve = r));
function maybeFinish() {
  if (stopping && calls.every((c) => c.done)) finishResolve();
}

process.on('message', async (m) => {
  if (m.type === 'window') {
    winStart = m.start * 1000;
    winEnd = m.end * 1000;
  } else if (m.type === 'stop') {
    ticking = false;
    stopping = true;
    for (const c of calls) c.stop();
    maybeFinish();
    await Promise.race([finishedAll, new Promise((r) => setTimeout(r, 15_000))]);
    for (const c of calls) {
      if (!c.done) {
        st.unfinished++;
        c.done = true;
      }
      c.sock?.destroy();
    }
    agent.destroy();
    process.send({ type: 'done', stats: { ...st, latency: hist.summary() } }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
