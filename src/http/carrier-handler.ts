/**
 * Carrier webhooks on the raw node:http layer. This is the hot path (one
 * routing decision per phone call, ring delay on every millisecond), so it
 * skips express: no router walk, no middleware chain, no per-request schema
 * compile. Each carrier (carriers/registry.ts) verifies, parses and renders;
 * this handler only sequences them, the same way for every carrier.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RawRequest, Rendered } from '../carriers/carrier.js';
import type { CarrierSet } from '../carriers/registry.js';
import { AppError } from '../errors.js';
import type { CallService } from '../services/calls.js';
import type { InboundRouter } from '../routing/inbound.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { Faults } from '../faults.js';
import { BODY_LIMIT, toAppError } from './express-app.js';

export interface CarrierHandlerDeps {
  carriers: CarrierSet;
  /** A carrier's verified account event, for its number provider (Telnyx's number orders). */
  onEvent(carrier: string, event: unknown): Promise<string>;
  inbound: InboundRouter;
  calls: CallService;
  insecureWebhooks: boolean;
  log: Logger;
  metrics: Metrics;
  /** Per source address, spent by failed signatures only (its own budget, apart from /api's). */
  failureLimiter: RateLimiter;
  faults: Faults;
}

/** Answers for paths that are no carrier's (JSON, like the API). */
const plain = { renderError: (e: AppError): Rendered => ({ status: e.status, contentType: 'application/json', body: JSON.stringify(e.toBody()) }) };

