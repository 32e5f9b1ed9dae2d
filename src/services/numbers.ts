/**
 * The phone-number lifecycle: search, purchase, release, suspend/reactivate,
 * and assignment to assistants. Every write that changes how a number routes
 * goes through RoutingTable.mutate, so it takes effect before the API answers.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NumberProvider, SearchFilters } from '../carriers/provider.js';
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { isSupportedCountry, parsePhone } from '../domain/phone.js';
import { PLANS, TRIAL_MS, planLimitMessage } from '../domain/plans.js';
import type { AvailableNumber, NumberStatus, PhoneNumber, Principal } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import type { AuditAction, AuditStore } from '../store/audit.js';
import type { IdempotencyStore } from '../store/idempotency.js';
import type { NumberStore } from '../store/numbers.js';
import type { TeamStore } from '../store/teams.js';
import { phoneNumberJson } from '../views.js';
import { actorOf, assertTeamAccess, listScope, requireAdmin } from './access.js';
import type { AssistantService } from './assistants.js';
import type { TeamService } from './teams.js';

/** What the number lifecycle reports as it happens (metrics listen here). */
export interface NumberEvents {
  purchase(outcome: 'created' | 'replayed' | 'plan_limit' | 'unavailable' | 'rejected'): void;
  provisioned(result: 'active' | 'error', ms: number): void;
  trialExpired(): void;
}

const NO_EVENTS: NumberEvents = { purchase() {}, provisioned() {}, trialExpired() {} };

export interface PurchaseResult {
  status: number;
  /** The response body, exactly as first sent (an idempotent replay returns it again). */
  body: unknown;
  replayed: boolean;
}

