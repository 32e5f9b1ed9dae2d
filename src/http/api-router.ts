/**
 * The /api routes: translate HTTP to service calls and results to JSON.
 * No rules live here; they are in the services.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { COUNTRIES, isSupportedCountry } from '../domain/phone.js';
import { PLAN_NAMES } from '../domain/plans.js';
import type { NumberType, Principal } from '../domain/types.js';
import type { Services } from '../services/index.js';
import { assistantJson, auditEventJson, driftJson, phoneNumberJson, teamJson, tokenJson, availableNumberJson } from './views.js';
import { PROVIDER_NAMES, type ProviderName, type SearchFilterName } from '../providers/provider.js';
import { requireAdmin as requireAdminHere } from '../services/access.js';
import { body, id, mediaUrl, name, parse, wellFormed } from './validate.js';
import { decodeCursor, encodeCursor } from './cursor.js';

const principal = (res: Response): Principal => res.locals.principal as Principal;

const teamCreate = z.strictObject({
  name,
  slug: z
    .string({ message: 'must be a string' })
    .max(63, 'is too long')
    .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lowercase letters, digits and single dashes, e.g. "acme-inc"'),
  plan: z.enum(PLAN_NAMES, { message: `must be one of ${PLAN_NAMES.join(', ')}` }).default('free'),
});
const tokenCreate = z.strictObject({
  name: z.string({ message: 'must be a string' }).trim().min(1, 'must not be empty').max(100, 'is too long').refine(wellFormed, 'must be valid text (no control characters or unpaired surrogates)').optional(),
  expiresIn: z
    .number({ message: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(60, 'must be at least 60 seconds')
    .max(5 * 365 * 24 * 3600, 'must be at most 5 years (157680000 seconds)')
    .optional(),
});
const teamPatch = z.strictObject({ plan: z.enum(PLAN_NAMES, { message: `must be one of ${PLAN_NAMES.join(', ')}` }) });

const assistantCreate = z.strictObject({
  teamId: id.optional(),
  name,
  mediaUrl,
});
const assistantPatch = z
  .strictObject({
    name: name.optional(),
    mediaUrl: mediaUrl.optional(),
  })
  .refine((v) => v.name !== undefined || v.mediaUrl !== undefined, 'give name or mediaUrl');
const assignBody = z.strictObject({
  accountSlug: z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(63, 'is too long'),
  phoneNumberIds: z.array(id, { message: 'must be an array of phone-number ids' }).max(1000, 'lists too many numbers'),
});

const NUMBER_TYPES: Record<string, NumberType> = { local: 'local', 'toll-free': 'toll-free', tollFree: 'toll-free', toll_free: 'toll-free' };
const digits = (what: string) => z.string({ message: 'must be a string of digits' }).regex(/^\d{1,6}$/, `must be ${what} digits, e.g. "415"`);
const providerName = z.enum(PROVIDER_NAMES as readonly [ProviderName, ...ProviderName[]], { message: `must be one of ${PROVIDER_NAMES.join(', ')}` });
const searchBody = z.strictObject({
  provider: providerName.optional(),
  filters: z.strictObject(
    {
      countryCode: z.string({ message: `is required: one of ${COUNTRIES.join(', ')}` }).transform((c) => c.toUpperCase()),
      numberType: z
        .string({ message: 'must be a string' })
        .refine((v) => Object.hasOwn(NUMBER_TYPES, v), 'must be "local" or "toll-free"')
        .optional(),
      areaCode: digits('area-code').optional(),
      state: z.string({ message: 'must be a string' }).max(100, 'is too long').optional(),
      city: z.string({ message: 'must be a string' }).max(100, 'is too long').optional(),
      prefix: digits('toll-free prefix').optional(),
      limit: z.number({ message: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').optional(),
    },
    // Only for a missing or non-object `filters`: an unknown key inside it keeps zod's message, which names the key.
    { error: (iss) => (iss.code === 'invalid_type' ? 'is required and must be an object' : undefined) },
  ),
});
const purchaseBody = z.strictObject({
  phoneNumber: z.string({ message: 'is required and must be a string' }).min(1, 'must not be empty').max(64, 'is too long'),
  teamId: id.optional(),
  provider: providerName.optional(),
});
const importBody = purchaseBody;
const numberPatch = z.strictObject({ status: z.enum(['active', 'suspended'], { message: 'must be "active" or "suspended"' }) });
const numberQuery = z.object({
  teamId: id.optional(),
  status: z.enum(['purchasing', 'active', 'suspended', 'error', 'released'], { message: 'must be one of purchasing, active, suspended, error, released' }).optional(),
  assistantId: id.optional(),
});
const auditQuery = z.object({
  teamId: id.optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** A team token may leave teamId out (it means its own team); the admin must name one. */
