/** Call records: carrier status callbacks, the calls API, outbound caller ID. */
import type { CarrierName, StatusUpdate } from '../carriers/carrier.js';
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { applyCarrierStatus, CARRIER_STATUSES, isCarrierStatus, newCall } from '../domain/call-status.js';
import { timeOrderedId } from '../domain/ids.js';
import { nationalNumberOf, parsePhone } from '../domain/phone.js';
import type { Call, PhoneNumber, Principal } from '../domain/types.js';
import type { CallListFilter, CallStore } from '../store/calls.js';
import type { NumberStore } from '../store/numbers.js';
import { assertTeamAccess, listScope } from './access.js';
import type { AssistantService } from './assistants.js';
import type { TeamService } from './teams.js';

export class CallService {
  constructor(
    private readonly calls: CallStore,
    private readonly numbers: NumberStore,
    private readonly assistants: AssistantService,
    private readonly teams: TeamService,
    private readonly clock: Clock,
  ) {}

  get(p: Principal, id: string): Call {
    const c = this.calls.get(id);
    if (!c) throw notFound('Call');
    // Calls to numbers nobody holds belong to no team: only the admin sees them.
    if (p.kind === 'team' && c.teamId !== p.teamId) throw notFound('Call');
    return c;
  }

  /**
   * Newest first. The assistant and number filters only narrow the caller's
   * own calls: an id from another team and an id that never existed give the
   * same empty answer, so a list is no oracle for other teams' ids.
   */
  list(p: Principal, f: Omit<CallListFilter, 'teamId'> & { teamId?: string | undefined }): Call[] {
    const teamId = listScope(p, f.teamId);
    if (teamId) this.teams.get(p, teamId);
    return this.calls.list({ ...f, teamId });
  }

  /** A carrier status callback. Stale and duplicate callbacks change nothing. */
  applyStatus(carrier: CarrierName, u: StatusUpdate): { call: Call; changed: boolean } {
    if (!isCarrierStatus(u.status)) {
      throw new AppError('INVALID_REQUEST', `status: "${u.status}" is not a call status (${CARRIER_STATUSES.join(', ')}).`);
    }
    const call = this.calls.getByCarrierId(carrier, u.carrierCallId);
    if (!call) throw notFound('Call');
    const patch = applyCarrierStatus(call, u, this.clock.now());
    if (!patch) return { call, changed: false };
    this.calls.update(call.id, patch);
    return { call: { ...call, ...patch }, changed: true };
  }

  /** Claims the call's single media stream (see CallStore.claimMedia). */
  claimMedia(callId: string): boolean {
    return this.calls.claimMedia(callId, this.clock.now());
  }

  /** The call a media stream belongs to (its pinned assistant and media URL). */
  forMedia(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** Records the carrier's id for a call that had none (an outbound call). A conflict leaves it unset. */
  bindCarrierCallId(callId: string, carrierCallId: string): void {
    try {
      this.calls.bindCarrierCallId(callId, carrierCallId);
    } catch {
      /* another record has that CallSid already: keep ours unbound */
    }
  }

  /** The assistant side of the bridge is open: the call is answered. */
  markAnswered(callId: string): void {
    const now = this.clock.now();
    this.calls.transaction(() => {
      const c = this.calls.get(callId);
      if (!c || c.answeredAt !== null) return;
      this.calls.update(callId, { answeredAt: now, ...(c.status === 'routed' ? { status: 'in-progress' as const } : {}) });
    });
  }

  /**
   * The bridge ended. A carrier's status callback may have finished the record
   * first; its status and billed duration stand, only missing fields are filled.
   */
  markEnded(callId: string, endReason: string, detail?: string): void {
    const now = this.clock.now();
    this.calls.transaction(() => {
      const c = this.calls.get(callId);
      if (!c) return;
      const patch: Partial<Call> = {};
      if (c.endReason === null) patch.endReason = endReason;
      if (c.endedAt === null) patch.endedAt = now;
      if (c.durationSec === null && c.answeredAt !== null) patch.durationSec = Math.round((now - c.answeredAt) / 1000);
      if (c.status === 'routed' || c.status === 'in-progress') {
        const failed = endReason === 'assistant_unreachable' || c.answeredAt === null;
        patch.status = failed ? 'failed' : 'completed';
        if (failed && c.reason === null) patch.reason = detail ?? endReason;
      }
      if (Object.keys(patch).length) this.calls.update(callId, patch);
    });
  }

  byCarrierId(carrier: CarrierName, carrierCallId: string): Call | undefined {
    return this.calls.getByCarrierId(carrier, carrierCallId);
  }

  /**
   * Picks the caller ID for an outbound call and records the call, pinned to
   * the assistant. Candidates: active, unexpired numbers on the assistant.
   * Order: same country as `to`, then same area code (local presence), then
   * least recently used.
   */
  callerId(p: Principal, assistantId: string, to: string): { call: Call; number: PhoneNumber } {
    const assistant = this.assistants.get(p, assistantId);
    const parsed = parsePhone(to);
    if (!parsed || !parsed.valid) throw new AppError('INVALID_PHONE_NUMBER', `to: "${to}" is not a valid phone number; write it in E.164, e.g. +14155550100.`);
    const toNational = nationalNumberOf(parsed.e164) ?? '';
    const now = this.clock.now();
    return this.calls.transaction(() => {
      const candidates = this.numbers.callerIdCandidates(assistant.id, now);
      if (candidates.length === 0) {
        throw new AppError('NO_CALLER_ID', `Assistant ${assistant.id} has no active number to call from; assign one first.`);
      }
      const score = (n: PhoneNumber) =>
        (n.countryCode === parsed.country ? 2 : 0) + (n.numberType === 'local' && n.countryCode === parsed.country && toNational.startsWith(n.areaCode) ? 1 : 0);
      candidates.sort(
        (a, b) => score(b) - score(a) || (a.lastUsedAt ?? -1) - (b.lastUsedAt ?? -1) || (a.id < b.id ? -1 : 1),
      );
      const number = candidates[0]!;
      // Strictly increasing use stamps keep "least recently used" exact even
      // when several calls start within one millisecond.
      const lastUsed = Math.max(now, ...candidates.map((c) => (c.lastUsedAt ?? 0) + 1));
      this.numbers.update(number.id, { lastUsedAt: lastUsed });
      const call = newCall({
        id: timeOrderedId(now),
        teamId: assistant.teamId,
        direction: 'outbound',
        carrier: 'twilio',
        carrierCallId: null,
        from: number.e164,
        to: parsed.e164,
        phoneNumberId: number.id,
        assistantId: assistant.id,
        mediaUrl: assistant.mediaUrl,
        status: 'routed',
        reason: null,
        createdAt: now,
      });
      this.calls.insert(call);
      return { call, number };
    });
  }
}
