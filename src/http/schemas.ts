/**
 * The API's shapes, in zod, once: the request schemas the routers validate
 * with, and the response schemas the views are typed against. The OpenAPI
 * document (openapi.ts) is generated from these same objects, so what the
 * gateway checks, what it answers and what it describes cannot drift apart
 * unnoticed: the views do not compile against a schema they do not meet, and
 * test/http/openapi.test.ts validates real answers against the document.
 *
 * Each named schema is registered (requestSchemas or responseSchemas) under
 * the name it has in the document's components.
 */
import { z } from 'zod';
import { COUNTRIES } from '../domain/phone.js';
import { PLAN_NAMES } from '../domain/plans.js';
import { CALL_PROGRESS } from '../domain/call-status.js';
import { REJECT_REASONS } from '../domain/routing.js';
import { CALL_STATUSES, type NumberType } from '../domain/types.js';
import { CLOSE_REASONS, ERRORS, type ErrorCode } from '../errors.js';
import type { LifecycleState } from '../lifecycle.js';
import { PROVIDER_NAMES, type ProviderName, type SearchFilterName } from '../providers/provider.js';
import { AUDIT_ACTIONS, DRIFT_KINDS } from '../services/ports.js';
import { id, mediaUrl, name, wellFormed } from './validate.js';

export interface SchemaMeta {
  /** The schema's name in the document's components. */
  id: string;
}
/** Bodies as clients send them (converted with io: 'input': defaults are optional). */
export const requestSchemas = z.registry<SchemaMeta>();
/** Bodies as the gateway answers them (io: 'output': every field is there). */
export const responseSchemas = z.registry<SchemaMeta>();

const request = <S extends z.ZodType>(name: string, s: S): S => (requestSchemas.add(s, { id: name }), s);
const response = <S extends z.ZodType>(name: string, s: S): S => (responseSchemas.add(s, { id: name }), s);

const NUMBER_STATUSES = ['purchasing', 'active', 'suspended', 'error', 'released'] as const;
const NUMBER_TYPE_VALUES = ['local', 'toll-free'] as const satisfies readonly NumberType[];
const PROVIDERS = PROVIDER_NAMES as readonly [ProviderName, ...ProviderName[]];

// ======================================================================
// Requests

const planName = z.enum(PLAN_NAMES, { message: `must be one of ${PLAN_NAMES.join(', ')}` });

export const teamCreate = request(
  'TeamCreateRequest',
  z.strictObject({
    name,
    slug: z
      .string({ message: 'must be a string' })
      .max(63, 'is too long')
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lowercase letters, digits and single dashes, e.g. "acme-inc"'),
    plan: planName.default('free'),
  }),
);

export const teamPatch = request('TeamPatchRequest', z.strictObject({ plan: planName }));

export const tokenCreate = request(
  'TokenCreateRequest',
  z.strictObject({
    name: z
      .string({ message: 'must be a string' })
      .trim()
      .min(1, 'must not be empty')
      .max(100, 'is too long')
      .refine(wellFormed, 'must be valid text (no control characters or unpaired surrogates)')
      .optional(),
    expiresIn: z
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(60, 'must be at least 60 seconds')
      .max(5 * 365 * 24 * 3600, 'must be at most 5 years (157680000 seconds)')
      .optional()
      .describe('Lifetime in seconds; without it the token does not expire.'),
  }),
);

export const assistantCreate = request(
  'AssistantCreateRequest',
  z.strictObject({
    teamId: id.optional().describe("The team's id; a team token may leave it out (its own team), the admin token must give it."),
    name,
    mediaUrl,
  }),
);

export const assistantPatch = request(
  'AssistantPatchRequest',
  z
    .strictObject({
      name: name.optional(),
      mediaUrl: mediaUrl.optional(),
    })
    .refine((v) => v.name !== undefined || v.mediaUrl !== undefined, 'give name or mediaUrl')
    .meta({ minProperties: 1, description: 'At least one of name and mediaUrl.' }),
);

export const assignBody = request(
  'AssignRequest',
  z.strictObject({
    accountSlug: z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(63, 'is too long').describe("The slug of the numbers' team."),
    phoneNumberIds: z
      .array(id, { message: 'must be an array of phone-number ids' })
      .max(1000, 'lists too many numbers')
      .describe('The complete list of numbers the assistant is to have; [] unassigns all.'),
  }),
);

