/**
 * Baseline (b): the straightforward implementation a user would write.
 * Express 5 with body parsing, the twilio package's request validation, a
 * drizzle query per call (number joined with its assistant) and a call
 * record inserted per request, TwiML built per request. Same database file
 * and schema as the gateway.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import express from 'express';
import twilio from 'twilio';
import { openDb } from '../../dist/src/store/sqlite/client.js';
import { assistants, calls, phoneNumbers } from '../../dist/db/sqlite/schema.js';

const db = openDb({ path: process.env.SWITCHBOARD_DB });
const AUTH = process.env.TWILIO_AUTH_TOKEN;
const PUBLIC = process.env.SWITCHBOARD_PUBLIC_URL;
const app = express();
app.use(express.urlencoded({ extended: false }));

app.post('/carriers/twilio/voice', (req, res) => {
  const ok = twilio.validateRequest(AUTH, req.get('x-twilio-signature') ?? '', PUBLIC + req.originalUrl, req.body);
  if (!ok) return res.status(403).send('forbidden');
  const row = db
    .select({ id: phoneNumbers.id, teamId: phoneNumbers.teamId, assistantId: phoneNumbers.assistantId, mediaUrl: assistants.mediaUrl })
    .from(phoneNumbers)
    .leftJoin(assistants, eq(assistants.id, phoneNumbers.assistantId))
    .where(and(eq(phoneNumbers.e164, req.body.To), inArray(phoneNumbers.status, ['active'])))
    .get();
  const id = randomUUID();
  db.insert(calls)
    .values({
      id,
      teamId: row?.teamId ?? null,
      direction: 'inbound',
      carrier: 'twilio',
      carrierCallId: req.body.CallSid,
      from: req.body.From ?? '',
      to: req.body.To,
      phoneNumberId: row?.id ?? null,
      assistantId: row?.assistantId ?? null,
      mediaUrl: row?.mediaUrl ?? null,
      status: row?.assistantId ? 'routed' : 'rejected',
      reason: row?.assistantId ? null : 'no_route',
      createdAt: Date.now(),
    })
    .run();
  const r = new twilio.twiml.VoiceResponse();
  if (row?.assistantId) {
    const stream = r.connect({ action: `${PUBLIC}/carriers/twilio/connect-action` }).stream({ url: `${PUBLIC.replace(/^http/, 'ws')}/media/twilio` });
    stream.parameter({ name: 'callId', value: id });
  } else {
    r.reject({ reason: 'rejected' });
  }
  res.type('text/xml').send(r.toString());
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ ready: server.address().port }));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