/** Returns a handler for /carriers/* requests; anything else is not its business. */
export function createCarrierHandler(d: CarrierHandlerDeps) {
  const log = d.log.child({ component: 'carrier' });

  return function handleCarrier(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const route = d.carriers.route(path);
    const reqId = randomUUID();
    const carrier = route?.[0];
    const fields: Record<string, unknown> = { reqId, method: req.method, path };

    const send = (r: Rendered) => {
      if (res.headersSent || res.destroyed) return;
      if (route) d.metrics.observeWebhook(route[0].name, route[1], (performance.now() - started) / 1000);
      res.writeHead(r.status, { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(r.body), 'X-Request-Id': reqId });
      res.end(r.body);
      fields.status = r.status;
      fields.ms = Math.round((performance.now() - started) * 100) / 100;
      log.info(fields, 'carrier webhook');
    };
    const fail = (err: unknown) => {
      const e = toAppError(err);
      // Only bugs are errors; a 503 for a missing key or a drain is expected.
      if (e.code === 'INTERNAL') d.faults.report('carrier', err, { reqId, path });
      fields.error = e.code;
      if (e.headers && !res.headersSent) for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      d.metrics.webhooksRejected.inc({ carrier: carrier?.name ?? 'unknown', code: e.code });
      send((carrier ?? plain).renderError(e));
    };
    /** Spends the source address's failure budget; the 429 to send instead, if it is spent. */
    const throttled = (): AppError | null => {
      const wait = d.failureLimiter.take(req.socket.remoteAddress ?? 'unknown');
      if (!wait) return null;
      d.metrics.rateLimited.inc({ kind: 'signature_failures' });
      return new AppError('RATE_LIMITED', `Too many failed signatures from this address. Try again in ${wait} s.`, undefined, { 'Retry-After': String(wait) });
    };
    /** Answers without reading the body: the connection cannot be reused, so say so and close it. */
    const refuseUnread = (err: AppError) => {
      res.setHeader('Connection', 'close');
      fail(err);
    };

    try {
      if (!route || !carrier) return refuseUnread(new AppError('NOT_FOUND', `No carrier endpoint ${path.slice(0, 200)}.`));
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        return refuseUnread(new AppError('METHOD_NOT_ALLOWED', `${path} takes POST.`));
      }
      const action = route[1];
      if (!carrier.configured && !d.insecureWebhooks) {
        return refuseUnread(
          new AppError(
            'UNAVAILABLE',
            `${carrier.keyVariable} is not set, so ${carrier.title} webhooks cannot be verified and are refused. Set it (or SWITCHBOARD_INSECURE_WEBHOOKS=1 for local experiments).`,
          ),
        );
      }
      // No signature header, no body read: an unsigned flood costs a header
      // check, and spends the sender's failure budget like a bad signature.
      const missing = carrier.configured ? carrier.signatureHeaders.find(([lower]) => req.headers[lower] === undefined) : undefined;
      if (missing) return refuseUnread(throttled() ?? new AppError('INVALID_SIGNATURE', `The ${missing[1]} header is missing.`));

      readBody(req, BODY_LIMIT).then(
        async (body) => {
          const raw: RawRequest = { url, headers: req.headers, body };
          try {
            const refused = carrier.verify(raw);
            if (refused !== null) {
              // Not secret, and the first thing to compare when signatures fail:
              // it must be exactly the URL configured at the carrier.
              if (carrier.checkedUrl) fields.checkedUrl = carrier.checkedUrl(raw);
              // Verify first, throttle only failures: a correctly signed webhook
              // is never refused, whatever else came from its address (Twilio's
              // egress addresses are shared by every Twilio customer, so anyone
              // could otherwise exhaust the budget and block our real calls).
              throw throttled() ?? new AppError('INVALID_SIGNATURE', refused);
            }
            if (action === 'inbound') {
              const call = carrier.parseInbound(raw);
              fields.carrierCallId = call.carrierCallId;
              const routed = await d.inbound.route(carrier.name, call);
              const decision = routed.answer.decision;
              fields.callId = routed.answer.callId;
              fields.decision = decision.kind;
              if (decision.kind === 'reject') fields.reason = decision.reason;
              if (decision.kind === 'connect') fields.assistantId = decision.assistantId;
              if (routed.retry) fields.retry = true;
              else d.metrics.countCall(carrier.name, decision.kind, decision.kind === 'reject' ? decision.reason : '');
              return send(carrier.renderAnswer(routed.answer));
            }
            if (action === 'status') {
              const u = carrier.parseStatus(raw);
              const result = await d.calls.applyStatus(carrier.name, u);
              Object.assign(fields, { callId: result.call.id, progress: u.progress, changed: result.changed });
              return send(carrier.renderStatusReply(result));
            }
            if (action === 'events') {
              const event = carrier.parseEvent!(raw);
              fields.event = await d.onEvent(carrier.name, event);
              // Whatever became of it (settled, duplicate, ignored): received, so not redelivered.
              return send({ status: 204, contentType: 'text/plain', body: '' });
            }
            // connect-action: the carrier asks what to do once the stream has ended.
            const call = await d.calls.byCarrierId(carrier.name, carrier.connectActionCallId!(raw));
            fields.callId = call?.id;
            return send(carrier.renderConnectAction!(call));
          } catch (err) {
            fail(err);
          }
        },
        (err: unknown) => {
          if (err instanceof ClientGone) {
            // The client hung up mid-body, or was too slow (requestTimeout):
            // nobody to answer, and not a bug, so no error line and no
            // INTERNAL count (an unauthenticated client could raise false alarms).
            fields.error = 'CLIENT_ABORTED';
            d.metrics.webhooksRejected.inc({ carrier: carrier.name, code: 'CLIENT_ABORTED' });
            log.info(fields, 'carrier webhook abandoned by the client');
            req.destroy();
            return;
          }
          // The body was not read to its end: do not keep the connection, and say
          // so, or a keep-alive client reuses the socket and gets a reset.
          res.setHeader('Connection', 'close');
          fail(err);
          req.destroy();
        },
      );
    } catch (err) {
      fail(err);
    }
  };
}

/** The client went away before its body arrived (abort, reset, request timeout). */
class ClientGone extends Error {
  constructor() {
    super('the client went away before sending its whole body');
  }
}

/** Reads a request body up to `limit` bytes; rejects with 413 beyond it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return reject(new AppError('PAYLOAD_TOO_LARGE', `The body is larger than ${limit / 1024} KiB.`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new AppError('PAYLOAD_TOO_LARGE', `The body is larger than ${limit / 1024} KiB.`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', () => reject(new ClientGone()));
    req.on('aborted', () => reject(new ClientGone()));
    // 'close' before 'end' (Node 20 may not emit 'aborted'): settled already if the body was complete.
    req.on('close', () => reject(new ClientGone()));
  });
}
