/**
 * Carrier simulator for the media benchmark, in its own process: N calls,
 * each a Twilio Media Streams client sending 50 frames/s of 160-byte mu-law.
 *
 *   mode 'gateway'  per call: a signed Twilio voice webhook, callId and token
 *                   taken from the TwiML <Parameter>s, then a WebSocket to the
 *                   <Stream url> (the gateway's /media/twilio)
 *   mode 'direct'   the baseline: a WebSocket straight to the assistant simulator
 *
 * Each socket sends connected, start (sequenceNumber 1, customParameters
 * {callId, token}), then media frames every 20 ms (sequenceNumber, chunk and
 * timestamp as Twilio sets them, plus a send time `"t"`, CLOCK_MONOTONIC ms,
 * which the gateway relays untouched), then stop. Calls are spread over the
 * 20 ms period in 1 ms phases and opened gradually (rampBatch every rampEveryMs).
 * Echoes from the assistant are checked for completeness and order and their
 * one-way latency measured; the assistant's end mark says how many it sent.
 *
 * argv[2]: JSON { mode, calls, port, publicUrl, authToken, numbers, assistantUrl,
 *                 offset, rampBatch, rampEveryMs }
 * IPC out: {type:'ready', ...}, {type:'done', stats}.
 * IPC in: {type:'window', start, end}, {type:'stop'}.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import { Histogram, hrms, PAYLOAD, numField } from './media-sim.mjs';
import { benchNumber } from './seed.mjs';

const o = JSON.parse(process.argv[2]);
const rampBatch = o.rampBatch ?? 100;
const rampEveryMs = o.rampEveryMs ?? 100;
const PHASES = 20;
const WEBHOOK_PATH = '/carriers/twilio/voice';
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

const hist = new Histogram();
let winStart = Infinity;
let winEnd = -Infinity;
const st = {
  mode: o.mode,
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
  echoLost: 0,
  echoReordered: 0,
  maxBuffered: 0,
  lateTicks: 0,
  maxTickLagMs: 0,
  closeReasons: {},
  errors: {},
};
const tally = (m, k) => (m[k] = (m[k] ?? 0) + 1);

const M1 = '{"event":"media","sequenceNumber":"';
const M2 = '","streamSid":"';
const M3 = '","media":{"track":"inbound","chunk":"';
const M4 = '","timestamp":"';
const M5 = `","payload":"${PAYLOAD}"},"t":`;

const hex = (n, w) => n.toString(16).padStart(w, '0');

function sign(url, params) {
  // X-Twilio-Signature: URL then name+value of each parameter, sorted by name.
  const h = createHmac('sha1', o.authToken).update(url);
  for (const k of Object.keys(params).sort()) h.update(k + params[k]);
  return h.digest('base64');
}

const unescapeXml = (s) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]);

/** POSTs the voice webhook and returns the stream URL and parameters from the TwiML. */
function webhook(call) {
  const params = {
    AccountSid: ACCOUNT,
    ApiVersion: '2010-04-01',
    CallSid: call.callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+12125550123',
    To: benchNumber(call.i % o.numbers),
  };
  const body = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: o.port,
        path: WEBHOOK_PATH,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          'x-twilio-signature': sign(o.publicUrl + WEBHOOK_PATH, params),
        },
      },
      (res) => {
        let xml = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (xml += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`webhook ${res.statusCode}: ${xml.slice(0, 120)}`));
          const url = /<Stream url="([^"]+)"/.exec(xml)?.[1];
          const p = {};
          for (const m of xml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) p[unescapeXml(m[1])] = unescapeXml(m[2]);
          if (!url || !p.callId || !p.token) return reject(new Error(`webhook: no <Stream> in TwiML: ${xml.slice(xml.indexOf('<Response>'), 160)}`));
          resolve({ url: unescapeXml(url), params: p });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

