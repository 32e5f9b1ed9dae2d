/**
 * Load generator, run in its own process so the server's process is measured
 * alone: autocannon POSTing signed Twilio voice webhooks, each with a new
 * CallSid and a dialled number drawn from the seeded set.
 * argv[2]: JSON { port, publicUrl, authToken, numbers, seconds, connections, offset }
 */
import { createHmac } from 'node:crypto';
import autocannon from 'autocannon';
import { benchNumber } from './seed.mjs';

const o = JSON.parse(process.argv[2]);
const path = '/carriers/twilio/voice';
const signedUrl = o.publicUrl + path;
let n = 0;
let seed = 0x9e3779b9 ^ (o.offset ?? 0);
const rand = () => {
  // xorshift32: cheap, deterministic spread over the numbers
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

function sign(params) {
  // X-Twilio-Signature: URL then name+value of each parameter, sorted by name.
  const h = createHmac('sha1', o.authToken).update(signedUrl);
  for (const k of Object.keys(params).sort()) h.update(k + params[k]);
  return h.digest('base64');
}

const instance = autocannon(
  {
    url: `http://127.0.0.1:${o.port}`,
    connections: o.connections ?? 50,
    duration: o.seconds,
    // A fixed request rate (all connections together), for latency below saturation.
    ...(o.rate ? { overallRate: o.rate } : {}),
    requests: [
      {
        method: 'POST',
        path,
        setupRequest(req) {
          const i = n++;
          const params = {
            AccountSid: 'AC0123456789abcdef0123456789abcdef',
            ApiVersion: '2010-04-01',
            CallSid: 'CA' + (o.offset ?? 0).toString(16).padStart(8, '0') + i.toString(16).padStart(24, '0'),
            CallStatus: 'ringing',
            Direction: 'inbound',
            From: '+12125550123',
            To: benchNumber(Math.floor(rand() * o.numbers)),
          };
          req.body = new URLSearchParams(params).toString();
          req.headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(params) };
          return req;
        },
      },
    ],
  },
  (err, r) => {
    if (err) throw err;
    const non2xx = r.non2xx ?? 0;
    console.log(
      JSON.stringify({
        rps: r.requests.average,
        total: r.requests.total,
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors + r.timeouts + non2xx,
        non2xx,
      }),
    );
  },
);
process.on('SIGTERM', () => instance.stop());
