/**
 * Purchase load: autocannon POSTing /api/phone-numbers/purchase, each request
 * a distinct inventory number, team tokens in rotation.
 * argv[2]: JSON { port, tokens: [{token, teamId}], first, seconds, connections }
 *
 * With `ports` instead of `port` (several gateway instances on one
 * database, bench/instances.mjs): one autocannon per instance in this
 * process, the connections divided among them, one counter for the numbers
 * (so no two instances are asked for the same one), and the latency of every
 * answer into one histogram, so p50/p99 are over all purchases, whichever
 * instance made them.
 */
import autocannon from 'autocannon';
import { Histogram } from './media-sim.mjs';
import { benchNumber } from './seed.mjs';

const o = JSON.parse(process.argv[2]);
let n = 0;
const hist = new Histogram();

function cannon(port, connections) {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: o.seconds,
    requests: [
      {
        method: 'POST',
        path: '/api/phone-numbers/purchase',
        setupRequest(req) {
          const i = n++;
          const team = o.tokens[i % o.tokens.length];
          req.body = JSON.stringify({ phoneNumber: benchNumber(o.first + i), teamId: team.teamId });
          req.headers = { 'content-type': 'application/json', authorization: `Bearer ${team.token}` };
          return req;
        },
      },
    ],
  });
}

const ports = o.ports ?? [o.port];
const total = o.connections ?? 20;
// 20 connections over 3 instances: 7, 7, 6.
const instances = ports.map((port, i) => cannon(port, Math.floor(total / ports.length) + (i < total % ports.length ? 1 : 0)));
if (o.ports) for (const c of instances) c.on('response', (_client, _status, _bytes, ms) => hist.add(ms));
process.on('SIGTERM', () => instances.forEach((c) => c.stop()));
const rs = await Promise.all(instances);
const sum = (f) => rs.reduce((a, r) => a + f(r), 0);
// One instance: autocannon's own percentiles, as this benchmark always reported them.
const h = o.ports ? hist.summary() : rs[0].latency;
console.log(
  JSON.stringify({
    rps: sum((r) => r.requests.average),
    total: sum((r) => r.requests.total),
    perInstance: rs.map((r) => r.requests.total),
    p50: h.p50,
    p99: h.p99,
    errors: sum((r) => r.errors + r.timeouts + (r.non2xx ?? 0)),
    non2xx: sum((r) => r.non2xx ?? 0),
    attempted: n,
  }),
);
