/**
 * Assistant simulator for the media benchmark, in its own process: a
 * WebSocket server (plain sockets, hand-built frames: wsraw.mjs) that takes
 * Twilio Media Streams frames (through the gateway or a baseline relay, or
 * straight from the carrier simulator) and echoes every media frame back at
 * once, as an assistant sends audio: {"event":"media","streamSid":...,
 * "media":{"payload":...}}, its own sequence number and send time stamped in
 * the payload (media-sim.mjs).
 *
 * Per connection it checks that media sequenceNumbers arrive complete and
 * strictly increasing, and measures carrier→assistant one-way latency from
 * the send time stamped in each payload. When the carrier's `stop` arrives
 * it answers with a mark named `end-<echoes sent>`, so the carrier can
 * account for every echo.
 *
 * env SIM_PORT (0 = any). IPC out: {type:'listening', port}, {type:'report', stats}.
 * IPC in: {type:'window', start, end} (ms, hrms clock: latencies of frames
 * sent in [start, end) are recorded, frames received in it counted), {type:'report'}.
 */
import net from 'node:net';
import { Histogram, PAYLOAD_KEY, PAYLOAD_REST, stamp, usNow } from './media-sim.mjs';
import { FrameReader, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, digitsAt, serverFrame, upgradeResponse } from './wsraw.mjs';

const hist = new Histogram();
let winStart = Infinity; // µs
let winEnd = -Infinity;
const st = {
  connections: 0,
  starts: 0,
  recvMedia: 0,
  recvInWindow: 0,
  lost: 0,
  reordered: 0,
  echoed: 0,
  stops: 0,
  closedWithoutStop: 0,
  badHandshakes: 0,
};

const SEQ_KEY = Buffer.from('"sequenceNumber":"');
const SID_KEY = Buffer.from('"streamSid":"');
const ECHO_A = '{"event":"media","streamSid":"';
const ECHO_B = '","media":{"payload":"';
const ECHO_C = `${PAYLOAD_REST}"}}`;

const server = net.createServer({ noDelay: true }, (sock) => {
  st.connections++;
  sock.setNoDelay(true);
  let sid = 'MZ00000000000000000000000000000000';
  let last = 1; // start is sequenceNumber 1; media begins at 2
  let recv = 0;
  let echoSeq = 0;
  let stopped = false;
  const reader = new FrameReader({
    head: true,
    onHead: (head) => {
      const res = upgradeResponse(head);
      if (!res) {
        st.badHandshakes++;
        return sock.destroy();
      }
      sock.write(res);
    },
    onFrame: (op, b, s, e) => {
      if (op === OP_TEXT) {
        const c = b[s + 10]; // the first letter of the event: {"event":"m...
        if (c === 109 /* media */) {
          const now = usNow();
          const q = b.indexOf(SEQ_KEY, s);
          const seq = q >= 0 && q < e ? digitsAt(b, q + SEQ_KEY.length, 15) : 0;
          recv++;
          st.recvMedia++;
          if (now >= winStart && now < winEnd) st.recvInWindow++;
          if (seq > last) last = seq;
          else st.reordered++;
          const p = b.indexOf(PAYLOAD_KEY, s);
          if (p >= 0 && p < e) {
            const t = digitsAt(b, p + 22, 16);
            if (t >= winStart && t < winEnd) hist.add((now - t) / 1000);
          }
          echoSeq++;
          st.echoed++;
          sock.write(serverFrame(ECHO_A + sid + ECHO_B + stamp(echoSeq, usNow()) + ECHO_C));
        } else if (c === 115 /* s */ && b[s + 12] === 97 /* start */) {
          st.starts++;
          const q = b.indexOf(SID_KEY, s);
          if (q >= 0 && q < e) sid = b.latin1Slice(q + SID_KEY.length, b.indexOf(34, q + SID_KEY.length));
          const n = b.indexOf(SEQ_KEY, s);
          if (n >= 0 && n < e) last = digitsAt(b, n + SEQ_KEY.length, 15);
        } else if (c === 115 /* stop */) {
          stopped = true;
          st.stops++;
          const q = b.indexOf(SEQ_KEY, s);
          const expected = (q >= 0 && q < e ? digitsAt(b, q + SEQ_KEY.length, 15) : 0) - 2; // media were 2 .. stop-1
          if (expected > recv) st.lost += expected - recv;
          sock.write(serverFrame(`{"event":"mark","streamSid":"${sid}","mark":{"name":"end-${echoSeq}"}}`));
        }
      } else if (op === OP_PING) {
        sock.write(serverFrame(Buffer.from(b.subarray(s, e)), OP_PONG));
      } else if (op === OP_CLOSE) {
        sock.end(serverFrame(Buffer.from(b.subarray(s, Math.min(e, s + 2))), OP_CLOSE));
      }
    },
  });
  sock.on('data', (d) => reader.push(d));
  sock.on('error', () => {});
  sock.on('close', () => {
    if (!stopped) st.closedWithoutStop++;
  });
});
server.maxConnections = 100_000;
server.listen({ host: '127.0.0.1', port: Number(process.env.SIM_PORT ?? 0), backlog: 4096 }, () =>
  process.send({ type: 'listening', port: server.address().port }),
);
server.on('error', (err) => {
  console.error(`assistant-sim: ${err.message}`);
  process.exit(1);
});

process.on('message', (m) => {
  if (m.type === 'window') {
    winStart = m.start * 1000;
    winEnd = m.end * 1000;
  } else if (m.type === 'report') {
    process.send({ type: 'report', stats: { ...st, latency: hist.summary() } });
  }
});
process.on('disconnect', () => process.exit(0));
