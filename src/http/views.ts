/**
 * Domain objects → the API's JSON. The one place that decides field names:
 * E.164 numbers as `phoneNumber`, times as ISO 8601 strings, money as
 * { amount, currency } in minor units. Internal fields (order ids, media URLs
 * of calls) are not exposed. Each view's return type is its response schema's
 * (schemas.ts): a field the schema lacks, or one it has and the view forgets,
 * does not compile.
 */
import type { z } from 'zod';
import type { AvailableNumber, Call, PhoneNumber } from '../domain/types.js';
import type { ProviderCapabilities, ProviderName } from '../providers/provider.js';
import type { AssistantWithNumbers } from '../services/assistants.js';
import type { AuditEvent, Drift, TokenRow } from '../services/ports.js';
import type { TeamSummary } from '../services/teams.js';
import type * as S from './schemas.js';

type Out<T extends z.ZodType> = z.output<T>;

const iso = (t: number): string => new Date(t).toISOString();
const isoOrNull = (t: number | null): string | null => (t === null ? null : iso(t));

export const teamJson = (t: TeamSummary): Out<typeof S.Team> => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  plan: t.plan,
  numberLimit: t.numberLimit,
  numbersHeld: t.numbersHeld,
  createdAt: iso(t.createdAt),
});

export const assistantJson = (a: AssistantWithNumbers): Out<typeof S.Assistant> => ({
  id: a.id,
  teamId: a.teamId,
  name: a.name,
  mediaUrl: a.mediaUrl,
  phoneNumberIds: a.phoneNumberIds,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});

export const availableNumberJson = (n: AvailableNumber, provider: ProviderName): Out<typeof S.AvailableNumber> => ({
  phoneNumber: n.e164,
  provider,
  countryCode: n.countryCode,
  numberType: n.numberType,
  city: n.city,
  state: n.region,
  monthlyCost: { amount: n.monthlyCost, currency: n.currency },
});

export const phoneNumberJson = (n: PhoneNumber): Out<typeof S.PhoneNumber> => ({
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
  expiresAt: isoOrNull(n.expiresAt),
  createdAt: iso(n.createdAt),
  activatedAt: isoOrNull(n.activatedAt),
  releasedAt: isoOrNull(n.releasedAt),
  failureReason: n.failureReason,
});

export const callJson = (c: Call): Out<typeof S.Call> => ({
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
  answeredAt: isoOrNull(c.answeredAt),
  endedAt: isoOrNull(c.endedAt),
  durationSec: c.durationSec,
  endReason: c.endReason,
});

export const auditEventJson = (e: AuditEvent): Out<typeof S.AuditEvent> => ({
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
export const tokenJson = (t: TokenRow): Out<typeof S.Token> => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  createdAt: iso(t.createdAt),
  lastUsedAt: isoOrNull(t.lastUsedAt),
  expiresAt: isoOrNull(t.expiresAt),
});

export const driftJson = (d: Drift): Out<typeof S.Drift> => ({
  provider: d.provider,
  phoneNumber: d.e164,
  kind: d.kind,
  phoneNumberId: d.phoneNumberId,
  teamId: d.teamId,
  detail: d.detail,
  detectedAt: iso(d.detectedAt),
});

export const providerJson = (name: ProviderName, isDefault: boolean, caps: ProviderCapabilities): Out<typeof S.Provider> => ({
  name,
  default: isDefault,
  countries: [...caps.countries],
  numberTypes: [...caps.numberTypes],
  filters: { local: [...caps.filters.local], 'toll-free': [...caps.filters['toll-free']] },
  pricing: caps.pricing,
});