/** Number types as clients may write them, and what each means. */
export const NUMBER_TYPES: Record<string, NumberType> = { local: 'local', 'toll-free': 'toll-free', tollFree: 'toll-free', toll_free: 'toll-free' };
const digits = (what: string) => z.string({ message: 'must be a string of digits' }).regex(/^\d{1,6}$/, `must be ${what} digits, e.g. "415"`);
const providerName = z.enum(PROVIDERS, { message: `must be one of ${PROVIDER_NAMES.join(', ')}` });

export const searchBody = request(
  'SearchRequest',
  z.strictObject({
    provider: providerName.optional().describe('One of GET /api/providers; the default provider when left out.'),
    filters: z.strictObject(
      {
        countryCode: z
          .string({ message: `is required: one of ${COUNTRIES.join(', ')}` })
          .transform((c) => c.toUpperCase())
          .meta({ description: `ISO country code, any case: ${COUNTRIES.join(', ')} (another is 400 UNSUPPORTED_COUNTRY).`, examples: ['US'] }),
        numberType: z
          .string({ message: 'must be a string' })
          .refine((v) => Object.hasOwn(NUMBER_TYPES, v), 'must be "local" or "toll-free"')
          .optional()
          .meta({ enum: Object.keys(NUMBER_TYPES), description: '"local" (the default) or "toll-free" ("tollFree" and "toll_free" are accepted too).' }),
        areaCode: digits('area-code').optional().describe('Local numbers only.'),
        state: z.string({ message: 'must be a string' }).max(100, 'is too long').optional().describe('Local numbers only; case-insensitive.'),
        city: z.string({ message: 'must be a string' }).max(100, 'is too long').optional().describe('Local numbers only; case-insensitive.'),
        prefix: digits('toll-free prefix').optional().describe('Toll-free numbers only, e.g. "800".'),
        limit: z
          .number({ message: 'must be a number' })
          .int('must be a whole number')
          .min(1, 'must be at least 1')
          .optional()
          .describe('At most 20 results are returned; a larger limit is clamped to 20.'),
      },
      // Only for a missing or non-object `filters`: an unknown key inside it keeps zod's message, which names the key.
      { error: (iss) => (iss.code === 'invalid_type' ? 'is required and must be an object' : undefined) },
    ),
  }),
);

export const purchaseBody = request(
  'PurchaseRequest',
  z.strictObject({
    phoneNumber: z
      .string({ message: 'is required and must be a string' })
      .min(1, 'must not be empty')
      .max(64, 'is too long')
      .meta({ description: 'Any common way of writing it; answers carry it in E.164.', examples: ['+14155550100'] }),
    teamId: id.optional().describe('A team token may leave it out (its own team); the admin token must give it.'),
    provider: providerName.optional().describe('One of GET /api/providers; the default provider when left out.'),
  }),
);
/** Import takes the same body as purchase. */
export const importBody = purchaseBody;

export const numberPatch = request(
  'PhoneNumberPatchRequest',
  z.strictObject({ status: z.enum(['active', 'suspended'], { message: 'must be "active" or "suspended"' }) }),
);

export const callerIdBody = request(
  'CallerIdRequest',
  z.strictObject({
    assistantId: id,
    to: z
      .string({ message: 'is required and must be a string' })
      .min(1)
      .max(64)
      .meta({ description: 'The number to be called.', examples: ['+12125550123'] }),
  }),
);

/** The Idempotency-Key header of a purchase. */
export const idempotencyKey = z.string().min(1).max(255);

// Query strings (every value arrives as a string; numbers are coerced).

export const assistantQuery = z.object({ teamId: id.optional() });

export const numberQuery = z.object({
  teamId: id.optional(),
  status: z.enum(NUMBER_STATUSES, { message: `must be one of ${NUMBER_STATUSES.join(', ')}` }).optional(),
  assistantId: id.optional(),
});

export const auditQuery = z.object({
  teamId: id.optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().describe('The nextCursor of the previous page.'),
});

export const callQuery = z.object({
  teamId: id.optional(),
  assistantId: id.optional(),
  phoneNumberId: id.optional(),
  status: z.enum(CALL_STATUSES, { message: `must be one of ${CALL_STATUSES.join(', ')}` }).optional(),
  limit: z.coerce
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(200, 'must be at most 200')
    .default(50),
  cursor: z.string().max(300).optional().describe('The nextCursor of the previous page.'),
});

// ======================================================================
// Responses

const time = z.iso.datetime().describe('ISO 8601, UTC.');
const timeOrNull = time.nullable();

