/**
 * Purchase load: autocannon POSTing /api/phone-numbers/purchase, each request
 * a distinct inventory number, team tokens in rotation.
 * argv[2]: JSON { port, tokens: [{token, teamId}], first, seconds, connections }
 */
import autocannon from 'autocannon';
import { benchNumber } from './seed.mjs';

const o = JSON.parse(process.argv[2]);
let n = 0;
const instance = autocannon(
  {
    url: `http://127.0.0.1:${o.port}`,
    connections: o.connections ?? 20,
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
  },
  (err, r) => {
    if (err) throw err;
    console.log(
      JSON.stringify({
        rps: r.requests.average,
        total: r.requests.total,
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors + r.timeouts + (r.non2xx ?? 0),
        non2xx: r.non2xx ?? 0,
        attempted: n,
      }),
    );
  },
);
process.on('SIGTERM', () => instance.stop());
