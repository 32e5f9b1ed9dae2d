/**
 * The /api routes: translate HTTP to service calls and results to JSON.
 * No rules live here; they are in the services.
 */
import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { COUNTRIES, isSupportedCountry } from '../domain/phone.js';
import type { Principal } from '../domain/types.js';
import type { Services } from '../services/index.js';
import { assistantJson, auditEventJson, driftJson, phoneNumberJson, providerJson, teamJson, tokenJson, availableNumberJson } from './views.js';
import type { SearchFilterName } from '../providers/provider.js';
import { requireAdmin as requireAdminHere } from '../services/access.js';
import { body, parse } from './validate.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import {
  assignBody,
  assistantCreate,
  assistantPatch,
  assistantQuery,
  auditQuery,
  idempotencyKey as idempotencyKeySchema,
  importBody,
  NUMBER_TYPES,
  numberPatch,
  numberQuery,
  purchaseBody,
  searchBody,
  teamCreate,
  teamPatch,
  tokenCreate,
  type AssistantList,
  type AssistantResponse,
  type AuditEventList,
  type DriftList,
  type Me,
  type NewToken,
  type PhoneNumberList,
  type PhoneNumberResponse,
  type ProviderList,
  type SearchResponse,
  type TeamCreated,
  type TeamList,
  type TeamResponse,
  type TokenList,
} from './schemas.js';

/** A response body, checked against its schema (schemas.ts) when it compiles. */
type Body<S extends z.ZodType> = z.output<S>;

const principal = (res: Response): Principal => res.locals.principal as Principal;

/** A team token may leave teamId out (it means its own team); the admin must name one. */
function teamIdFor(p: Principal, teamId: string | undefined): string {
  if (teamId !== undefined) return teamId;
  if (p.kind === 'team') return p.teamId;
  throw new AppError('INVALID_REQUEST', 'teamId: is required with the admin token.');
}

const idempotencyKey = (req: Request): string | undefined => {
  const k = req.get('idempotency-key');
  if (k === undefined) return undefined;
  if (!idempotencyKeySchema.safeParse(k).success) throw new AppError('INVALID_REQUEST', 'Idempotency-Key: must be 1 to 255 characters.');
  return k;
};

