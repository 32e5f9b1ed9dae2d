/** Shapes shared by the domain, the stores and the transports. */
import type { PlanName } from './plans.js';

export type NumberStatus = 'purchasing' | 'active' | 'suspended' | 'error' | 'released';
export type NumberType = 'local' | 'toll-free';

export interface Team {
  id: string;
  slug: string;
  name: string;
  plan: PlanName;
  createdAt: number;
}

export interface Assistant {
  id: string;
  teamId: string;
  name: string;
  mediaUrl: string;
  createdAt: number;
  updatedAt: number;
}

export interface PhoneNumber {
  id: string;
  e164: string;
  teamId: string;
  countryCode: string;
  numberType: NumberType;
  areaCode: string;
  city: string | null;
  region: string | null;
  monthlyCost: number;
  currency: string;
  status: NumberStatus;
  assistantId: string | null;
  /** The number provider it came from (sim, twilio, telnyx). */
  provider: string;
  /** The provider's own id for it (Twilio's PN sid, Telnyx's phone number id), once it is ours. */
  providerNumberId: string | null;
  /** Brought from the operator's provider account (import), not bought through Switchboard. */
  imported: boolean;
  trial: boolean;
  expiresAt: number | null;
  orderId: string | null;
  failureReason: string | null;
  lastUsedAt: number | null;
  createdAt: number;
  activatedAt: number | null;
  releasedAt: number | null;
  updatedAt: number;
}

/** A number as the carrier offers it (search results, purchase quotes). */
export interface AvailableNumber {
  e164: string;
  countryCode: string;
  numberType: NumberType;
  areaCode: string;
  city: string | null;
  region: string | null;
  monthlyCost: number;
  currency: string;
}

export const CALL_STATUSES = ['routed', 'rejected', 'in-progress', 'completed', 'failed'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export interface Call {
  id: string;
  teamId: string | null;
  direction: 'inbound' | 'outbound';
  /** The carrier that delivered the call (a registered carrier's name: twilio, generic, ...). */
  carrier: string;
  carrierCallId: string | null;
  from: string;
  to: string;
  phoneNumberId: string | null;
  assistantId: string | null;
  mediaUrl: string | null;
  status: CallStatus;
  reason: string | null;
  carrierStatus: string | null;
  carrierSeq: number | null;
  createdAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  durationSec: number | null;
  endReason: string | null;
  /** When a media stream opened with this call's token (one stream per call, ever). */
  mediaClaimedAt: number | null;
}

/** Who is making an API request. */
export type Principal = { kind: 'admin' } | { kind: 'team'; teamId: string };
