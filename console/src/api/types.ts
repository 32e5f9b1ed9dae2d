/**
 * The API's JSON, as the console sees it: the one place that knows the shapes.
 *
 * Written by hand from the API contract (api.md) and the server's views
 * (src/views.ts). When the gateway serves /openapi.json, this file becomes
 * aliases into the generated description, e.g.
 *
 *   import type { components } from './openapi.gen';
 *   export type PhoneNumber = components['schemas']['PhoneNumber'];
 *
 * and nothing else in the console changes: every other module imports its
 * types from here.
 */

export type Iso8601 = string;

export interface Money {
  /** Minor units (cents, fils, Rappen). */
  amount: number;
  currency: string;
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

// ------------------------------------------------------------------ teams

export const PLAN_NAMES = ['free', 'starter', 'pro', 'enterprise'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface Team {
  id: string;
  slug: string;
  name: string;
  plan: PlanName;
  /** null = unlimited. */
  numberLimit: number | null;
  numbersHeld: number;
  createdAt: Iso8601;
}

export interface TeamCreateRequest {
  name: string;
  slug: string;
  plan: PlanName;
}
export interface TeamCreateResponse {
  team: Team;
  /** The team's first token, shown once. */
  token: string;
}
export interface TeamPatchRequest {
  plan: PlanName;
}
export interface TeamResponse {
  team: Team;
}
export interface TeamListResponse {
  teams: Team[];
}

// ------------------------------------------------------------------ tokens

export interface TokenCreateRequest {
  name?: string;
  /** Lifetime in seconds. */
  expiresIn?: number;
}
/** The new token (shown once) and, on gateways that list tokens, its metadata. */
export interface TokenCreateResponse extends Partial<ApiToken> {
  token: string;
}
export interface ApiToken {
  id: string;
  name: string | null;
  /** The first characters of the token, to recognise it. */
  prefix: string;
  createdAt: Iso8601;
  lastUsedAt: Iso8601 | null;
  expiresAt: Iso8601 | null;
  /** In listings: the token this request was made with. */
  current?: boolean;
}
export interface TokenListResponse {
  tokens: ApiToken[];
}

// ------------------------------------------------------------- assistants

export interface Assistant {
  id: string;
  teamId: string;
  name: string;
  /** ws:// or wss:// */
  mediaUrl: string;
  phoneNumberIds: string[];
  createdAt: Iso8601;
  updatedAt?: Iso8601;
}
export interface AssistantCreateRequest {
  teamId?: string;
  name: string;
  mediaUrl: string;
}
export interface AssistantPatchRequest {
  name?: string;
  mediaUrl?: string;
}
export interface AssistantResponse {
  assistant: Assistant;
}
export interface AssistantListResponse {
  assistants: Assistant[];
}
export interface AssignRequest {
  accountSlug: string;
  phoneNumberIds: string[];
}

// ---------------------------------------------------------- phone numbers

export const COUNTRIES = ['AE', 'US', 'CA', 'DE', 'AT', 'CH'] as const;
export type CountryCode = (typeof COUNTRIES)[number];
export type NumberType = 'local' | 'toll-free';
export const NUMBER_STATUSES = ['purchasing', 'active', 'suspended', 'error', 'released'] as const;
export type NumberStatus = (typeof NUMBER_STATUSES)[number];

export interface PhoneNumber {
  id: string;
  /** E.164 */
  phoneNumber: string;
  teamId: string;
  countryCode: string;
  numberType: NumberType;
  city: string | null;
  state: string | null;
  monthlyCost: Money;
  status: NumberStatus;
  assistantId: string | null;
  trial: boolean;
  expiresAt: Iso8601 | null;
  createdAt: Iso8601;
  activatedAt: Iso8601 | null;
  releasedAt?: Iso8601 | null;
  /** Why a purchase ended in `error` (api-notes.md). */
  failureReason?: string | null;
  /** Gateways with several providers say which one holds the number. */
  provider?: string;
  providerNumberId?: string | null;
}
export interface PhoneNumberResponse {
  phoneNumber: PhoneNumber;
}
export interface PhoneNumberListResponse {
  phoneNumbers: PhoneNumber[];
}
export interface PhoneNumberListQuery {
  teamId?: string;
  status?: NumberStatus;
  assistantId?: string;
}
export interface PhoneNumberPatchRequest {
  status: 'active' | 'suspended';
}

export interface SearchFilters {
  countryCode: string;
  numberType?: NumberType;
  areaCode?: string;
  state?: string;
  city?: string;
  prefix?: string;
  limit?: number;
}
export interface SearchRequest {
  filters: SearchFilters;
  provider?: string;
}
export interface AvailableNumber {
  phoneNumber: string;
  countryCode: string;
  numberType: NumberType;
  city: string | null;
  state: string | null;
  monthlyCost: Money;
}
export interface SearchResponse {
  numbers: AvailableNumber[];
}
export interface PurchaseRequest {
  phoneNumber: string;
  teamId?: string;
  provider?: string;
}

// ------------------------------------------------------------- providers

export type SearchFilterName = 'areaCode' | 'state' | 'city' | 'prefix';
export interface Provider {
  name: string;
  default: boolean;
  countries: string[];
  numberTypes: string[];
  filters: string[];
}
export interface ProviderListResponse {
  providers: Provider[];
}

// ------------------------------------------------------------------ calls

export type CallStatus = 'routed' | 'rejected' | 'in-progress' | 'completed' | 'failed';

export interface Call {
  id: string;
  teamId: string | null;
  direction: 'inbound' | 'outbound';
  carrier: string;
  carrierCallId: string | null;
  from: string;
  to: string;
  phoneNumberId: string | null;
  assistantId: string | null;
  status: CallStatus;
  /** Why a call was rejected (no_route, unassigned, suspended, expired, ...). */
  reason: string | null;
  carrierStatus?: string | null;
  createdAt: Iso8601;
  answeredAt: Iso8601 | null;
  endedAt: Iso8601 | null;
  durationSec: number | null;
  /** How the media bridge ended (carrier_hangup, assistant_unreachable, ...). */
  endReason?: string | null;
}
export interface CallListQuery {
  teamId?: string;
  assistantId?: string;
  phoneNumberId?: string;
  status?: CallStatus;
  limit?: number;
  cursor?: string;
}
export interface CallListResponse {
  calls: Call[];
  nextCursor: string | null;
}
