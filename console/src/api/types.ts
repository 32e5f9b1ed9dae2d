/**
 * The API's JSON, as the console sees it: the one place that knows the shapes.
 *
 * Every type here comes from the gateway's OpenAPI document (GET /openapi.json,
 * generated from the server's zod schemas) through ./openapi.d.ts, which
 * `npm run openapi` writes and `npm test` checks is fresh. Nothing is
 * written by hand but the names, and the few values the console needs at run
 * time (plan names, countries, statuses), which are checked against the
 * generated types so they cannot drift either. Every other module imports its
 * types from here.
 */
import type { components, operations } from './openapi';

type Schemas = components['schemas'];
type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

/**
 * Compiles only when A and B are the same union: `Same<A, B>` is `true` then,
 * `never` otherwise, so `const _check: Same<A, B> = true` fails to compile on a drift.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;

export type Iso8601 = string;
export type Money = Schemas['Money'];
export type ApiErrorBody = Schemas['Error'];
export type ErrorCode = ApiErrorBody['error']['code'];

// ------------------------------------------------------------------ me

export type Me = Schemas['Me'];

// ------------------------------------------------------------------ teams

export type Team = Schemas['Team'];
export type PlanName = Team['plan'];
export const PLAN_NAMES = ['free', 'starter', 'pro', 'enterprise'] as const;
const _plans: Same<(typeof PLAN_NAMES)[number], PlanName> = true;

export type TeamCreateRequest = Schemas['TeamCreateRequest'];
export type TeamCreateResponse = Schemas['TeamCreated'];
export type TeamPatchRequest = Schemas['TeamPatchRequest'];
export type TeamResponse = Schemas['TeamResponse'];
export type TeamListResponse = Schemas['TeamList'];

// ------------------------------------------------------------------ tokens

export type TokenCreateRequest = Schemas['TokenCreateRequest'];
export type TokenCreateResponse = Schemas['NewToken'];
/** A token in the team's listing (`current`: the one this session uses). */
export type ApiToken = Schemas['ListedToken'];
export type TokenListResponse = Schemas['TokenList'];

// ------------------------------------------------------------- assistants

export type Assistant = Schemas['Assistant'];
export type AssistantCreateRequest = Schemas['AssistantCreateRequest'];
export type AssistantPatchRequest = Schemas['AssistantPatchRequest'];
export type AssistantResponse = Schemas['AssistantResponse'];
export type AssistantListResponse = Schemas['AssistantList'];
export type AssignRequest = Schemas['AssignRequest'];

// ---------------------------------------------------------- phone numbers

export const COUNTRIES = ['AE', 'US', 'CA', 'DE', 'AT', 'CH'] as const;
export type CountryCode = (typeof COUNTRIES)[number];
const _countries: Same<CountryCode, Provider['countries'][number]> = true;

export type PhoneNumber = Schemas['PhoneNumber'];
export type NumberType = PhoneNumber['numberType'];
export type NumberStatus = PhoneNumber['status'];
export const NUMBER_STATUSES = ['purchasing', 'active', 'suspended', 'error', 'released'] as const;
const _statuses: Same<(typeof NUMBER_STATUSES)[number], NumberStatus> = true;

export type PhoneNumberResponse = Schemas['PhoneNumberResponse'];
export type PhoneNumberListResponse = Schemas['PhoneNumberList'];
export type PhoneNumberListQuery = Query<'listNumbers'>;
export type PhoneNumberPatchRequest = Schemas['PhoneNumberPatchRequest'];

export type SearchRequest = Schemas['SearchRequest'];
export type SearchFilters = SearchRequest['filters'];
export type AvailableNumber = Schemas['AvailableNumber'];
export type SearchResponse = Schemas['SearchResponse'];
export type PurchaseRequest = Schemas['PurchaseRequest'];

// ------------------------------------------------------------- providers

export type Provider = Schemas['Provider'];
export type SearchFilterName = Provider['filters']['local'][number];
export type ProviderListResponse = Schemas['ProviderList'];

// ------------------------------------------------------------------ calls

export type Call = Schemas['Call'];
export type CallStatus = Call['status'];
export type CallListQuery = Query<'listCalls'>;
export type CallListResponse = Schemas['CallList'];

// The checks above are types; these names only keep the compiler from calling them unused.
export type _Checks = [typeof _plans, typeof _countries, typeof _statuses];
