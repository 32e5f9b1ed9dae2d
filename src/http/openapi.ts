/**
 * The OpenAPI 3.1 description of the gateway's HTTP API, served at
 * GET /openapi.json. It is generated, never written by hand: the schemas are
 * the zod objects the routers validate with and the views are typed against
 * (schemas.ts), converted by zod's own JSON Schema output (draft 2020-12,
 * OpenAPI 3.1's dialect); this file only adds what zod cannot know: which
 * method and path answer what, with which status and error codes.
 *
 * test/http/openapi.test.ts validates the document with an OpenAPI
 * validator, checks that its operations are exactly the routes express
 * has, and validates real answers against it. `npm run openapi` writes the
 * console's types (console/src/api/openapi.d.ts) from it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../errors.js';
import { PROJECT_ROOT } from '../paths.js';
import * as S from './schemas.js';

export type JsonSchema = { [k: string]: unknown };
export type Method = 'get' | 'post' | 'patch' | 'delete';

export interface Operation {
  method: Method;
  /** The path as express routes it, e.g. `/api/teams/:teamId`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Answers without a bearer token (the operations endpoints). */
  public?: true;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body may be left out altogether. */
  bodyOptional?: true;
  headers?: Array<{ name: string; description: string; schema: z.ZodType }>;
  /** The answers that are not errors, by status. */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string; headers?: Record<string, string> }>;
  /** Error codes this operation may answer with besides the ones every request can get (see commonErrors). */
  errors?: ErrorCode[];
}

const JSON_TYPE = 'application/json';

const PARAMS: Record<string, string> = {
  teamId: "The team's id.",
  tokenId: "The token's id (from the token listing).",
  assistantId: "The assistant's id.",
  id: "The phone number's id (not the number itself).",
  callId: "The call's id.",
};

const ADMIN = 'Admin token only (a team token gets 403 FORBIDDEN).';
const PROVIDER_ERRORS: ErrorCode[] = ['PROVIDER_AUTH_FAILED', 'PROVIDER_UNAVAILABLE', 'PROVIDER_BAD_RESPONSE'];
const replayed = 'The answer is a replay of the first request with this Idempotency-Key: `true`.';