function teamIdFor(p: Principal, teamId: string | undefined): string {
  if (teamId !== undefined) return teamId;
  if (p.kind === 'team') return p.teamId;
  throw new AppError('INVALID_REQUEST', 'teamId: is required with the admin token.');
}

const idempotencyKey = (req: Request): string | undefined => {
  const k = req.get('idempotency-key');
  if (k === undefined) return undefined;
  if (k.length === 0 || k.length > 255) throw new AppError('INVALID_REQUEST', 'Idempotency-Key: must be 1 to 255 characters.');
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
    if (p.kind === 'admin') return void res.json({ kind: 'admin', tokenId });
    const team = await s.teams.get(p, p.teamId);
    res.json({ kind: 'team', tokenId, team: teamJson(await s.teams.summary(team)) });
  });

  // ------------------------------------------------------------------ teams
  r.post('/teams', async (req, res) => {
    const input = parse(teamCreate, body(req.body));
    const { team, token } = await s.teams.create(principal(res), input);
    res.status(201).json({ team: teamJson(await s.teams.summary(team)), token });
  });
  r.get('/teams', async (_req, res) => {
    const teams = await s.teams.list(principal(res));
    res.json({ teams: (await Promise.all(teams.map((t) => s.teams.summary(t)))).map(teamJson) });
  });
  r.get('/teams/:teamId', async (req, res) => {
    res.json({ team: teamJson(await s.teams.summary(await s.teams.get(principal(res), req.params.teamId))) });
  });
  r.patch('/teams/:teamId', async (req, res) => {
    const { plan } = parse(teamPatch, body(req.body));
    res.json({ team: teamJson(await s.teams.summary(await s.teams.setPlan(principal(res), req.params.teamId, plan))) });
  });
  r.post('/teams/:teamId/tokens', async (req, res) => {
    const input = parse(tokenCreate, req.body === undefined ? {} : body(req.body));
    const { token, row } = await s.tokens.issue(principal(res), req.params.teamId, { name: input.name, expiresInS: input.expiresIn });
    res.status(201).json({ token, ...tokenJson(row) });
  });
  r.get('/teams/:teamId/tokens', async (req, res) => {
    const current = res.locals.tokenId as string | undefined;
    const tokens = await s.tokens.list(principal(res), req.params.teamId);
    res.json({ tokens: tokens.map((t) => ({ ...tokenJson(t), current: t.id === current })) });
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
    res.status(201).json({ assistant: assistantJson(await s.assistants.withNumbers(a)) });
  });
  r.get('/assistants', async (req, res) => {
    const { teamId } = parse(z.object({ teamId: id.optional() }), req.query, 'query');
    const list = await s.assistants.list(principal(res), teamId);
    res.json({ assistants: (await Promise.all(list.map((a) => s.assistants.withNumbers(a)))).map(assistantJson) });
  });
  r.get('/assistants/:assistantId', async (req, res) => {
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(await s.assistants.get(principal(res), req.params.assistantId))) });
  });
  r.patch('/assistants/:assistantId', async (req, res) => {
    const patch = parse(assistantPatch, body(req.body));
    const a = await s.assistants.update(principal(res), req.params.assistantId, patch);
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(a)) });
  });
  r.delete('/assistants/:assistantId', async (req, res) => {
    await s.assistants.delete(principal(res), req.params.assistantId);
    res.status(204).end();
  });
  r.patch('/assistants/:assistantId/telephony/phone-numbers', async (req, res) => {
    const p = principal(res);
    const input = parse(assignBody, body(req.body));
    await s.assignment.assign(p, req.params.assistantId, input.accountSlug, input.phoneNumberIds);
    res.json({ assistant: assistantJson(await s.assistants.withNumbers(await s.assistants.get(p, req.params.assistantId))) });
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
        ? (['prefix'] as const).filter((k) => f[k] !== undefined).map((k) => `filters.${k}: applies to toll-free numbers only (numberType "toll-free"); use areaCode, state or city for local numbers`)
        : (['areaCode', 'state', 'city'] as const).filter((k) => f[k] !== undefined).map((k) => `filters.${k}: applies to local numbers only; use prefix (e.g. "800") for toll-free numbers`);
    if (misplaced.length) throw new AppError('INVALID_REQUEST', misplaced.join('; '));
    const provider = s.purchases.offered(input.provider);
    // And what this provider cannot filter on is refused the same way.
    const caps = provider.capabilities();
    if (!caps.countries.includes(f.countryCode)) {
      throw new AppError('UNSUPPORTED_COUNTRY', `filters.countryCode: the ${provider.name} provider does not sell numbers in ${f.countryCode}; it sells ${caps.countries.join(', ')}.`);
    }
    const given = { areaCode: f.areaCode, state: f.state, city: f.city, prefix: f.prefix };
    const unsupported = (Object.entries(given) as Array<[SearchFilterName, string | undefined]>)
      .filter(([k, v]) => v !== undefined && !caps.filters[numberType].includes(k))
      .map(([k]) => `filters.${k}: the ${provider.name} provider cannot filter ${numberType} numbers by it; use ${caps.filters[numberType].join(', ') || 'no filter'}`);
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
    res.json({ numbers: numbers.map((n) => availableNumberJson(n, provider.name)) });
  });
  // These two paths would otherwise fall through to /phone-numbers/:id.
  r.all('/phone-numbers/search', onlyMethods('POST'));
  r.post('/phone-numbers/purchase', async (req, res) => {
    const p = principal(res);
    const input = parse(purchaseBody, body(req.body));
    const result = await s.purchases.purchase(p, { phoneNumber: input.phoneNumber, teamId: teamIdFor(p, input.teamId), provider: input.provider }, idempotencyKey(req));
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(201).json({ phoneNumber: phoneNumberJson(result.number) });
  });
  r.post('/phone-numbers/import', async (req, res) => {
    const p = principal(res);
    const input = parse(importBody, body(req.body));
    const n = await s.purchases.importNumber(p, { phoneNumber: input.phoneNumber, teamId: teamIdFor(p, input.teamId), provider: input.provider });
    res.status(201).json({ phoneNumber: phoneNumberJson(n) });
  });
  r.all('/phone-numbers/import', onlyMethods('POST'));

  // -------------------------------------------------------------- providers
  r.get('/providers', (_req, res) => {
    res.json({
      providers: s.providers.offered.map((name) => {
        const caps = s.providers.get(name)!.capabilities();
        return { name, default: name === s.providers.defaultName, countries: caps.countries, numberTypes: caps.numberTypes, filters: caps.filters, pricing: caps.pricing };
      }),
    });
  });
  r.get('/providers/drift', async (_req, res) => {
    requireAdminHere(principal(res), 'see provider drift');
    res.json({ drift: (await s.reconciler.list()).map(driftJson) });
  });
  const listNumbers = async (req: Request, res: Response) => {
    const q = parse(numberQuery, req.query, 'query');
    res.json({ phoneNumbers: (await s.numbers.list(principal(res), q)).map(phoneNumberJson) });
  };
  r.get('/phone-numbers/purchase', listNumbers);
  r.get('/phone-numbers', listNumbers);
  r.all('/phone-numbers/purchase', onlyMethods('GET', 'POST'));
  r.get('/phone-numbers/:id', async (req, res) => {
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.get(principal(res), req.params.id)) });
  });
  r.patch('/phone-numbers/:id', async (req, res) => {
    const { status } = parse(numberPatch, body(req.body));
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.setStatus(principal(res), req.params.id, status)) });
  });
  r.delete('/phone-numbers/:id', async (req, res) => {
    res.json({ phoneNumber: phoneNumberJson(await s.numbers.release(principal(res), req.params.id)) });
  });

  // ------------------------------------------------------------------ audit
  r.get('/audit-events', async (req, res) => {
    const p = principal(res);
    const q = parse(auditQuery, req.query, 'query');
    const events = await s.audit.list(p, { teamId: q.teamId, before: q.cursor ? decodeCursor(q.cursor) : undefined, limit: q.limit });
    const last = events.length === q.limit ? events[events.length - 1] : undefined;
    res.json({ events: events.map(auditEventJson), nextCursor: last ? encodeCursor(last) : null });
  });

  return r;
}
