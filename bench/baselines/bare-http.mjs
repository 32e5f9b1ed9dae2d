/**
 * Baseline (a): the runtime's ceiling. A bare node:http server that reads and
 * parses the same form body and answers fixed TwiML. No signature, no
 * routing, no record: nothing a gateway must do beyond HTTP itself.
 */
import http from 'node:http';

const TWIML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Connect action="http://127.0.0.1/carriers/twilio/connect-action"><Stream url="ws://127.0.0.1/media/twilio"><Parameter name="callId" value="00000000-0000-0000-0000-000000000000"/><Parameter name="token" value="0000000000000000000000000000000000000000000"/></Stream></Connect></Response>';

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (!params.get('To')) {
      res.writeHead(400);
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(TWIML) });
    res.end(TWIML);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ ready: server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
