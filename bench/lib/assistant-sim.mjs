/**
 * Assistant simulator for the media benchmark, in its own process: a
 * WebSocket server that takes Twilio Media Streams frames (through the
 * gateway, or straight from the carrier simulator for the baseline) and
 * echoes every media frame back at once, restamped.
 *
 * Per connection it checks that media sequenceNumbers arrive complete and
 * strictly increasing, and measures carrier→assistant one-way latency from
 * the send time `"t"` the carrier simulator put in each frame (CLOCK_MONOTONIC
 * ms, see media-sim.mjs). Echoes carry their own `"seq"` and `"t"`. When the
 * carrier's `stop` arrives it answers with a mark `{"name":"end"}` carrying the
 * number of echoes sent, so the carrier can account for every echo.
 *
 * env SIM_PORT (0 = any). IPC out: {type:'listening', port}, {type:'report', stats}.
 * IPC in: {type:'window', start, end} (latencies of frames sent in [start, end)
 * are recorded), {type:'report'}.
 */
import { WebSocketServer } from 'ws';
import { Histogram, hrms, PAYLOAD, numField, seqOf, strField } from './media-sim.mjs';

const hist = new Histogram();
let winStart = Infinity;
let winEnd = -Infinity;
const st = {
  connections: 0,
  starts: 0,
  recvMedia: 0,
  lost: 0,
  reordered: 0,
  echoed: 0,
  stops: 0,
  closedWithoutStop: 0,
  maxBuffered: 0,
};

const ECHO_A = '{"event":"media","streamSid":"';
const ECHO_B = `","media":{"payload":"${PAYLOAD}"},"seq":`;

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.SIM_PORT ?? 0),
  backlog: 4096,
  perMessageDeflate: false,
  skipUTF8Validation: true,
  clientTracking: false,
  maxPayload: 256 * 1024,
});

wss.on('listening', () => process.send({ type: 'listening', port: wss.address().port }));
wss.on('error', (err) => {
  console.error(`assistant-sim: ${err.message}`);
  process.exit(1);
});

wss.on('connection', (ws) => {
  st.connections++;
  let sid = 'MZ00000000000000000000000000000000';
  let last = 1; // start is sequenceNumber 1; media begins at 2
  let recv = 0;
  let echoSeq = 0;
  let stopped = false;
  ws.on('message', (data) => {
    const s = data.toString('latin1');
    const c = s.charCodeAt(10); // the first letter of the event: {"event":"m...
    if (c === 109 /* media */) {
      const now = hrms();
      const seq = seqOf(s);
      recv++;
      st.recvMedia++;
      if (seq > last) last = seq;
      else st.reordered++;
      const t = numField(s, 't', true);
      if (t >= winStart && t < winEnd) hist.add(now - t);
      echoSeq++;
      st.echoed++;
      ws.send(ECHO_A + sid + ECHO_B + echoSeq + ',"t":' + hrms() + '}');
      const b = ws.bufferedAmount;
      if (b > st.maxBuffered) st.maxBuffered = b;
    } else if (c === 115 /* s */ && s.charCodeAt(12) === 97 /* start */) {
      st.starts++;
      sid = strField(s, 'streamSid') ?? sid;
      const seq = seqOf(s);
      if (Number.isFinite(seq)) last = seq;
    } else if (c === 115 /* stop */) {
      stopped = true;
      st.stops++;
      const expected = seqOf(s) - 2; // media were 2 .. stop-1
      if (expected > recv) st.lost += expected - recv;
      ws.send(`{"event":"mark","streamSid":"${sid}","mark":{"name":"end"},"seq":${echoSeq}}`);
    }
  });
  ws.on('close', () => {
    if (!stopped) st.closedWithoutStop++;
  });
  ws.on('error', () => {});
});

process.on('message', (m) => {
  if (m.type === 'window') {
    winStart = m.start;
    winEnd = m.end;
  } else if (m.type === 'report') {
    process.send({ type: 'report', stats: { ...st, latency: hist.summary() } });
  }
});
process.on('disconnect', () => process.exit(0));
