/**
 * How a carrier status callback changes a call record. Callbacks arrive late,
 * twice or out of order (carriers.md); a call never moves backwards and a
 * finished call stays finished.
 */
import type { Call, CallStatus } from './types.js';

/**
 * Where a call stands at its carrier, in the gateway's own words; each
 * carrier's adapter maps its vocabulary onto these (Twilio's and TeXML's
 * `queued` and `initiated` are `initiated`, `in-progress` is `answered`).
 * In lifecycle order; the last five are terminal.
 */
export const CALL_PROGRESS = ['initiated', 'ringing', 'answered', 'completed', 'busy', 'failed', 'no-answer', 'canceled'] as const;
export type CallProgress = (typeof CALL_PROGRESS)[number];

const RANK: Readonly<Record<CallProgress, number>> = {
  initiated: 0,
  ringing: 1,
  answered: 2,
  completed: 3,
  busy: 3,
  failed: 3,
  'no-answer': 3,
  canceled: 3,
};
const TERMINAL = 3;

/** A call record as first written, before the carrier or the bridge say anything about it. */
export function newCall(
  fields: Pick<
    Call,
    | 'id'
    | 'teamId'
    | 'direction'
    | 'carrier'
    | 'carrierCallId'
    | 'from'
    | 'to'
    | 'phoneNumberId'
    | 'assistantId'
    | 'mediaUrl'
    | 'status'
    | 'reason'
    | 'createdAt'
  >,
): Call {
  // A literal, not a spread: this runs once per call, and V8 builds a spread
  // object field by field through a slow path.
  return {
    id: fields.id,
    teamId: fields.teamId,
    direction: fields.direction,
    carrier: fields.carrier,
    carrierCallId: fields.carrierCallId,
    from: fields.from,
    to: fields.to,
    phoneNumberId: fields.phoneNumberId,
    assistantId: fields.assistantId,
    mediaUrl: fields.mediaUrl,
    status: fields.status,
    reason: fields.reason,
    carrierStatus: null,
    carrierSeq: null,
    createdAt: fields.createdAt,
    answeredAt: null,
    endedAt: null,
    durationSec: null,
    endReason: null,
    mediaClaimedAt: null,
  };
}

// Own keys only: "constructor" or "__proto__" are not progress states.
const rankOf = (s: string): number | undefined => (Object.hasOwn(RANK, s) ? RANK[s as CallProgress] : undefined);
export const isCallProgress = (s: string): s is CallProgress => rankOf(s) !== undefined;
const isTerminalProgress = (s: string | null): boolean => s !== null && rankOf(s) === TERMINAL;
export const isTerminalCall = (s: CallStatus): boolean => s === 'completed' || s === 'failed' || s === 'rejected';

/** A carrier's status callback, mapped by its adapter. */
export interface CarrierStatusUpdate {
  progress: CallProgress;
  durationSec?: number | undefined;
  sequence?: number | undefined;
}

/** The fields to change, or null when the update is stale or a duplicate. */
export function applyCarrierStatus(call: Call, u: CarrierStatusUpdate, now: number): Partial<Call> | null {
  const rank = RANK[u.progress];
  const current = call.carrierStatus === null ? -1 : (rankOf(call.carrierStatus) ?? -1);
  if (isTerminalProgress(call.carrierStatus)) {
    // A duplicate of the terminal callback may still bring the duration.
    if (rank === TERMINAL && call.durationSec === null && u.durationSec !== undefined) return { durationSec: u.durationSec };
    return null;
  }
  if (rank < current) return null;
  if (rank === current && (u.sequence === undefined || call.carrierSeq === null || u.sequence <= call.carrierSeq)) return null;

  const patch: Partial<Call> = { carrierStatus: u.progress, carrierSeq: u.sequence ?? call.carrierSeq };
  if (call.status === 'rejected') return patch; // the decision stands; the carrier status is informative
  if (rank === TERMINAL) {
    if (!isTerminalCall(call.status)) {
      const ok = u.progress === 'completed' && call.reason === null;
      patch.status = ok ? 'completed' : 'failed';
      if (!ok && call.reason === null) patch.reason = u.progress;
    }
    if (call.endedAt === null) patch.endedAt = now;
    if (u.durationSec !== undefined) patch.durationSec = u.durationSec;
  } else if (u.progress === 'answered' && call.status === 'routed') {
    patch.status = 'in-progress';
  }
  return patch;
}