class Call {
  constructor(i) {
    this.i = i;
    this.sid = 'MZ' + hex(o.offset ?? 0, 8) + hex(i, 24);
    this.callSid = 'CA' + hex(o.offset ?? 0, 8) + hex(i, 24);
    this.ws = null;
    this.seq = 1;
    this.chunk = 0;
    this.lastEcho = 0;
    this.echoRecv = 0;
    this.live = false; // sending media
    this.done = false; // end mark received (or given up)
  }

  async open() {
    let url = o.assistantUrl;
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
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 });
    this.ws = ws;
    ws.on('message', this.onMessage);
    ws.on('error', () => {}); // reported through 'close'
    ws.on('close', (code, reason) => {
      const wasLive = this.live;
      this.live = false;
      if (!this.done) {
        this.done = true;
        if (wasLive || stopping) {
          st.closedEarly++;
          tally(st.closeReasons, `${code} ${reason}`);
        }
        maybeFinish();
      }
    });
    await new Promise((resolve) => {
      ws.once('open', resolve);
      ws.once('error', (err) => {
        if (!this.live && !this.done) {
          st.connectFailed++;
          tally(st.errors, err.message);
          this.done = true;
        }
        resolve();
      });
    });
    if (this.done) return;
    ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    ws.send(
      `{"event":"start","sequenceNumber":"1","streamSid":"${this.sid}","start":{"accountSid":"${ACCOUNT}","streamSid":"${this.sid}","callSid":"${this.callSid}",` +
        `"tracks":["inbound"],"customParameters":${JSON.stringify(params)},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`,
    );
    st.opened++;
    this.live = true;
    phases[this.i % PHASES].push(this);
  }

  sendMedia() {
    if (!this.live) return;
    const seq = ++this.seq;
    const chunk = ++this.chunk;
    const t = hrms();
    this.ws.send(M1 + seq + M2 + this.sid + M3 + chunk + M4 + (chunk - 1) * 20 + M5 + t + '}');
    st.sentMedia++;
    if (t >= winStart && t < winEnd) st.sentInWindow++;
    const b = this.ws.bufferedAmount;
    if (b > st.maxBuffered) st.maxBuffered = b;
  }

  stop() {
    if (!this.live) return;
    this.live = false;
    this.ws.send(
      `{"event":"stop","sequenceNumber":"${this.seq + 1}","streamSid":"${this.sid}","stop":{"accountSid":"${ACCOUNT}","callSid":"${this.callSid}"}}`,
    );
  }

  onMessage = (data) => {
    const s = data.toString('latin1');
    if (s.charCodeAt(11) === 101 /* media */) {
      const now = hrms();
      const seq = numField(s, 'seq');
      this.echoRecv++;
      st.echoRecv++;
      if (seq > this.lastEcho) this.lastEcho = seq;
      else st.echoReordered++;
      const t = numField(s, 't', true);
      if (t >= winStart && t < winEnd) hist.add(now - t);
    } else if (s.charCodeAt(11) === 97 /* mark */ && !this.done) {
      const expected = numField(s, 'seq');
      if (expected > this.echoRecv) st.echoLost += expected - this.echoRecv;
      this.done = true;
      st.finished++;
      this.ws.close(1000, 'bye');
      maybeFinish();
    }
  };
}

// ---- the 20 ms clock: phase p sends for its calls at t0 + p + 20k ms ----
const phases = Array.from({ length: PHASES }, () => []);
const t0 = hrms();
const due = phases.map((_, p) => t0 + p);
let ticking = true;
function tick() {
  const now = hrms();
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
process.send({ type: 'ready', opened: st.opened, webhookFailed: st.webhookFailed, connectFailed: st.connectFailed });

// ---- stop: stop, wait for every end mark (or give up), report ----
let finishResolve;
const finishedAll = new Promise((r) => (finishResolve = r));
function maybeFinish() {
  if (stopping && calls.every((c) => c.done)) finishResolve();
}

process.on('message', async (m) => {
  if (m.type === 'window') {
    winStart = m.start;
    winEnd = m.end;
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
      if (c.ws && c.ws.readyState === WebSocket.OPEN) c.ws.close(1000, 'bye');
    }
    agent.destroy();
    process.send({ type: 'done', stats: { ...st, latency: hist.summary() } }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
