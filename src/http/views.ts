/**
 * The JSON shapes clients see (api.md). Times become ISO 8601, money becomes
 * { amount, currency } in minor units. Internal fields (order ids, media URLs
 * of calls) are not exposed.
 */
import type { AvailableNumber, Call, PhoneNumber } from '../domain/types.js';
import type { AssistantWithNumbers } from '../services/assistants.js';
import type { AuditEvent, Drift, TokenRow } from '../services/ports.js';
import type { TeamSummary } from '../services/teams.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export const teamJson = (t: TeamSummary) => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  plan: t.plan,
  numberLimit: t.numberLimit,
  numbersHeld: t.numbersHeld,
  createdAt: iso(t.createdAt),
});

export const assistantJson = (a: AssistantWithNumbers) => ({
  id: a.id,
  teamId: a.teamId,
  name: a.name,
  mediaUrl: a.mediaUrl,
  phoneNumberIds: a.phoneNumberIds,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});

export const availableNumberJson = (n: AvailableNumber, provider: string) => ({
  phoneNumber: n.e164,
  provider,
  countryCode: n.countryCode,
  numberType: n.numberType,
  city: n.city,
  state: n.region,
  monthlyCost: { amount: n.monthlyCost, currency: n.currency },
});

export const phoneNumberJson = (n: PhoneNumber) => ({
  id: n.id,
  phoneNumber: n.e164,
  teamId: n.teamId,
  countryCode: n.countryCode,
  numberType: n.numberType,
  city: n.city,
  state: n.region,
  monthlyCost: { amount: n.monthlyCost, currency: n.currency },
  status: n.status,
  assistantId: n.assistantId,
  provider: n.provider,
  providerNumberId: n.providerNumberId,
  imported: n.imported,
  trial: n.trial,
  expiresAt: iso(n.expiresAt),
  createdAt: iso(n.createdAt),
  activatedAt: iso(n.activatedAt),
  releasedAt: iso(n.releasedAt),
  failureReason: n.failureReason,
});

export const callJson = (c: Call) => ({
  id: c.id,
  teamId: c.teamId,
  direction: c.direction,
  carrier: c.carrier,
  carrierCallId: c.carrierCallId,
  from: c.from,
  to: c.to,
  phoneNumberId: c.phoneNumberId,
  assistantId: c.assistantId,
  status: c.status,
  reason: c.reason,
  carrierStatus: c.carrierStatus,
  createdAt: iso(c.createdAt),
  answeredAt: iso(c.answeredAt),
  endedAt: iso(c.endedAt),
  durationSec: c.durationSec,
  endReason: c.endReason,
});

export const auditEventJson = (e: AuditEvent) => ({
  id: e.id,
  teamId: e.teamId,
  actor: e.actor,
  action: e.action,
  phoneNumberId: e.phoneNumberId,
  phoneNumber: e.e164,
  assistantId: e.assistantId,
  details: e.details,
  createdAt: iso(e.createdAt),
});

/** A token's metadata: never the token, which is shown once, when it is made. */
export const tokenJson = (t: TokenRow) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  createdAt: iso(t.createdAt),
  lastUsedAt: iso(t.lastUsedAt),
  expiresAt: iso(t.expiresAt),
});

export const driftJson = (d: Drift) => ({
  provider: d.provider,
  phoneNumber: d.e164,
  kind: d.kind,
  phoneNumberId: d.phoneNumberId,
  teamId: d.teamId,
  detail: d.detail,
  detectedAt: iso(d.detectedAt),
});