/** Every route the gateway's express app answers, in the order of the README's table. */
export const OPERATIONS: Operation[] = [
  // ------------------------------------------------------------ operations
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tag: 'Operations',
    summary: 'The process is up',
    public: true,
    responses: { 200: { description: 'Always, while the process runs.', schema: S.Health } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'readiness',
    tag: 'Operations',
    summary: 'Ready to take traffic',
    description: 'Ready when the database answers and the gateway is not draining.',
    public: true,
    responses: {
      200: { description: 'Ready.', schema: S.Readiness },
      503: { description: 'Not ready: the database is down, or the gateway is draining.', schema: S.Readiness },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    description: 'No token needed, like /healthz: keep it on an internal network or behind the proxy.',
    public: true,
    responses: { 200: { description: 'Prometheus text exposition format.', schema: z.string(), contentType: 'text/plain' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    tag: 'Operations',
    summary: 'This document',
    public: true,
    responses: { 200: { description: 'The OpenAPI 3.1 description of this API.', schema: z.looseObject({ openapi: z.string() }) } },
  },

  // -------------------------------------------------------------------- me
  {
    method: 'get',
    path: '/api/me',
    operationId: 'getMe',
    tag: 'Me',
    summary: 'Who this token is',
    description: 'The admin token, or a team token and its team.',
    responses: { 200: { description: 'The token.', schema: S.Me } },
  },

  // ----------------------------------------------------------------- teams
  {
    method: 'post',
    path: '/api/teams',
    operationId: 'createTeam',
    tag: 'Teams',
    summary: 'Create a team',
    description: `${ADMIN} The answer carries the team's first token, shown this once.`,
    body: S.teamCreate,
    responses: { 201: { description: 'Created.', schema: S.TeamCreated } },
    errors: ['FORBIDDEN', 'SLUG_TAKEN'],
  },
  {
    method: 'get',
    path: '/api/teams',
    operationId: 'listTeams',
    tag: 'Teams',
    summary: 'List teams',
    description: 'Every team for the admin; its own team for a team token.',
    responses: { 200: { description: 'The teams.', schema: S.TeamList } },
  },
  {
    method: 'get',
    path: '/api/teams/:teamId',
    operationId: 'getTeam',
    tag: 'Teams',
    summary: 'Read a team',
    responses: { 200: { description: 'The team.', schema: S.TeamResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'patch',
    path: '/api/teams/:teamId',
    operationId: 'setTeamPlan',
    tag: 'Teams',
    summary: "Change a team's plan",
    description: `${ADMIN} Moving off free makes the trial number permanent.`,
    body: S.teamPatch,
    responses: { 200: { description: 'The team on its new plan.', schema: S.TeamResponse } },
    errors: ['FORBIDDEN', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/teams/:teamId/tokens',
    operationId: 'createToken',
    tag: 'Tokens',
    summary: 'Create a team token',
    description: 'The token is shown this once. At most 25 active tokens per team.',
    body: S.tokenCreate,
    bodyOptional: true,
    responses: { 201: { description: 'Created.', schema: S.NewToken } },
    errors: ['NOT_FOUND', 'TOKEN_LIMIT_REACHED'],
  },
  {
    method: 'get',
    path: '/api/teams/:teamId/tokens',
    operationId: 'listTokens',
    tag: 'Tokens',
    summary: "List a team's active tokens",
    description: 'Metadata only, never the tokens.',
    responses: { 200: { description: 'The tokens.', schema: S.TokenList } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'delete',
    path: '/api/teams/:teamId/tokens/:tokenId',
    operationId: 'revokeToken',
    tag: 'Tokens',
    summary: 'Revoke a token',
    description: 'Effective from the next request, in every gateway process. Revoking twice is not an error.',
    responses: { 204: { description: 'Revoked.' } },
    errors: ['NOT_FOUND'],
  },

  // ------------------------------------------------------------ assistants
  {
    method: 'post',
    path: '/api/assistants',
    operationId: 'createAssistant',
    tag: 'Assistants',
    summary: 'Create an assistant',
    body: S.assistantCreate,
    responses: { 201: { description: 'Created.', schema: S.AssistantResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/assistants',
    operationId: 'listAssistants',
    tag: 'Assistants',
    summary: 'List assistants',
    query: S.assistantQuery,
    responses: { 200: { description: 'The assistants.', schema: S.AssistantList } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/assistants/:assistantId',
    operationId: 'getAssistant',
    tag: 'Assistants',
    summary: 'Read an assistant',
    responses: { 200: { description: 'The assistant.', schema: S.AssistantResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'patch',
    path: '/api/assistants/:assistantId',
    operationId: 'updateAssistant',
    tag: 'Assistants',
    summary: 'Rename an assistant or change its media URL',
    body: S.assistantPatch,
    responses: { 200: { description: 'The assistant.', schema: S.AssistantResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'delete',
    path: '/api/assistants/:assistantId',
    operationId: 'deleteAssistant',
    tag: 'Assistants',
    summary: 'Delete an assistant',
    description: 'Its numbers become unassigned; calls in progress on it continue.',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'patch',
    path: '/api/assistants/:assistantId/telephony/phone-numbers',
    operationId: 'assignNumbers',
    tag: 'Assistants',
    summary: "Set an assistant's phone numbers",
    description:
      'The complete list, atomically: numbers left out are unassigned, numbers on another assistant move. Takes effect for the next call; calls already routed stay where they are.',
    body: S.assignBody,
    responses: { 200: { description: 'The assistant with its numbers.', schema: S.AssistantResponse } },
    errors: ['NOT_FOUND', 'NUMBER_NOT_ACTIVE'],
  },

  // --------------------------------------------------------- phone numbers
  {
    method: 'post',
    path: '/api/phone-numbers/search',
    operationId: 'searchNumbers',
    tag: 'Phone numbers',
    summary: 'Search numbers to buy',
    description:
      'At most 20 numbers nobody holds, ordered by number. A filter that does not apply to the number type, or that the provider cannot honour, is 400.',
    body: S.searchBody,
    responses: { 200: { description: 'Matching numbers (possibly none).', schema: S.SearchResponse } },
    errors: ['UNSUPPORTED_COUNTRY', 'PROVIDER_NOT_AVAILABLE', ...PROVIDER_ERRORS],
  },
  {
    method: 'post',
    path: '/api/phone-numbers/purchase',
    operationId: 'purchaseNumber',
    tag: 'Phone numbers',
    summary: 'Buy a number',
    description:
      'The number is `purchasing` until the provider confirms it (`active`) or the order fails (`error`). On the free plan it is a trial that expires after 5 days.',
    body: S.purchaseBody,
    headers: [
      {
        name: 'Idempotency-Key',
        description:
          'The same key with the same body answers the first success again without buying twice (24 hours, per caller); with another body, 409 IDEMPOTENCY_CONFLICT.',
        schema: S.idempotencyKey,
      },
    ],
    responses: { 201: { description: 'The order is placed.', schema: S.PhoneNumberResponse, headers: { 'Idempotent-Replayed': replayed } } },
    errors: [
      'INVALID_PHONE_NUMBER',
      'UNSUPPORTED_COUNTRY',
      'PROVIDER_NOT_AVAILABLE',
      'PLAN_LIMIT_REACHED',
      'NOT_FOUND',
      'NUMBER_UNAVAILABLE',
      'NUMBER_SUSPENDED',
      'REGULATORY_REQUIREMENTS',
      'IDEMPOTENCY_CONFLICT',
      ...PROVIDER_ERRORS,
    ],
  },
  {
    method: 'post',
    path: '/api/phone-numbers/import',
    operationId: 'importNumber',
    tag: 'Phone numbers',
    summary: 'Attach a number the provider account already owns',
    body: S.importBody,
    responses: { 201: { description: 'Imported and active.', schema: S.PhoneNumberResponse } },
    errors: [
      'INVALID_PHONE_NUMBER',
      'UNSUPPORTED_COUNTRY',
      'PROVIDER_NOT_AVAILABLE',
      'PLAN_LIMIT_REACHED',
      'NOT_FOUND',
      'NUMBER_UNAVAILABLE',
      ...PROVIDER_ERRORS,
    ],
  },
  {
    method: 'get',
    path: '/api/providers',
    operationId: 'listProviders',
    tag: 'Phone numbers',
    summary: 'The number providers offered',
    description: 'Each with its countries, number types and search filters.',
    responses: { 200: { description: 'The providers.', schema: S.ProviderList } },
  },
  {
    method: 'get',
    path: '/api/providers/drift',
    operationId: 'listDrift',
    tag: 'Phone numbers',
    summary: "Differences between the providers' accounts and the database",
    description: ADMIN,
    responses: { 200: { description: 'What the last reconciliation found.', schema: S.DriftList } },
    errors: ['FORBIDDEN'],
  },
  {
    method: 'get',
    path: '/api/phone-numbers/purchase',
    operationId: 'listPurchasedNumbers',
    tag: 'Phone numbers',
    summary: "List a team's numbers (the contract's first listing)",
    description: 'The same as GET /api/phone-numbers.',
    query: S.numberQuery,
    responses: { 200: { description: 'The numbers, history included.', schema: S.PhoneNumberList } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/phone-numbers',
    operationId: 'listNumbers',
    tag: 'Phone numbers',
    summary: 'List numbers',
    description: 'Released and failed numbers stay as history; filter with status=active.',
    query: S.numberQuery,
    responses: { 200: { description: 'The numbers.', schema: S.PhoneNumberList } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/phone-numbers/:id',
    operationId: 'getNumber',
    tag: 'Phone numbers',
    summary: 'Read a number',
    responses: { 200: { description: 'The number.', schema: S.PhoneNumberResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'patch',
    path: '/api/phone-numbers/:id',
    operationId: 'setNumberStatus',
    tag: 'Phone numbers',
    summary: 'Suspend or reactivate a number',
    description: `${ADMIN} A suspended number keeps its assistant but rejects calls.`,
    body: S.numberPatch,
    responses: { 200: { description: 'The number.', schema: S.PhoneNumberResponse } },
    errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATUS_TRANSITION'],
  },
  {
    method: 'delete',
    path: '/api/phone-numbers/:id',
    operationId: 'releaseNumber',
    tag: 'Phone numbers',
    summary: 'Release a number',
    description: 'It is unassigned and goes back to the pool; calls in progress continue. Releasing a released number answers it as it is.',
    responses: { 200: { description: 'The number, released.', schema: S.PhoneNumberResponse } },
    errors: ['NOT_FOUND', 'INVALID_STATUS_TRANSITION', 'NUMBER_SUSPENDED'],
  },

  // ----------------------------------------------------------------- audit
  {
    method: 'get',
    path: '/api/audit-events',
    operationId: 'listAuditEvents',
    tag: 'Audit',
    summary: 'Who changed which number, and how',
    description: 'Newest first.',
    query: S.auditQuery,
    responses: { 200: { description: 'A page of events.', schema: S.AuditEventList } },
    errors: ['NOT_FOUND'],
  },

  // ----------------------------------------------------------------- calls
  {
    method: 'get',
    path: '/api/calls',
    operationId: 'listCalls',
    tag: 'Calls',
    summary: 'List calls',
    description: 'Newest first.',
    query: S.callQuery,
    responses: { 200: { description: 'A page of calls.', schema: S.CallList } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/calls/:callId',
    operationId: 'getCall',
    tag: 'Calls',
    summary: 'Read a call',
    responses: { 200: { description: 'The call.', schema: S.CallResponse } },
    errors: ['NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/outbound/caller-id',
    operationId: 'pickCallerId',
    tag: 'Calls',
    summary: 'The caller ID for an outbound call',
    description:
      "Picks one of the assistant's active numbers (same country, then same area code, then least recently used), records the outbound call, and answers the markup that brings its audio through this gateway.",
    body: S.callerIdBody,
    responses: { 200: { description: 'The caller ID and the call.', schema: S.CallerId } },
    errors: ['INVALID_PHONE_NUMBER', 'NOT_FOUND', 'NO_CALLER_ID'],
  },
];

/** The codes any request to this operation can get, whatever it does. */
export function commonErrors(op: Operation): ErrorCode[] {
  if (op.public) return [];
  const codes: ErrorCode[] = ['UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'];
  if (op.body) codes.push('INVALID_REQUEST', 'INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (op.query) codes.push('INVALID_REQUEST');
  return codes;
}

/** Express's `/a/:b` as OpenAPI's `/a/{b}`. */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:(\w+)/g, '{$1}');

const RETRY_AFTER: ErrorCode[] = ['RATE_LIMITED', 'UNAVAILABLE', 'PROVIDER_UNAVAILABLE'];

function toJson(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' }) as JsonSchema;
  return tidy(rest);
}

function components(registry: z.core.$ZodRegistry<S.SchemaMeta>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', io, unrepresentable: 'throw', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, JsonSchema> = {};
  for (const [name, s] of Object.entries(schemas)) {
    const { $schema: _s, $id: _id, ...rest } = s as JsonSchema;
    out[name] = tidy(rest);
  }
  return out;
}

/** Drops the bounds zod gives every integer (the safe-integer range): JSON numbers need no such reminder. */
function tidy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(tidy) as T;
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'minimum' && x === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && x === Number.MAX_SAFE_INTEGER)) continue;
    out[k] = tidy(x);
  }
  return out as T;
}

/** A registered schema by reference, any other one inline. */
function schemaRef(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const meta = (io === 'input' ? S.requestSchemas : S.responseSchemas).get(schema);
  return meta ? { $ref: `#/components/schemas/${meta.id}` } : toJson(schema, io);
}

const header = (description: string, schema: JsonSchema = { type: 'string' }) => ({ description, schema });

const pascal = (code: string) => code.toLowerCase().replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase());

/**
 * An operation's error answers, one per status, each naming the catalogue
 * codes it may carry. Identical ones (401 UNAUTHENTICATED, ...) are shared
 * through components.responses, named after their codes.
 */
function errorResponses(op: Operation, shared: Record<string, unknown>): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...commonErrors(op), ...(op.errors ?? [])])) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const name = codes.map(pascal).join('Or');
    if (!shared[name]) {
      const headers: Record<string, unknown> = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
      const waits = codes.filter((c) => RETRY_AFTER.includes(c));
      if (waits.length)
        headers['Retry-After'] = header(`Seconds to wait before trying again (with ${waits.join(', ')}).`, { type: 'string', pattern: '^\\d+$' });
      shared[name] = {
        description: codes.map((c) => `\`${c}\`: ${ERRORS[c].description}`).join('\n\n'),
        headers,
        content: { [JSON_TYPE]: { schema: toJson(S.errorBody(codes), 'output') } },
      };
    }
    out[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  return out;
}

function operationObject(op: Operation, sharedResponses: Record<string, unknown>): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [, name] of op.path.matchAll(/:(\w+)/g)) {
    parameters.push({ name, in: 'path', required: true, description: PARAMS[name!] ?? name, schema: { type: 'string' } });
  }
  if (op.query) {
    const q = toJson(op.query, 'input') as { properties: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties)) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest });
    }
  }
  for (const h of op.headers ?? [])
    parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: toJson(h.schema, 'input') });

  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const headers: Record<string, unknown> = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
    for (const [name, description] of Object.entries(r.headers ?? {})) headers[name] = header(description);
    responses[status] = {
      description: r.description,
      headers,
      ...(r.schema ? { content: { [r.contentType ?? JSON_TYPE]: { schema: schemaRef(r.schema, 'output') } } } : {}),
    };
  }
  Object.assign(responses, errorResponses(op, sharedResponses));

  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(op.public ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: !op.bodyOptional, content: { [JSON_TYPE]: { schema: schemaRef(op.body, 'input') } } } } : {}),
    responses,
  };
}

