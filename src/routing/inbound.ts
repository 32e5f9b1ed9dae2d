/**
 * The inbound call use case: dialled number → routing entry → decision →
 * durable call record → answer. Carrier-neutral; adapters parse and render.
 */
import type { Clock } from '../clock.js';
import { timeOrderedId } from '../domain/ids.js';
import { newCall } from '../domain/call-status.js';
import { normalizePhone } from '../domain/phone.js';
import { decide, type Decision, type InboundAnswer, type InboundCall, type RejectReason } from '../domain/routing.js';
import type { Call } from '../domain/types.js';
import type { Lifecycle } from '../lifecycle.js';
import type { CallRepo } from '../services/ports.js';
import type { CallRecorder } from './call-recorder.js';
import type { RoutingTable } from './routing-table.js';

/** Already E.164: skip libphonenumber on the hot path (an unknown number is just no_route). */
const E164 = /^\+[1-9]\d{6,14}$/;

export interface RoutedCall {
  answer: InboundAnswer;
  /** True when this was a carrier retry of a call already answered. */
  retry: boolean;
}

export class InboundRouter {
  /**
   * Carrier call id → the answer being made, while it is made: a retry that
   * arrives while the first request is still routed (Twilio retries with the
   * same CallSid) waits for that answer. Once the record is committed the
   * entry goes: a later retry finds the record through the unique index on
   * (carrier, carrier call id), as one at another process or after a restart
   * does, and gets the same answer. (Keeping answers here for seconds made
   * every call's objects outlive the young generation: ~7% of the webhook
   * path's CPU went to copying and collecting them, bench/NOTES.md.)
   */
  private readonly inFlight = new Map<string, Promise<RoutedCall>>();

  constructor(
    private readonly routing: RoutingTable,
    private readonly recorder: CallRecorder,
    private readonly calls: Pick<CallRepo, 'getByCarrierId'>,
    private readonly lifecycle: Lifecycle,
    private readonly clock: Clock,
  ) {}

  async route(carrier: string, c: InboundCall): Promise<RoutedCall> {
    if (!this.lifecycle.accepting) return { answer: { decision: { kind: 'unavailable' }, callId: null, issuedAt: 0 }, retry: false };
    const key = `${carrier}:${c.carrierCallId}`;
    const seen = this.inFlight.get(key);
    if (seen) return seen.then((r) => ({ ...r, retry: true }));
    const p = this.routeNew(carrier, c);
    this.inFlight.set(key, p);
    const forget = () => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    };
    p.then(forget, forget);
    return p;
  }

  private async routeNew(carrier: string, c: InboundCall): Promise<RoutedCall> {
    const now = this.clock.now();
    const e164 = E164.test(c.to) ? c.to : normalizePhone(c.to, c.toCountry);
    // A cached entry costs no await; a miss reads the database.
    let entry = e164 ? this.routing.peek(e164) : null;
    if (entry === undefined) entry = await this.routing.lookup(e164!);
    const decision = decide(entry, now);
    const call = newCall({
      id: timeOrderedId(now),
      teamId: decision.kind === 'unavailable' ? null : decision.teamId,
      direction: 'inbound',
      carrier,
      carrierCallId: c.carrierCallId,
      from: c.from.slice(0, 128),
      to: (e164 ?? c.to).slice(0, 128),
      phoneNumberId: decision.kind === 'unavailable' ? null : decision.numberId,
      assistantId: decision.kind === 'connect' ? decision.assistantId : null,
      mediaUrl: decision.kind === 'connect' ? decision.mediaUrl : null,
      status: decision.kind === 'connect' ? 'routed' : 'rejected',
      reason: decision.kind === 'reject' ? decision.reason : null,
      createdAt: now,
    });
    if (await this.recorder.record(call)) return { answer: { decision, callId: call.id, issuedAt: call.createdAt }, retry: false };
    // Recorded before (a retry that reached another process, or came after a
    // restart): answer exactly as the first time.
    const existing = (await this.calls.getByCarrierId(carrier, c.carrierCallId))!;
    return { answer: { decision: decisionOf(existing), callId: existing.id, issuedAt: existing.createdAt }, retry: true };
  }
}

/** The decision a recorded call was given. */
export function decisionOf(call: Call): Decision {
  if (call.status === 'rejected' || !call.assistantId || !call.mediaUrl) {
    return { kind: 'reject', reason: (call.reason as RejectReason | null) ?? 'no_route', numberId: call.phoneNumberId, teamId: call.teamId };
  }
  return { kind: 'connect', numberId: call.phoneNumberId ?? '', teamId: call.teamId ?? '', assistantId: call.assistantId, mediaUrl: call.mediaUrl };
}