const isUniqueViolation = (err: unknown): boolean =>
  err instanceof Error && 'code' in err && (err as { code: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

/** What to do about a number that cannot be assigned, by its status. */
const STATUS_HINT: Partial<Record<NumberStatus, string>> = {
  purchasing: ' (the carrier is still provisioning it: wait until GET /api/phone-numbers/<id> says active, usually a few seconds)',
  error: ' (its purchase failed: buy another number)',
  released: ' (it was released: buy it or another number again)',
  suspended: ' (the operator suspended it: contact the operator)',
};

const suspendedError = (n: PhoneNumber) =>
  new AppError(
    'NUMBER_SUSPENDED',
    `${n.e164} (${n.id}) was suspended by the operator: the team cannot release it or buy it again. Contact the operator to have it reactivated or released.`,
  );

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

export class NumberService {
  events: NumberEvents = NO_EVENTS;

  constructor(
    private readonly numbers: NumberStore,
    private readonly teamStore: TeamStore,
    private readonly teams: TeamService,
    private readonly assistants: AssistantService,
    private readonly idempotency: IdempotencyStore,
    private readonly audit: AuditStore,
    private readonly routing: RoutingTable,
    private readonly provider: NumberProvider,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** An order unconfirmed this long after purchase fails (api.md: 60 s). */
    private readonly provisionTimeoutMs = 60_000,
  ) {}

  search(filters: SearchFilters): Promise<AvailableNumber[]> {
    return this.provider.search(filters);
  }

  // ---------------------------------------------------------------- purchase

  async purchase(p: Principal, input: { phoneNumber: string; teamId: string }, idempotencyKey?: string): Promise<PurchaseResult> {
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

  private async purchaseOnce(p: Principal, input: { phoneNumber: string; teamId: string }, idempotencyKey?: string): Promise<PurchaseResult> {
    const scope = actorOf(p);
    const requestHash = createHash('sha256').update(canonical(input)).digest('hex');
    const replay = idempotencyKey ? this.replay(scope, idempotencyKey, requestHash) : null;
    if (replay) return replay;

    const team = this.teams.get(p, input.teamId);
    const parsed = parsePhone(input.phoneNumber);
    if (!parsed || !parsed.valid) {
      throw new AppError('INVALID_PHONE_NUMBER', `phoneNumber: "${input.phoneNumber}" is not a valid phone number; write it in E.164, e.g. +14155550100 (search for one first: POST /api/phone-numbers/search).`);
    }
    if (!isSupportedCountry(parsed.country)) {
      throw new AppError('UNSUPPORTED_COUNTRY', `phoneNumber: numbers from ${parsed.country ?? 'that country'} are not supported (AE, US, CA, DE, AT, CH).`);
    }
    const e164 = parsed.e164;
    // An admin's suspension sticks: the team may not launder it by buying
    // the number it still holds (suspended numbers stay held) once more.
    const held = this.numbers.heldByE164(e164);
    if (held && held.status === 'suspended' && held.teamId === team.id) throw suspendedError(held);
    const quote = await this.provider.quote(e164);
    if (!quote) {
      // A concurrent request with the same key may have bought it while we
      // were asking the carrier: that is a replay, not someone else's number.
      const again = idempotencyKey ? this.replay(scope, idempotencyKey, requestHash) : null;
      if (again) return again;
      throw new AppError('NUMBER_UNAVAILABLE', `${e164} is not available: it is not in the carrier's inventory or someone holds it.`);
    }

    const now = this.clock.now();
    const created = this.routing.mutate((touch): PurchaseResult => {
      // Inside the write lock: a concurrent request with the same key may have
      // committed while we were asking the carrier.
      const again = idempotencyKey ? this.replay(scope, idempotencyKey, requestHash) : null;
      if (again) return again;
      // The count and the insert are one atomic step: a team racing its plan
      // limit with parallel purchases gets exactly its limit.
      const plan = PLANS[this.teamStore.get(team.id)!.plan];
      if (plan.numberLimit !== null) {
        // Counting walks the team's held numbers: only when there is a limit.
        const held = this.teamStore.countHeld(team.id);
        if (held >= plan.numberLimit) throw new AppError('PLAN_LIMIT_REACHED', planLimitMessage(plan, held));
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
      try {
        this.numbers.insert(n);
      } catch (err) {
        // The partial unique index on held numbers: someone else won the race.
        if (isUniqueViolation(err)) throw new AppError('NUMBER_UNAVAILABLE', `${e164} is held by someone else.`);
        throw err;
      }
      touch(e164);
      this.recordAudit(p, 'number.purchase', n, { trial: n.trial });
      const result: PurchaseResult = { status: 201, body: { phoneNumber: phoneNumberJson(n) }, replayed: false };
      if (idempotencyKey) {
        this.idempotency.insert(scope, idempotencyKey, { requestHash, status: 201, body: JSON.stringify(result.body) }, now);
      }
      return result;
    });
    if (created.replayed) return created;
    const number = (created.body as { phoneNumber: { id: string } }).phoneNumber;
    await this.order(number.id, quote);
    return created;
  }

  private replay(scope: string, key: string, requestHash: string): PurchaseResult | null {
    const stored = this.idempotency.get(scope, key);
    if (!stored) return null;
    if (stored.requestHash !== requestHash) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was used with a different request body.');
    }
    return { status: stored.status, body: JSON.parse(stored.body), replayed: true };
  }

  /** Places the carrier order for a number we now hold as `purchasing`. */
  private async order(numberId: string, quote: AvailableNumber): Promise<void> {
    try {
      const { orderId } = await this.provider.placeOrder(quote);
      // The order's result may already have been applied (a fast carrier);
      // only fill in the order id where it is still missing.
      const n = this.numbers.get(numberId);
      if (n && n.orderId === null) this.numbers.update(numberId, { orderId });
      if (n && n.status !== 'purchasing' && n.status !== 'active') await this.provider.release(quote.e164, orderId);
    } catch (err) {
      this.log.warn({ err, numberId }, 'carrier refused the order');
      this.fail(numberId, 'order_failed', null);
    }
  }

  // ------------------------------------------------------------ provisioning

  /** A carrier's order result (its webhook, or the simulator's timer). */
  async applyOrderUpdate(u: { orderId: string; e164: string; status: 'active' | 'failed'; reason?: string }): Promise<void> {
    const now = this.clock.now();
    const applied = this.routing.mutate((touch) => {
      const n = this.numbers.heldByE164(u.e164);
      if (!n || n.status !== 'purchasing' || (n.orderId !== null && n.orderId !== u.orderId)) return null;
      if (u.status === 'active') {
        this.numbers.transition(n.id, ['purchasing'], { status: 'active', orderId: u.orderId, activatedAt: now, updatedAt: now });
        this.recordAuditSystem('number.activate', n, null);
      } else {
        this.numbers.transition(n.id, ['purchasing'], {
          status: 'error',
          orderId: u.orderId,
          failureReason: u.reason ?? 'order_failed',
          updatedAt: now,
        });
        this.recordAuditSystem('number.fail', n, { reason: u.reason ?? 'order_failed' });
      }
      touch(n.e164);
      return n;
    });
    if (!applied && u.status === 'active') {
      // We no longer want this number (timed out, or a stale order): give it back.
      this.log.info({ orderId: u.orderId }, 'carrier confirmed an order nobody waits for; releasing it');
      await this.provider.release(u.e164, u.orderId);
    } else if (applied) {
      const result = u.status === 'active' ? 'active' : 'error';
      this.events.provisioned(result, now - applied.createdAt);
      this.log.info({ numberId: applied.id, status: result, provisionMs: now - applied.createdAt }, 'number provisioned');
    }
  }

  /** Marks a purchasing number as failed and gives it back to the carrier. */
  private fail(numberId: string, reason: string, orderId: string | null): void {
    const now = this.clock.now();
    const n = this.routing.mutate((touch) => {
      const n = this.numbers.get(numberId);
      if (!n || !this.numbers.transition(n.id, ['purchasing'], { status: 'error', failureReason: reason, updatedAt: now })) return null;
      touch(n.e164);
      this.recordAuditSystem('number.fail', n, { reason });
      return n;
    });
    if (n) {
      this.events.provisioned('error', now - n.createdAt);
      this.log.warn({ numberId, reason }, 'number purchase failed');
      void this.provider.release(n.e164, orderId ?? n.orderId).catch((err) => this.log.warn({ err }, 'release after failure'));
    }
  }

  /**
   * On start: every number left `purchasing` is resumed (its order is still
   * pending at the carrier) or settled now. None is left waiting forever.
   */
  async recover(): Promise<{ resumed: number; settled: number }> {
    let resumed = 0;
    let settled = 0;
    const deadline = this.clock.now() - this.provisionTimeoutMs;
    for (const n of this.numbers.purchasing()) {
      if (!n.orderId) {
        // We crashed between holding the number and placing the order.
        this.fail(n.id, 'order_not_placed', null);
        settled++;
        continue;
      }
      if (n.createdAt < deadline) {
        // Past the deadline while we were down: the purchase failed, whatever
        // the carrier did meanwhile (api.md: unconfirmed within 60 s = error).
        this.fail(n.id, 'provisioning_timeout', n.orderId);
        settled++;
        continue;
      }
      const status = await this.provider.getOrder(n.orderId);
      if (status === 'active' || status === 'failed') {
        await this.applyOrderUpdate({ orderId: n.orderId, e164: n.e164, status, reason: 'carrier_rejected' });
        settled++;
      } else if (status === 'unknown') {
        this.fail(n.id, 'order_lost', n.orderId);
        settled++;
      } else {
        resumed++;
      }
    }
    return { resumed, settled };
  }

  /**
   * One sweep: releases expired trial numbers (including expiries missed while
   * the process was down) and fails purchases unconfirmed past the deadline.
   */
  async sweep(): Promise<{ expired: number; timedOut: number }> {
    const now = this.clock.now();
    let expired = 0;
    for (const n of this.numbers.expiredTrials(now)) {
      const done = this.routing.mutate((touch) => {
        if (!this.numbers.transition(n.id, ['active', 'suspended'], { status: 'released', assistantId: null, releasedAt: now, updatedAt: now })) return false;
        touch(n.e164);
        this.recordAuditSystem('number.expire', n, { expiresAt: new Date(n.expiresAt!).toISOString() });
        return true;
      });
      if (done) {
        expired++;
        this.events.trialExpired();
        await this.provider.release(n.e164, n.orderId).catch((err) => this.log.warn({ err }, 'release after expiry'));
      }
    }
    let timedOut = 0;
    for (const n of this.numbers.stalePurchasing(now - this.provisionTimeoutMs)) {
      this.fail(n.id, 'provisioning_timeout', n.orderId);
      timedOut++;
    }
    if (expired || timedOut) this.log.info({ expired, timedOut }, 'sweep');
    return { expired, timedOut };
  }

  // -------------------------------------------------------- read and change

  get(p: Principal, id: string): PhoneNumber {
    const n = this.numbers.get(id);
    if (!n) throw notFound('Phone number');
    assertTeamAccess(p, n.teamId, 'Phone number');
    return n;
  }

  list(p: Principal, f: { teamId?: string | undefined; status?: NumberStatus | undefined; assistantId?: string | undefined }): PhoneNumber[] {
    const teamId = listScope(p, f.teamId);
    if (teamId) this.teams.get(p, teamId);
    // No lookup of the assistant: another team's id and an unknown one both
    // give an empty list (no existence oracle).
    return this.numbers.list({ teamId, status: f.status, assistantId: f.assistantId });
  }

  /** Releases a number: unassigned, back to the pool. Calls in progress continue. */
  async release(p: Principal, id: string): Promise<PhoneNumber> {
    const now = this.clock.now();
    const { number, changed } = this.routing.mutate((touch) => {
      const n = this.get(p, id);
      if (n.status === 'released') return { number: n, changed: false };
      // Suspended is an operator's decision: only the operator may release it
      // (else the team could release and buy it back, active again).
      if (n.status === 'suspended' && p.kind !== 'admin') throw suspendedError(n);
      if (n.status !== 'active' && n.status !== 'suspended') {
        throw new AppError('INVALID_STATUS_TRANSITION', `A ${n.status} number cannot be released; only active or suspended ones.`);
      }
      this.numbers.transition(n.id, ['active', 'suspended'], { status: 'released', assistantId: null, releasedAt: now, updatedAt: now });
      touch(n.e164);
      this.recordAudit(p, 'number.release', n, n.assistantId ? { assistantId: n.assistantId } : null);
      return { number: this.numbers.get(n.id)!, changed: true };
    });
    if (changed) await this.provider.release(number.e164, number.orderId).catch((err) => this.log.warn({ err }, 'release at carrier'));
    return number;
  }

  /** Admin: active ↔ suspended. A suspended number keeps its assistant but rejects calls. */
  setStatus(p: Principal, id: string, status: 'active' | 'suspended'): PhoneNumber {
    requireAdmin(p, 'suspend or reactivate numbers');
    const now = this.clock.now();
    return this.routing.mutate((touch) => {
      const n = this.get(p, id);
      if (n.status === status) return n;
      const from: NumberStatus = status === 'suspended' ? 'active' : 'suspended';
      if (n.status !== from) {
        throw new AppError('INVALID_STATUS_TRANSITION', `A ${n.status} number cannot become ${status}; only ${from} ones can.`);
      }
      this.numbers.transition(n.id, [from], { status, updatedAt: now });
      touch(n.e164);
      this.recordAudit(p, status === 'suspended' ? 'number.suspend' : 'number.reactivate', n, null);
      return this.numbers.get(n.id)!;
    });
  }

  /**
   * Sets the complete list of numbers on an assistant, atomically. Numbers on
   * another assistant move; numbers no longer listed become unassigned.
   */
  assign(p: Principal, assistantId: string, accountSlug: string, phoneNumberIds: string[]): void {
    const now = this.clock.now();
    const wanted = [...new Set(phoneNumberIds)];
    this.routing.mutate((touch) => {
      const team = this.teams.bySlug(p, accountSlug);
      const assistant = this.assistants.get(p, assistantId);
      if (assistant.teamId !== team.id) throw notFound('Assistant');
      const found = new Map(this.numbers.getMany(wanted).map((n) => [n.id, n]));
      const missing = wanted.filter((id) => found.get(id)?.teamId !== team.id);
      if (missing.length) {
        throw new AppError('NOT_FOUND', `Phone number${missing.length > 1 ? 's' : ''} not found in team ${accountSlug}: ${missing.join(', ')}.`, { phoneNumberIds: missing });
      }
      const inactive = wanted.map((id) => found.get(id)!).filter((n) => n.status !== 'active');
      if (inactive.length) {
        throw new AppError(
          'NUMBER_NOT_ACTIVE',
          `Only active numbers can be assigned: ${inactive.map((n) => `${n.id} (${n.e164}) is ${n.status}${STATUS_HINT[n.status] ?? ''}`).join('; ')}.`,
          { phoneNumberIds: inactive.map((n) => n.id) },
        );
      }
      const keep = new Set(wanted);
      for (const n of this.numbers.onAssistant(assistant.id)) {
        if (keep.has(n.id)) continue;
        this.numbers.update(n.id, { assistantId: null, updatedAt: now });
        touch(n.e164);
        this.recordAudit(p, 'number.unassign', n, { assistantId: assistant.id });
      }
      for (const id of wanted) {
        const n = found.get(id)!;
        if (n.assistantId === assistant.id) continue;
        this.numbers.update(n.id, { assistantId: assistant.id, updatedAt: now });
        touch(n.e164);
        if (n.assistantId) this.recordAudit(p, 'number.reassign', { ...n, assistantId: assistant.id }, { fromAssistantId: n.assistantId });
        else this.recordAudit(p, 'number.assign', { ...n, assistantId: assistant.id }, null);
      }
    });
  }

  private recordAudit(p: Principal, action: AuditAction, n: PhoneNumber, details: Record<string, unknown> | null): void {
    this.writeAudit(actorOf(p), action, n, details);
  }

  /** Changes nobody asked for in that request: provisioning results, expiries. */
  private recordAuditSystem(action: AuditAction, n: PhoneNumber, details: Record<string, unknown> | null): void {
    this.writeAudit('system', action, n, details);
  }

  private writeAudit(actor: string, action: AuditAction, n: PhoneNumber, details: Record<string, unknown> | null): void {
    this.audit.record({
      teamId: n.teamId,
      actor,
      action,
      phoneNumberId: n.id,
      e164: n.e164,
      assistantId: n.assistantId,
      details,
      createdAt: this.clock.now(),
    });
  }
}