const TAGS: Array<{ name: string; description: string }> = [
  { name: 'Me', description: 'The token making the request.' },
  { name: 'Teams', description: 'Teams and their plans: free (1 trial number), starter (5), pro (50), enterprise (unlimited).' },
  { name: 'Tokens', description: "A team's API tokens: stored hashed, shown once." },
  { name: 'Assistants', description: 'AI voice assistants and the numbers that route to them.' },
  { name: 'Phone numbers', description: 'Search, buy, import, list, suspend and release numbers.' },
  { name: 'Calls', description: 'Call records, and caller IDs for outbound dialers.' },
  { name: 'Audit', description: 'Changes to numbers, plans and tokens.' },
  { name: 'Operations', description: 'Health, readiness, metrics and this document: no token needed.' },
];

/** Builds the document. The gateway builds it once, at start. */
export function buildOpenApi(): JsonSchema {
  const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const schemas = { ...components(S.responseSchemas, 'output') };
  for (const [name, s] of Object.entries(components(S.requestSchemas, 'input'))) {
    if (name in schemas) throw new Error(`schema ${name} is both a request and a response schema`);
    schemas[name] = s;
  }
  const paths: Record<string, Record<string, unknown>> = {};
  const responses: Record<string, unknown> = {};
  for (const op of OPERATIONS) {
    const item = (paths[openApiPath(op.path)] ??= {});
    if (item[op.method]) throw new Error(`${op.method.toUpperCase()} ${op.path} is described twice`);
    item[op.method] = operationObject(op, responses);
  }
  return {
    openapi: '3.1.1',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Switchboard',
      version,
      summary: 'Call-routing gateway for AI voice assistants: teams, assistants, phone numbers and calls.',
      description: [
        "Every /api request needs `Authorization: Bearer <token>`: the admin token, or a team token (which sees only its own team; other teams' ids are 404).",
        'Bodies are JSON (at most 64 KiB); unknown fields are refused. Errors are `{"error": {"code", "message", "details"?}}` with a code from the catalogue (docs/errors.md).',
        'A path that exists answers other methods with 405 METHOD_NOT_ALLOWED and an Allow header.',
        "The carrier webhooks (/carriers/*) and the media WebSockets (/media/*) are not described here: they speak the carriers' own protocols (see the API contract and docs/api-notes.md).",
      ].join('\n\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: TAGS,
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The admin token or a team token.' } },
      headers: { 'X-Request-Id': { description: 'The request id (echoed when the request sent a well-formed one), as logged.', schema: { type: 'string' } } },
      schemas,
      responses,
    },
  };
}

let built: string | undefined;
/** The document as served: built on first use, then the same bytes every time. */
export function openApiJson(): string {
  return (built ??= JSON.stringify(buildOpenApi()));
}