export const Money = response(
  'Money',
  z.object({ amount: z.int().describe('Minor units (cents, fils, Rappen).'), currency: z.string().meta({ examples: ['USD'] }) }),
);

export const Team = response(
  'Team',
  z.object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    plan: z.enum(PLAN_NAMES),
    numberLimit: z.int().nullable().describe('Numbers the plan allows; null = unlimited.'),
    numbersHeld: z.int().describe('Numbers purchasing, active or suspended.'),
    createdAt: time,
  }),
);

export const Token = response(
  'Token',
  z
    .object({
      id: z.string(),
      name: z.string().nullable(),
      prefix: z.string().nullable().describe("The token's first characters, to tell tokens apart."),
      createdAt: time,
      lastUsedAt: timeOrNull,
      expiresAt: timeOrNull,
    })
    .describe("A token's metadata: never the token itself."),
);

export const ListedToken = response('ListedToken', Token.extend({ current: z.boolean().describe('The token this request was made with.') }));

export const NewToken = response('NewToken', Token.extend({ token: z.string().describe('The token: shown this once.') }));

export const Assistant = response(
  'Assistant',
  z.object({
    id: z.string(),
    teamId: z.string(),
    name: z.string(),
    mediaUrl: z.string().describe('ws:// or wss://'),
    phoneNumberIds: z.array(z.string()),
    createdAt: time,
    updatedAt: time,
  }),
);

export const AvailableNumber = response(
  'AvailableNumber',
  z.object({
    phoneNumber: z.string().describe('E.164'),
    provider: z.enum(PROVIDERS),
    countryCode: z.string().describe(`One of ${COUNTRIES.join(', ')}.`),
    numberType: z.enum(NUMBER_TYPE_VALUES),
    city: z.string().nullable(),
    state: z.string().nullable(),
    monthlyCost: Money,
  }),
);

export const PhoneNumber = response(
  'PhoneNumber',
  z.object({
    id: z.string(),
    phoneNumber: z.string().describe('E.164'),
    teamId: z.string(),
    countryCode: z.string().describe(`One of ${COUNTRIES.join(', ')}.`),
    numberType: z.enum(NUMBER_TYPE_VALUES),
    city: z.string().nullable(),
    state: z.string().nullable(),
    monthlyCost: Money,
    status: z.enum(NUMBER_STATUSES),
    assistantId: z.string().nullable(),
    provider: z.string().describe('The number provider that holds it: sim, twilio or telnyx.'),
    providerNumberId: z.string().nullable().describe("The provider's own id for the number, once it is ours."),
    imported: z.boolean().describe("Brought from the operator's provider account (POST /api/phone-numbers/import)."),
    trial: z.boolean().describe('A free-plan trial number: no charge, expires 5 days after purchase.'),
    expiresAt: timeOrNull,
    createdAt: time,
    activatedAt: timeOrNull,
    releasedAt: timeOrNull,
    failureReason: z
      .string()
      .nullable()
      .describe(
        'Why a purchase ended in error: carrier_rejected, regulatory_requirements_not_met (Telnyx), order_failed, provisioning_timeout, order_lost, order_not_placed, or provider_<kind> when the provider refused the order (provider_unavailable, provider_regulatory, ...).',
      ),
  }),
);

const END_REASONS = Object.entries(CLOSE_REASONS)
  .filter(([, r]) => r.recorded)
  .map(([k]) => k);

export const Call = response(
  'Call',
  z.object({
    id: z.string(),
    teamId: z.string().nullable().describe('null for calls to numbers nobody holds (admin only).'),
    direction: z.enum(['inbound', 'outbound']),
    carrier: z.string().describe('The carrier that delivered or places the call: twilio, telnyx or generic.'),
    carrierCallId: z.string().nullable(),
    from: z.string(),
    to: z.string(),
    phoneNumberId: z.string().nullable(),
    assistantId: z.string().nullable(),
    status: z.enum(CALL_STATUSES),
    reason: z
      .string()
      .nullable()
      .describe(`Why a call was rejected: ${REJECT_REASONS.join(', ')}.`),
    carrierStatus: z
      .string()
      .nullable()
      .describe(`Where the call stands at its carrier: ${CALL_PROGRESS.join(', ')}.`),
    createdAt: time,
    answeredAt: timeOrNull,
    endedAt: timeOrNull,
    durationSec: z.int().nullable(),
    endReason: z
      .string()
      .nullable()
      .describe(`How the media bridge ended: ${END_REASONS.join(', ')}.`),
  }),
);