/** Answers 405 with Allow for a path whose other methods are routed above. */
const onlyMethods =
  (...methods: string[]) =>
  (req: Request, res: Response): void => {
    res.setHeader('Allow', methods.join(', '));
    throw new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.baseUrl}${req.path}; use ${methods.join(' or ')}.`);
  };

export function apiRouter(s: Services): Router {
  const r = Router();

  // --------------------------------------------------------------------- me
  // Who this token is: the console (and scripts) learn admin or team without guessing.
  r.get('/me', async (_req, res) => {
    const p = principal(res);
    const tokenId = res.locals.tokenId as string;
    if (p.kind === 'admin') return void res.json({ kind: 'admin', tokenId } satisfies Body<typeof Me>);
    const team = await s.teams.get(p, p.teamId);
    res.json({ kind: 'team', tokenId, team: teamJson(await s.teams.summary(team)) } satisfies Body<typeof Me>);
  });

  // ------------------------------------------------------------------ teams
  r.post('/teams', async (req, res) => {
    const input = parse(teamCreate, body(req.body));
    const { team, token } = await s.teams.create(principal(res), input);
    res.status(201).json({ team: teamJson(await s.teams.summary(team)), token } satisfies Body<typeof TeamCreated>);
  });
  r.get('/teams', async (_req, res) => {
    const teams = await s.teams.list(principal(res));
    res.json({ teams: (await Promise.all(teams.map((t) => s.teams.summary(t)))).map(teamJson) } satisfies Body<typeof TeamList>);
  });
  r.get('/teams/:teamId', async (req, res) => {
    res.json({ team: teamJson(await s.teams.summary(await s.teams.get(principal(res), req.params.teamId))) } satisfies Body<typeof TeamResponse>);
  });
  r.patch('/teams/:teamId', async (req, res) => {
    const { plan } = parse(teamPatch, body(req.body));
    res.json({ team: teamJson(await s.teams.summary(await s.teams.setPlan(principal(res), req.params.teamId, plan))) } satisfies Body<typeof TeamResponse>);
  });
  r.post('/teams/:teamId/tokens', async (req, res) => {
    const input = parse(tokenCreate, req.body === undefined ? {} : body(req.body));
    const { token, row } = await s.tokens.issue(principal(res), req.params.teamId, { name: input.name, expiresInS: input.expiresIn });
    res.status(201).json({ token, ...tokenJson(row) } satisfies Body<typeof NewToken>);
  });
  r.get('/teams/:teamId/tokens', async (req, res) => {
    const current = res.locals.tokenId as string | undefined;
    const tokens = await s.tokens.list(principal(res), req.params.teamId);
    res.json({ tokens: tokens.map((t) => ({ ...tokenJson(t), current: t.id === current })) } satisfies Body<typeof TokenList>);
  });
  r.delete('/teams/:teamId/tokens/:tokenId', async (req, res) => {
    await s.tokens.revoke(principal(res), req.params.teamId, req.params.tokenId);
    res.status(204).end();
  });

  // ------------------------------------------------------------- assistants
  r.post('/assistants', async (req, res) => {
    const p = principal(res);
    const input = parse(assistantCreate, body(req.body));
    const a = await s.assistants.create(p, { ...input, teamId: teamIdFor(p, input.teamId) });
    res.status(201).json({ assistant: assistantJson(await s.assistants.withNumbers(a)) } satisfies Body<typeof AssistantResponse>);
  });
  r.get('/assistants', async (req, res) => {
    const { teamId } = parse(assistantQuery, req.query, 'query');
    const list = await s.assistants.list(principal(res), teamId);
    res.json({ assistants: (await Promise.all(list.map((a) => s.assistants.withNumbers(a)))).map(assistantJson) } satisfies Body<typeof AssistantList>);
  });
  r.get('/assistants/:assistantId', async (req, res) => {
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(await s.assistants.get(principal(res), req.params.assistantId))) } satisfies Body<
      typeof AssistantResponse
    >);
  });
  r.patch('/assistants/:assistantId', async (req, res) => {
    const patch = parse(assistantPatch, body(req.body));
    const a = await s.assistants.update(principal(res), req.params.assistantId, patch);
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(a)) } satisfies Body<typeof AssistantResponse>);
  });
  r.delete('/assistants/:assistantId', async (req, res) => {
    await s.assistants.delete(principal(res), req.params.assistantId);
    res.status(204).end();
  });
  r.patch('/assistants/:assistantId/telephony/phone-numbers', async (req, res) => {
    const p = principal(res);
    const input = parse(assignBody, body(req.body));
    await s.assignment.assign(p, req.params.assistantId, input.accountSlug, input.phoneNumberIds);
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(await s.assistants.get(p, req.params.assistantId))) } satisfies Body<
      typeof AssistantResponse
    >);
  });

  // ---------------------------------------------------------- phone numbers
  r.post('/phone-numbers/search', async (req, res) => {
    const input = parse(searchBody, body(req.body));
    const f = input.filters;
    if (!isSupportedCountry(f.countryCode)) {
      throw new AppError('UNSUPPORTED_COUNTRY', `filters.countryCode: "${f.countryCode}" is not supported; use one of ${COUNTRIES.join(', ')}.`);
    }
    const numberType = NUMBER_TYPES[f.numberType ?? 'local']!;
    // A filter that does not apply is refused, not silently ignored: the
    // caller would otherwise take unfiltered results for filtered ones.
    const misplaced =
      numberType === 'local'
        ? (['prefix'] as const)
            .filter((k) => f[k] !== undefined)
            .map((k) => `filters.${k}: applies to toll-free numbers only (numberType "toll-free"); use areaCode, state or city for local numbers`)
        : (['areaCode', 'state', 'city'] as const)
            .filter((k) => f[k] !== undefined)
            .map((k) => `filters.${k}: applies to local numbers only; use prefix (e.g. "800") for toll-free numbers`);
    if (misplaced.length) throw new AppError('INVALID_REQUEST', misplaced.join('; '));
    const provider = s.purchases.offered(input.provider);
    // And what this provider cannot filter on is refused the same way.
    const caps = provider.capabilities();
    if (!caps.countries.includes(f.countryCode)) {
      throw new AppError(
        'UNSUPPORTED_COUNTRY',
        `filters.countryCode: the ${provider.name} provider does not sell numbers in ${f.countryCode}; it sells ${caps.countries.join(', ')}.`,
      );
    }
    const given = { areaCode: f.areaCode, state: f.state, city: f.city, prefix: f.prefix };
    const unsupported = (Object.entries(given) as Array<[SearchFilterName, string | undefined]>)
      .filter(([k, v]) => v !== undefined && !caps.filters[numberType].includes(k))
      .map(
        ([k]) =>
          `filters.${k}: the ${provider.name} provider cannot filter ${numberType} numbers by it; use ${caps.filters[numberType].join(', ') || 'no filter'}`,
      );
    if (unsupported.length) throw new AppError('INVALID_REQUEST', unsupported.join('; '));
    const numbers = await s.numbers.search(provider.name, {
      countryCode: f.countryCode,
      numberType,
      areaCode: f.areaCode,
      region: f.state,
      city: f.city,
      prefix: f.prefix,
      limit: Math.min(f.limit ?? 20, 20),
    });
    res.json({ numbers: numbers.map((n) => availableNumberJson(n, provider.name)) } satisfies Body<typeof SearchResponse>);
  });
  // These two paths would otherwise fall through to /phone-numbers/:id.
  r.all('/phone-numbers/search', onlyMethods('POST'));
  r.post('/phone-numbers/purchase', async (req, res) => {
    const p = principal(res);
    const input = parse(purchaseBody, body(req.body));
    const result = await s.purchases.purchase(
      p,
      { phoneNumber: input.phoneNumber, teamId: teamIdFor(p, input.teamId), provider: input.provider },
      idempotencyKey(req),
    );
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(201).json({ phoneNumber: phoneNumberJson(result.number) } satisfies Body<typeof PhoneNumberResponse>);
  });
  r.post('/phone-numbers/import', async (req, res) => {
    const p = principal(res);
    const input = parse(importBody, body(req.body));
    const n = await s.purchases.importNumber(p, { phoneNumber: input.phoneNumber, teamId: teamIdFor(p, input.teamId), provider: input.provider });
    res.status(201).json({ phoneNumber: phoneNumberJson(n) } satisfies Body<typeof PhoneNumberResponse>);
  });
  r.all('/phone-numbers/import', onlyMethods('POST'));

  // -------------------------------------------------------------- providers
  r.get('/providers', (_req, res) => {
    res.json({
      providers: s.providers.offered.map((name) => providerJson(name, name === s.providers.defaultName, s.providers.get(name)!.capabilities())),
    } satisfies Body<typeof ProviderList>);
  });
  r.get('/providers/drift', async (_req, res) => {
    requireAdminHere(principal(res), 'see provider drift');
    res.json({ drift: (await s.reconciler.list()).map(driftJson) } satisfies Body<typeof DriftList>);
  });
  const listNumbers = async (req: Request, res: Response) => {
    const q = parse(numberQuery, req.query, 'query');
    res.json({ phoneNumbers: (await s.numbers.list(principal(res), q)).map(phoneNumberJson) } satisfies Body<typeof PhoneNumberList>);
  };
  r.get('/phone-numbers/purchase', listNumbers);
  r.get('/phone-numbers', listNumbers);
  r.all('/phone-numbers/purchase', onlyMethods('GET', 'POST'));
  r.get('/phone-numbers/:id', async (req, res) => {
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.get(principal(res), req.params.id)) } satisfies Body<typeof PhoneNumberResponse>);
  });
  r.patch('/phone-numbers/:id', async (req, res) => {
    const { status } = parse(numberPatch, body(req.body));
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.setStatus(principal(res), req.params.id, status)) } satisfies Body<typeof PhoneNumberResponse>);
  });
  r.delete('/phone-numbers/:id', async (req, res) => {
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.release(principal(res), req.params.id)) } satisfies Body<typeof PhoneNumberResponse>);
  });

  // ------------------------------------------------------------------ audit
  r.get('/audit-events', async (req, res) => {
    const p = principal(res);
    const q = parse(auditQuery, req.query, 'query');
    const events = await s.audit.list(p, { teamId: q.teamId, before: q.cursor ? decodeCursor(q.cursor) : undefined, limit: q.limit });
    const last = events.length === q.limit ? events[events.length - 1] : undefined;
    res.json({ events: events.map(auditEventJson), nextCursor: last ? encodeCursor(last) : null } satisfies Body<typeof AuditEventList>);
  });

  return r;
}
