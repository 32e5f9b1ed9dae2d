/**
 * Buying a number: the plan limit, the race between buyers, Idempotency-Key,
 * the trial on the free plan, then the carrier order (provisioning.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { NumberProvider, ProviderSet } from '../../providers/provider.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { isSupportedCountry, parsePhone } from '../../domain/phone.js';
import { PLANS, TRIAL_MS, planLimitMessage } from '../../domain/plans.js';
import type { PhoneNumber, Principal } from '../../domain/types.js';
import type { RoutingTable } from '../../routing/routing-table.js';
import { actorOf } from '../access.js';
import { UniqueViolation, type Repos, type Store } from '../ports.js';
import { asAppError } from './provider-errors.js';
import type { TeamService } from '../teams.js';
import { auditNumber } from './audit-writer.js';
import { NO_EVENTS, type NumberEvents } from './events.js';
import { suspendedError } from './lifecycle.js';
import type { ProvisioningService } from './provisioning.js';

export interface PurchaseResult {
  /** The number as it was when first bought (a replay returns that same snapshot, as Stripe does). */
  number: PhoneNumber;
  replayed: boolean;
}

/** Canonical JSON (sorted keys), so the same body hashes the same whatever its key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export class PurchaseService {
  events: NumberEvents = NO_EVENTS;

  constructor(
    private readonly store: Store,
    private readonly teams: TeamService,
    private readonly routing: RoutingTable,
    private readonly providers: ProviderSet,
    private readonly provisioning: ProvisioningService,
    private readonly clock: Clock,
  ) {}

  /** The provider for a new purchase, search or import: the one named (offered), or the default. */
  offered(name: string | undefined): NumberProvider {
    const wanted = name ?? this.providers.defaultName;
    const provider = (this.providers.offered as readonly string[]).includes(wanted) ? this.providers.get(wanted) : undefined;
    if (!provider) {
      throw new AppError(
        'PROVIDER_NOT_AVAILABLE',
        `provider: "${wanted}" is not offered by this gateway; use one of ${this.providers.offered.join(', ')} (GET /api/providers).`,
      );
    }
    return provider;
  }

  async purchase(
    p: Principal,
    input: { phoneNumber: string; teamId: string; provider?: string | undefined },
    idempotencyKey?: string,
  ): Promise<PurchaseResult> {
    try {
      const r = await this.purchaseOnce(p, input, idempotencyKey);
      this.events.purchase(r.replayed ? 'replayed' : 'created');
      return r;
    } catch (err) {
      const code = err instanceof AppError ? err.code : '';
      this.events.purchase(code === 'PLAN_LIMIT_REACHED' ? 'plan_limit' : code === 'NUMBER_UNAVAILABLE' ? 'unavailable' : 'rejected');
      throw err;
    }
  }

  private async purchaseOnce(
    p: Principal,
    input: { phoneNumber: string; teamId: string; provider?: string | undefined },
    idempotencyKey?: string,
  ): Promise<PurchaseResult> {
    const scope = actorOf(p);
    const provider = this.offered(input.provider);
    const requestHash = createHash('sha256').update(canonical(input)).digest('hex');
    const replay = (tx: Repos) => (idempotencyKey ? this.replay(tx, scope, idempotencyKey, requestHash) : Promise.resolve(null));
    const first = await replay(this.store);
    if (first) return first;

    const team = await this.teams.get(p, input.teamId);
    const parsed = parsePhone(input.phoneNumber);
    if (!parsed || !parsed.valid) {
      throw new AppError(
        'INVALID_PHONE_NUMBER',
        `phoneNumber: "${input.phoneNumber}" is not a valid phone number; write it in E.164, e.g. +14155550100 (search for one first: POST /api/phone-numbers/search).`,
      );
    }
    if (!isSupportedCountry(parsed.country)) {
      throw new AppError('UNSUPPORTED_COUNTRY', `phoneNumber: numbers from ${parsed.country ?? 'that country'} are not supported (AE, US, CA, DE, AT, CH).`);
    }
    const e164 = parsed.e164;
    // An admin's suspension sticks: the team may not launder it by buying
    // the number it still holds (suspended numbers stay held) once more.
    const held = await this.store.numbers.heldByE164(e164);
    if (held && held.status === 'suspended' && held.teamId === team.id) throw suspendedError(held);
    let quote;
    try {
      quote = await provider.quote(e164);
    } catch (err) {
      throw asAppError(err);
    }
    if (!quote) {
      // A concurrent request with the same key may have bought it while we
      // were asking the carrier: that is a replay, not someone else's number.
      const again = await replay(this.store);
      if (again) return again;
      throw new AppError('NUMBER_UNAVAILABLE', `${e164} is not available: it is not in the carrier's inventory or someone holds it. Search again for another.`);
    }

    const now = this.clock.now();
    let created: PurchaseResult;
    try {
      created = await this.routing.mutate(async (tx, touch): Promise<PurchaseResult> => {
        // Serialised with every routing write: a concurrent request with the
        // same key may have committed while we were asking the carrier.
        const again = await replay(tx);
        if (again) return again;
        // The count and the insert are one atomic step: a team racing its plan
        // limit with parallel purchases gets exactly its limit.
        const current = await tx.teams.get(team.id);
        const plan = PLANS[current!.plan];
        if (plan.numberLimit !== null) {
          // Counting walks the team's held numbers: only when there is a limit.
          const count = await tx.teams.countHeld(team.id);
          if (count >= plan.numberLimit) throw new AppError('PLAN_LIMIT_REACHED', planLimitMessage(plan, count));
        }
        const n: PhoneNumber = {
          id: randomUUID(),
          e164,
          teamId: team.id,
          countryCode: quote.countryCode,
          numberType: quote.numberType,
          areaCode: quote.areaCode,
          city: quote.city,
          region: quote.region,
          monthlyCost: quote.monthlyCost,
          currency: quote.currency,
          status: 'purchasing',
          assistantId: null,
          provider: provider.name,
          providerNumberId: null,
          imported: false,
          trial: plan.trial,
          expiresAt: plan.trial ? now + TRIAL_MS : null,
          orderId: null,
          failureReason: null,
          lastUsedAt: null,
          createdAt: now,
          activatedAt: null,
          releasedAt: null,
          updatedAt: now,
        };
        await tx.routingWrites.insertNumber(n);
        touch(e164);
        await auditNumber(tx, p, 'number.purchase', n, { trial: n.trial }, now);
        if (idempotencyKey) await tx.idempotency.insert(scope, idempotencyKey, { requestHash, status: 201, body: JSON.stringify(n) }, now);
        return { number: n, replayed: false };
      });
    } catch (err) {
      // The partial unique index on held numbers: someone else won the race.
      if (err instanceof UniqueViolation) throw new AppError('NUMBER_UNAVAILABLE', `${e164} is held by someone else. Search again for another.`);
      throw err;
    }
    if (!created.replayed) {
      try {
        // A refusal fails the number (it is not held any more), forgets the
        // stored answer (a retry with the key must run again), and answers
        // with the provider's reason instead of a 201.
        await this.provisioning.order(created.number, async () => {
          if (idempotencyKey) await this.store.idempotency.delete(scope, idempotencyKey);
        });
      } catch (err) {
        throw asAppError(err);
      }
    }
    return created;
  }

  /**
   * Bring your own number: one the operator's provider account owns already.
   * Verified at the provider, its calls pointed at this gateway, active at
   * once, counted against the plan. Never a trial (it is not from the pool),
   * and released, it is detached, not given back (it stays the operator's).
   */
  async importNumber(p: Principal, input: { phoneNumber: string; teamId: string; provider?: string | undefined }): Promise<PhoneNumber> {
    const provider = this.offered(input.provider);
    const team = await this.teams.get(p, input.teamId);
    const parsed = parsePhone(input.phoneNumber);
    if (!parsed || !parsed.valid) {
      throw new AppError('INVALID_PHONE_NUMBER', `phoneNumber: "${input.phoneNumber}" is not a valid phone number; write it in E.164, e.g. +14155550100.`);
    }
    if (!isSupportedCountry(parsed.country)) {
      throw new AppError('UNSUPPORTED_COUNTRY', `phoneNumber: numbers from ${parsed.country ?? 'that country'} are not supported (AE, US, CA, DE, AT, CH).`);
    }
    const e164 = parsed.e164;
    if (await this.store.numbers.heldByE164(e164)) throw new AppError('NUMBER_UNAVAILABLE', `${e164} is already on Switchboard (held by a team).`);
    let found;
    try {
      found = await provider.importNumber(e164);
    } catch (err) {
      throw asAppError(err);
    }
    const now = this.clock.now();
    try {
      return await this.routing.mutate(async (tx, touch) => {
        const current = await tx.teams.get(team.id);
        const plan = PLANS[current!.plan];
        if (plan.numberLimit !== null) {
          const count = await tx.teams.countHeld(team.id);
          if (count >= plan.numberLimit) throw new AppError('PLAN_LIMIT_REACHED', planLimitMessage(plan, count));
        }
        const n: PhoneNumber = {
          id: randomUUID(),
          e164,
          teamId: team.id,
          countryCode: found.number.countryCode,
          numberType: found.number.numberType,
          areaCode: found.number.areaCode,
          city: found.number.city,
          region: found.number.region,
          monthlyCost: found.number.monthlyCost,
          currency: found.number.currency,
          status: 'active',
          assistantId: null,
          provider: provider.name,
          providerNumberId: found.providerNumberId,
          imported: true,
          trial: false,
          expiresAt: null,
          orderId: null,
          failureReason: null,
          lastUsedAt: null,
          createdAt: now,
          activatedAt: now,
          releasedAt: null,
          updatedAt: now,
        };
        await tx.routingWrites.insertNumber(n);
        touch(e164);
        await auditNumber(tx, p, 'number.import', n, { provider: provider.name, providerNumberId: found.providerNumberId }, now);
        return n;
      });
    } catch (err) {
      if (err instanceof UniqueViolation) throw new AppError('NUMBER_UNAVAILABLE', `${e164} is already on Switchboard (held by a team).`);
      throw err;
    }
  }

  private async replay(tx: Repos, scope: string, key: string, requestHash: string): Promise<PurchaseResult | null> {
    const stored = await tx.idempotency.get(scope, key);
    if (!stored) return null;
    if (stored.requestHash !== requestHash) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was used with a different request body; use a new key for a new purchase.');
    }
    return { number: JSON.parse(stored.body) as PhoneNumber, replayed: true };
  }
}
