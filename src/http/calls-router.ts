/** /api/calls and /api/outbound/caller-id. */
import { Router, type Response } from 'express';
import type { z } from 'zod';
import type { CarrierSet } from '../carriers/registry.js';
import type { Principal } from '../domain/types.js';
import type { Services } from '../services/index.js';
import { callJson } from './views.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { body, parse } from './validate.js';
import { callerIdBody, callQuery, type CallerId, type CallList, type CallResponse } from './schemas.js';

const principal = (res: Response): Principal => res.locals.principal as Principal;

export function callsRouter(s: Services, carriers: CarrierSet): Router {
  const r = Router();

  r.get('/calls', async (req, res) => {
    const q = parse(callQuery, req.query, 'query');
    const calls = await s.calls.list(principal(res), {
      teamId: q.teamId,
      assistantId: q.assistantId,
      phoneNumberId: q.phoneNumberId,
      status: q.status,
      limit: q.limit,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    const last = calls.length === q.limit ? calls[calls.length - 1] : undefined;
    res.json({ calls: calls.map(callJson), nextCursor: last ? encodeCursor(last) : null } satisfies z.output<typeof CallList>);
  });

  r.get('/calls/:callId', async (req, res) => {
    res.json({ call: callJson(await s.calls.get(principal(res), req.params.callId)) } satisfies z.output<typeof CallResponse>);
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
      assistantId: call.assistantId!,
      carrier: carrier.name,
      twiml: carrier.outbound!.render(call.id, call.assistantId!, call.createdAt),
    } satisfies z.output<typeof CallerId>);
  });

  return r;
}
