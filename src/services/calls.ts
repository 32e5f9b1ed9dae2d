/** Call records: carrier status callbacks, the media bridge's marks, the calls API. */
import type { Clock } from '../clock.js';
import { AppError, notFound, type EndReason } from '../errors.js';
import { applyCarrierStatus, CALL_PROGRESS, isCallProgress, type CarrierStatusUpdate } from '../domain/call-status.js';
import type { Call, Principal } from '../domain/types.js';
import { listScope } from './access.js';
import type { CallListFilter, Store } from './ports.js';
import type { TeamService } from './teams.js';

/** A status callback, already mapped by its carrier onto the neutral call progress. */
export interface StatusUpdate extends CarrierStatusUpdate {
  carrierCallId: string;
}

/** Extra token lifetime for outbound calls: the callee may ring for up to Twilio's 600 s Timeout (media-server.ts). */
const OUTBOUND_RING_ALLOWANCE_MS = 600_000;
/** At the first pass after a start, calls this old are looked at (a gateway down longer left older ones routed). */
const FIRST_LOOK_BACK_MS = 24 * 3600_000;

export class CallService {
  /** Where the next pass of expireUnstreamed starts: the calls before were looked at. */
  private unstreamedFrom: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly teams: TeamService,
    private readonly clock: Clock,
  ) {}

  async get(p: Principal, id: string): Promise<Call> {
    const c = await this.store.calls.get(id);
    // Calls to numbers nobody holds belong to no team: only the admin sees them.
    if (!c || (p.kind === 'team' && c.teamId !== p.teamId)) throw notFound('Call');
    return c;
  }

  /**
   * Newest first. The assistant and number filters only narrow the caller's
   * own calls: an id from another team and an id that never existed give the
   * same empty answer, so a list is no oracle for other teams' ids.
   */
  async list(p: Principal, f: Omit<CallListFilter, 'teamId'> & { teamId?: string | undefined }): Promise<Call[]> {
    const teamId = listScope(p, f.teamId);
    if (teamId) await this.teams.get(p, teamId);
    return this.store.calls.list({ ...f, teamId });
  }

  /** A carrier status callback. Stale and duplicate callbacks change nothing. */
  async applyStatus(carrier: string, u: StatusUpdate): Promise<{ call: Call; changed: boolean }> {
    if (!isCallProgress(u.progress)) {
      throw new AppError('INVALID_REQUEST', `status: "${String(u.progress).slice(0, 40)}" is not a call status (${CALL_PROGRESS.join(', ')}).`);
    }
    return this.store.transaction(async (tx) => {
      const call = await tx.calls.getByCarrierId(carrier, u.carrierCallId);
      if (!call) throw notFound('Call');
      const patch = applyCarrierStatus(call, u, this.clock.now());
      if (!patch) return { call, changed: false };
      await tx.calls.update(call.id, patch);
      return { call: { ...call, ...patch }, changed: true };
    });
  }

  /**
   * Routed calls whose media stream never opened, once their media token can
   * no longer open one (SWITCHBOARD_MEDIA_TOKEN_TTL_S after routing; plus the
   * ring allowance for outbound calls), fail with reason
   * `stream_never_opened`: else they would stay `routed`, counted live
   * forever. Only the calls since the last pass are looked at (the created_at
   * index, no index of its own on the hot path). Run by the sweeper's leader.
   */
  async expireUnstreamed(tokenTtlS: number): Promise<number> {
    const now = this.clock.now();
    const inboundBefore = now - tokenTtlS * 1000;
    const outboundBefore = inboundBefore - OUTBOUND_RING_ALLOWANCE_MS;
    const from = this.unstreamedFrom ?? now - FIRST_LOOK_BACK_MS;
    const n = await this.store.calls.failUnstreamed(from, inboundBefore, outboundBefore, now);
    // Next time from the older cut-off: outbound calls between the two are not due yet.
    this.unstreamedFrom = outboundBefore;
    return n;
  }

  /** The call a media stream belongs to (its pinned assistant and media URL). */
  forMedia(callId: string): Promise<Call | undefined> {
    return this.store.calls.get(callId);
  }

  /** Claims the call's single media stream (one per call, across every process). */
  claimMedia(callId: string): Promise<boolean> {
    return this.store.calls.claimMedia(callId, this.clock.now());
  }

  /** Records the carrier's id for a call that had none (an outbound call). A conflict leaves it unset. */
  async bindCarrierCallId(callId: string, carrierCallId: string): Promise<void> {
    await this.store.calls.bindCarrierCallId(callId, carrierCallId);
  }

  /** The assistant side of the bridge is open: the call is answered. */
  async markAnswered(callId: string): Promise<void> {
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      const c = await tx.calls.get(callId);
      if (!c || c.answeredAt !== null) return;
      await tx.calls.update(callId, { answeredAt: now, ...(c.status === 'routed' ? { status: 'in-progress' as const } : {}) });
    });
  }

  /**
   * The bridge ended. A carrier's status callback may have finished the record
   * first; its status and billed duration stand, only missing fields are filled.
   * `detail` becomes the record's reason when the call failed.
   */
  async markEnded(callId: string, endReason: EndReason, detail?: string): Promise<void> {
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      const c = await tx.calls.get(callId);
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
      if (Object.keys(patch).length) await tx.calls.update(callId, patch);
    });
  }

  byCarrierId(carrier: string, carrierCallId: string): Promise<Call | undefined> {
    return this.store.calls.getByCarrierId(carrier, carrierCallId);
  }
}
