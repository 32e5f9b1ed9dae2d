/** /api/calls and /api/outbound/caller-id. */
import { Router, type Response } from 'express';
import { z } from 'zod';
import type { CarrierSet } from '../carriers/registry.js';
import type { Principal } from '../domain/types.js';
import type { Services } from '../services/index.js';
import { callJson } from './views.js';
import { CALL_STATUSES } from '../domain/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { body, id, parse } from './validate.js';

const principal = (res: Response): Principal => res.locals.principal as Principal;

const listQuery = z.object({
  teamId: id.optional(),
  assistantId: id.optional(),
  phoneNumberId: id.optional(),
  status: z.enum(CALL_STATUSES, { message: `must be one of ${CALL_STATUSES.join(', ')}` }).optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
  cursor: z.string().max(300).optional(),
});

const callerIdBody = z.strictObject({
  assistantId: id,
  to: z.string({ message: 'is required and must be a string' }).min(1).max(64),
});

export function callsRouter(s: Services, carriers: CarrierSet): Router {
  const r = Router();

  r.get('/calls', async (req, res) => {
    const q = parse(listQuery, req.query, 'query');
    const calls = await s.calls.list(principal(res), {
      teamId: q.teamId,
      assistantId: q.assistantId,
      phoneNumberId: q.phoneNumberId,
      status: q.status,
      limit: q.limit,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    const last = calls.length === q.limit ? calls[calls.length - 1] : undefined;
    res.json({ calls: calls.map(callJson), nextCursor: last ? encodeCursor(last) : null });
  });

  r.get('/calls/:callId', async (req, res) => {
    res.json({ call: callJson(await s.calls.get(principal(res), req.params.callId)) });
  });

  r.post('/outbound/caller-id', async (req, res) => {
    const input = parse(callerIdBody, body(req.body));
    // The number's provider says which carrier the call goes out through
    // (Twilio's numbers and the simulated carrier's: TwiML; Telnyx's: TeXML).
    const { call, number } = await s.callerId.pick(principal(res), input.assistantId, input.to, (provider) => carriers.forOutbound(provider)?.name);
    const carrier = carriers.get(call.carrier)!;
    res.json({
      callId: call.id,
      callerId: number.e164,
      phoneNumberId: number.id,
      assistantId: call.assistantId,
      carrier: carrier.name,
      twiml: carrier.outbound!.render(call.id, call.assistantId!, call.createdAt),
    });
  });

  return r;
}