export const AuditEvent = response(
  'AuditEvent',
  z.object({
    id: z.string(),
    teamId: z.string(),
    actor: z.string().describe('admin, team:<id> or system.'),
    action: z.enum(AUDIT_ACTIONS),
    phoneNumberId: z.string().nullable(),
    phoneNumber: z.string().nullable(),
    assistantId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    createdAt: time,
  }),
);

export const Drift = response(
  'Drift',
  z.object({
    provider: z.string(),
    phoneNumber: z.string(),
    kind: z.enum(DRIFT_KINDS),
    phoneNumberId: z.string().nullable(),
    teamId: z.string().nullable(),
    detail: z.string().nullable(),
    detectedAt: time,
  }),
);

const filterNames = z.array(z.enum(['areaCode', 'state', 'city', 'prefix'] as const satisfies readonly SearchFilterName[]));
export const Provider = response(
  'Provider',
  z.object({
    name: z.enum(PROVIDERS),
    default: z.boolean().describe('Search and purchase use it when they name none.'),
    countries: z.array(z.enum(COUNTRIES)),
    numberTypes: z.array(z.enum(NUMBER_TYPE_VALUES)),
    filters: z.object({ local: filterNames, 'toll-free': filterNames }).describe('The search filters it honours, by number type.'),
    pricing: z.enum(['per-number', 'per-country', 'none']).describe('Whether search results carry a monthly cost, and how it is known.'),
  }),
);

export const Me = response(
  'Me',
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('admin'), tokenId: z.string() }),
    z.object({ kind: z.literal('team'), tokenId: z.string(), team: Team }),
  ]),
);

const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/** The one error shape, with the codes an answer may carry. */
export const errorBody = (codes: readonly ErrorCode[] = ERROR_CODES) =>
  z.object({
    error: z.object({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string().describe('Written for people: says what was wrong and what to do.'),
      details: z.unknown().optional(),
    }),
  });
export const ErrorBody = response('Error', errorBody());

// Envelopes: what each endpoint answers.
export const MeResponse = Me;
export const TeamResponse = response('TeamResponse', z.object({ team: Team }));
export const TeamCreated = response('TeamCreated', z.object({ team: Team, token: z.string().describe("The team's first token, shown once.") }));
export const TeamList = response('TeamList', z.object({ teams: z.array(Team) }));
export const TokenList = response('TokenList', z.object({ tokens: z.array(ListedToken) }));
export const AssistantResponse = response('AssistantResponse', z.object({ assistant: Assistant }));
export const AssistantList = response('AssistantList', z.object({ assistants: z.array(Assistant) }));
export const SearchResponse = response('SearchResponse', z.object({ numbers: z.array(AvailableNumber) }));
export const PhoneNumberResponse = response('PhoneNumberResponse', z.object({ phoneNumber: PhoneNumber }));
export const PhoneNumberList = response('PhoneNumberList', z.object({ phoneNumbers: z.array(PhoneNumber) }));
export const ProviderList = response('ProviderList', z.object({ providers: z.array(Provider) }));
export const DriftList = response('DriftList', z.object({ drift: z.array(Drift) }));
const nextCursor = z.string().nullable().describe('Pass it back as cursor for the next page; null on the last page.');
export const AuditEventList = response('AuditEventList', z.object({ events: z.array(AuditEvent), nextCursor }));
export const CallList = response('CallList', z.object({ calls: z.array(Call), nextCursor }));
export const CallResponse = response('CallResponse', z.object({ call: Call }));
export const CallerId = response(
  'CallerId',
  z.object({
    callId: z.string(),
    callerId: z.string().describe('E.164: the number to call from.'),
    phoneNumberId: z.string(),
    assistantId: z.string(),
    carrier: z.string().describe('The carrier to place the call through (twilio or telnyx).'),
    twiml: z.string().describe("TwiML (or Telnyx TeXML) to hand to the carrier: it brings the call's audio through this gateway."),
  }),
);
export const Health = response('Health', z.object({ status: z.literal('ok') }));
export const Readiness = response(
  'Readiness',
  z.object({
    status: z.enum(['ready', 'not-ready']),
    database: z.enum(['ok', 'down']),
    lifecycle: z.enum(['running', 'draining', 'stopped'] as const satisfies readonly LifecycleState[]),
  }),
);
