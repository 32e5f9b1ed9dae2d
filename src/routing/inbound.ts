/**
 * The inbound call use case: dialled number → routing entry → decision →
 * durable call record → answer. Carrier-neutral; adapters parse and render.
 */
import { LRUCache } from 'lru-cache';
import type { CarrierName, InboundAnswer, InboundCall } from '../carriers/carrier.js';
import type { Clock } from '../clock.js';
import { timeOrderedId } from '../domain/ids.js';
import { newCall } from '../domain/call-status.js';
import { normalizePhone } from '../domain/phone.js';
import { decide, type Decision, type RejectReason } from '../domain/routing.js';
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
   * Carrier call id → the answer, for retries (Twilio retries with the same
   * CallSid within its 15 s window). The unique index on (carrier, carrier
   * call id) is the durable backstop for retries this map does not see
   * (another process, a restart).
   */
  private readonly recent = new LRUCache<string, Promise<RoutedCall>>({ max: 50_000 });

  constructor(
    private readonly routing: RoutingTable,
    private readonly recorder: CallRecorder,
    private readonly calls: Pick<CallRepo, 'getByCarrierId'>,
    private readonly lifecycle: Lifecycle,
    private readonly clock: Clock,
  ) {}

  async route(carrier: CarrierName, c: InboundCall): Promise<RoutedCall> {
    if (!this.lifecycle.accepting) return { answer: { decision: { kind: 'unavailable' }, callId: null, issuedAt: 0 }, retry: false };
    const key = `${carrier}:${c.carrierCallId}`;
    const seen = this.recent.get(key);
    if (seen) return seen.then((r) => ({ ...r, retry: true }));
    const p = this.routeNew(carrier, c);
    this.recent.set(key, p);
    p.catch(() => this.recent.delete(key));
    return p;
  }

  private async routeNew(carrier: CarrierName, c: InboundCall): Promise<RoutedCall> {
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
