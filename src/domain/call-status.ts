/**
 * How a carrier status callback changes a call record. Callbacks arrive late,
 * twice or out of order (carriers.md); a call never moves backwards and a
 * finished call stays finished.
 */
import type { Call, CallStatus } from './types.js';

/** Twilio's CallStatus values in lifecycle order; the last five are terminal. */
const RANK: Record<string, number> = {
  queued: 0,
  initiated: 1,
  ringing: 2,
  'in-progress': 3,
  completed: 4,
  busy: 4,
  failed: 4,
  'no-answer': 4,
  canceled: 4,
};

/** A call record as first written, before the carrier or the bridge say anything about it. */
export function newCall(
  fields: Pick<Call, 'id' | 'teamId' | 'direction' | 'carrier' | 'carrierCallId' | 'from' | 'to' | 'phoneNumberId' | 'assistantId' | 'mediaUrl' | 'status' | 'reason' | 'createdAt'>,
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

export const CARRIER_STATUSES = Object.keys(RANK);
// Own keys only: "constructor" or "__proto__" are not statuses.
const rankOf = (s: string): number | undefined => (Object.hasOwn(RANK, s) ? RANK[s] : undefined);
export const isCarrierStatus = (s: string): boolean => rankOf(s) !== undefined;
const isTerminalCarrier = (s: string | null): boolean => s !== null && rankOf(s) === 4;
export const isTerminalCall = (s: CallStatus): boolean => s === 'completed' || s === 'failed' || s === 'rejected';

export interface CarrierStatusUpdate {
  status: string;
  durationSec?: number | undefined;
  sequence?: number | undefined;
}

/** The fields to change, or null when the update is stale or a duplicate. */
export function applyCarrierStatus(call: Call, u: CarrierStatusUpdate, now: number): Partial<Call> | null {
  const rank = rankOf(u.status);
  if (rank === undefined) return null;
  const current = call.carrierStatus === null ? -1 : (rankOf(call.carrierStatus) ?? -1);
  if (isTerminalCarrier(call.carrierStatus)) {
    // A duplicate of the terminal callback may still bring the duration.
    if (rank === 4 && call.durationSec === null && u.durationSec !== undefined) return { durationSec: u.durationSec };
    return null;
  }
  if (rank < current) return null;
  if (rank === current && (u.sequence === undefined || call.carrierSeq === null || u.sequence <= call.carrierSeq)) return null;

  const patch: Partial<Call> = { carrierStatus: u.status, carrierSeq: u.sequence ?? call.carrierSeq };
  if (call.status === 'rejected') return patch; // the decision stands; the carrier status is informative
  if (rank === 4) {
    if (!isTerminalCall(call.status)) {
      const ok = u.status === 'completed' && call.reason === null;
      patch.status = ok ? 'completed' : 'failed';
      if (!ok && call.reason === null) patch.reason = u.status;
    }
    if (call.endedAt === null) patch.endedAt = now;
    if (u.durationSec !== undefined) patch.durationSec = u.durationSec;
  } else if (u.status === 'in-progress' && call.status === 'routed') {
    patch.status = 'in-progress';
  }
  return patch;
}
