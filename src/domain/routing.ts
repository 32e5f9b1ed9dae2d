/**
 * The routing decision: a pure function from what the routing table knows
 * about the dialled number (and the time) to what happens to the call.
 * Each carrier renders a Decision in its own format, in one place.
 */
import type { NumberStatus } from './types.js';

/** What the routing table holds for one dialled number. */
export interface RoutingEntry {
  readonly e164: string;
  readonly numberId: string;
  readonly teamId: string;
  readonly status: NumberStatus;
  readonly assistantId: string | null;
  /** The assistant's media URL at the time the entry was loaded. */
  readonly mediaUrl: string | null;
  readonly expiresAt: number | null;
}

export const REJECT_REASONS = ['no_route', 'unassigned', 'suspended', 'not_active', 'expired', 'released'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type Decision =
  | {
      readonly kind: 'connect';
      readonly numberId: string;
      readonly teamId: string;
      readonly assistantId: string;
      readonly mediaUrl: string;
    }
  | {
      readonly kind: 'reject';
      readonly reason: RejectReason;
      readonly numberId: string | null;
      readonly teamId: string | null;
    }
  /** The gateway is draining: the carrier should fail over. */
  | { readonly kind: 'unavailable' };

export function decide(entry: RoutingEntry | null, now: number): Decision {
  if (!entry) return { kind: 'reject', reason: 'no_route', numberId: null, teamId: null };
  const reject = (reason: RejectReason): Decision => ({
    kind: 'reject',
    reason,
    numberId: entry.numberId,
    teamId: entry.teamId,
  });
  switch (entry.status) {
    case 'released':
      return reject('released');
    case 'suspended':
      return reject('suspended');
    case 'purchasing':
    case 'error':
      return reject('not_active');
    case 'active':
      // Checked here, not by the sweeper: an expired trial stops routing at the
      // exact moment it expires, whenever the sweeper next runs.
      if (entry.expiresAt !== null && now >= entry.expiresAt) return reject('expired');
      if (!entry.assistantId || !entry.mediaUrl) return reject('unassigned');
      return {
        kind: 'connect',
        numberId: entry.numberId,
        teamId: entry.teamId,
        assistantId: entry.assistantId,
        mediaUrl: entry.mediaUrl,
      };
  }
}

/** An inbound call as a carrier's adapter parsed it from the webhook. */
export interface InboundCall {
  carrierCallId: string;
  from: string;
  to: string;
  /** ISO country of the dialled number when the carrier says (Twilio's ToCountry). */
  toCountry?: string | undefined;
}

/** What the gateway decided for a call, with what a carrier needs to render it. */
export interface InboundAnswer {
  decision: Decision;
  /** The gateway's call id (null when nothing was recorded, e.g. draining). */
  callId: string | null;
  /** When the call was recorded: the media token's issue time (a retry gets the same token). */
  issuedAt: number;
}
