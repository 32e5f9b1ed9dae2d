/**
 * The storage ports: what the services need from a database, in domain types
 * and domain errors only. No driver type, no SQL, no SQLite or PostgreSQL
 * error code crosses this line; src/store/sqlite and src/store/pg implement it.
 *
 * Three capabilities, handed out by the wiring (gateway.ts):
 *
 * - `Store`: reads, writes that do not change routing, and `transaction()`
 *   for several of those at once. Every service gets it.
 * - `RoutingStore`: the only way to write what routes a call (a number's
 *   status, its assistant, an assistant's media URL, trial expiry). Its
 *   transaction hands out `RoutingRepos`, and only the RoutingTable holds a
 *   RoutingStore: a service can change routing only through
 *   `routing.mutate(async (tx, touch) => ...)`, so skipping the cache
 *   invalidation is a type error, not a convention.
 * - `RoutingFeed`: how this process learns that another one changed routing.
 */
import type { AvailableNumber, Assistant, Call, CallStatus, NumberStatus, PhoneNumber, Team } from '../domain/types.js';
import type { PlanName } from '../domain/plans.js';
import type { RoutingEntry } from '../domain/routing.js';

// ---------------------------------------------------------------- errors

/** A unique constraint refused a write (a slug taken, a number held, a key used). */
export class UniqueViolation extends Error {
  constructor(readonly constraint: string) {
    super(`unique constraint ${constraint} violated`);
    this.name = 'UniqueViolation';
  }
}

/** The database cannot be reached or stopped answering: the request cannot be served now. */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}

// ---------------------------------------------------------------- rows

export interface TokenRow {
  id: string;
  teamId: string | null;
  name: string | null;
  prefix: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** Every audit action (docs/api-notes.md lists them; the API's schema enumerates them). */
export const AUDIT_ACTIONS = [
  'number.purchase',
  'number.activate',
  'number.fail',
  'number.assign',
  'number.unassign',
  'number.reassign',
  'number.release',
  'number.suspend',
  'number.reactivate',
  'number.expire',
  'team.plan_change',
  'token.create',
  'token.revoke',
  'number.import',
  'number.drift',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  id: string;
  teamId: string;
  actor: string;
  action: AuditAction;
  phoneNumberId: string | null;
  e164: string | null;
  assistantId: string | null;
  details: Record<string, unknown> | null;
  createdAt: number;
}

/** Keyset position for newest-first listings. */
export interface Before {
  createdAt: number;
  id: string;
}

export interface CallListFilter {
  teamId?: string | undefined;
  assistantId?: string | undefined;
  phoneNumberId?: string | undefined;
  status?: CallStatus | undefined;
  before?: Before | undefined;
  limit: number;
}

export interface NumberListFilter {
  teamId?: string | undefined;
  status?: NumberStatus | undefined;
  assistantId?: string | undefined;
}

export interface StoredResponse {
  requestHash: string;
  status: number;
  body: string;
}

/** Fields of a number that may change without changing how it routes. */
export type NumberQuietPatch = Partial<Pick<PhoneNumber, 'orderId' | 'lastUsedAt' | 'updatedAt' | 'failureReason' | 'providerNumberId'>>;

// ---------------------------------------------------------------- repositories

export interface TeamRepo {
  insert(team: Team): Promise<void>;
  get(id: string): Promise<Team | undefined>;
  getBySlug(slug: string): Promise<Team | undefined>;
  list(): Promise<Team[]>;
  /** Numbers that count against the plan: purchasing, active, suspended. */
  countHeld(teamId: string): Promise<number>;
  /**
   * Serialises this transaction with others on the same team (a check and
   * the write that depends on it, e.g. the token limit). A no-op where the
   * transaction is already exclusive.
   */
  lock(teamId: string): Promise<void>;
}

export interface TokenRepo {
  insert(row: TokenRow & { tokenHash: string }): Promise<void>;
  findByHash(tokenHash: string): Promise<TokenRow | undefined>;
  listActive(teamId: string, now: number): Promise<TokenRow[]>;
  countActive(teamId: string, now: number): Promise<number>;
  get(teamId: string, id: string): Promise<TokenRow | undefined>;
  /** False when it was revoked already. */
  revoke(id: string, now: number): Promise<boolean>;
  touch(id: string, now: number): Promise<void>;
  /**
   * Makes the admin token with this hash the only one in force: every other
   * is revoked (kept, so its holder is told it was replaced), and this one,
   * if it was revoked by an earlier rotation, is in force again. How many
   * were revoked now.
   */
  revokeAdminExcept(tokenHash: string, now: number): Promise<number>;
  /** Whether an admin token is in force. */
  hasAdmin(): Promise<boolean>;
}

export interface AssistantRepo {
  insert(a: Assistant): Promise<void>;
  get(id: string): Promise<Assistant | undefined>;
  list(teamId: string | undefined): Promise<Assistant[]>;
  rename(id: string, name: string, now: number): Promise<void>;
}

export interface NumberRepo {
  get(id: string): Promise<PhoneNumber | undefined>;
  getMany(ids: string[]): Promise<PhoneNumber[]>;
  /** The row that holds this number now (purchasing, active or suspended), if any. */
  heldByE164(e164: string): Promise<PhoneNumber | undefined>;
  list(f: NumberListFilter): Promise<PhoneNumber[]>;
  /** Ids of the numbers on an assistant, oldest first. */
  idsOnAssistant(assistantId: string): Promise<string[]>;
  onAssistant(assistantId: string): Promise<PhoneNumber[]>;
  purchasing(): Promise<PhoneNumber[]>;
  stalePurchasing(createdBefore: number): Promise<PhoneNumber[]>;
  /** Active trial numbers whose expiry has passed (suspended ones wait for the operator). */
  expiredTrials(now: number): Promise<PhoneNumber[]>;
  callerIdCandidates(assistantId: string, now: number): Promise<PhoneNumber[]>;
  /** Changes fields that do not affect routing. */
  patchQuiet(id: string, patch: NumberQuietPatch): Promise<void>;
  /** The held numbers of one provider (reconciliation). */
  heldByProvider(provider: string): Promise<PhoneNumber[]>;
}

export interface CallRepo {
  /** Inserts in one transaction; per call, false when its carrier call id was recorded before. */
  insertBatch(calls: readonly Call[]): Promise<boolean[]>;
  get(id: string): Promise<Call | undefined>;
  getByCarrierId(carrier: string, carrierCallId: string): Promise<Call | undefined>;
  update(id: string, patch: Partial<Call>): Promise<void>;
  /** Sets the carrier's id on a call that had none; false if it had one or another call has it. */
  bindCarrierCallId(id: string, carrierCallId: string): Promise<boolean>;
  /** Claims the call's one media stream; false when claimed before (by any process). */
  claimMedia(id: string, now: number): Promise<boolean>;
  /**
   * Fails routed calls created in [from, before) whose media stream never
   * opened (their token can no longer open one): `inboundBefore` and
   * `outboundBefore` are the cut-offs by direction. Conditional, so safe
   * beside a stream being claimed. Returns how many.
   */
  failUnstreamed(from: number, inboundBefore: number, outboundBefore: number, now: number): Promise<number>;
  list(f: CallListFilter): Promise<Call[]>;
}

export interface IdempotencyRepo {
  get(scope: string, key: string): Promise<StoredResponse | undefined>;
  insert(scope: string, key: string, r: StoredResponse, now: number): Promise<void>;
  /** Forgets a stored answer (its purchase failed after all: a retry must run again). */
  delete(scope: string, key: string): Promise<void>;
  prune(olderThan: number): Promise<number>;
}

export interface AuditRepo {
  record(e: Omit<AuditEvent, 'id'>): Promise<void>;
  list(f: { teamId?: string | undefined; before?: Before | undefined; limit: number }): Promise<AuditEvent[]>;
}

export interface MetaRepo {
  get(key: string): Promise<string | undefined>;
  /** Sets the value only if the key is absent; returns the value in force (ours or a racing process's). */
  setIfAbsent(key: string, value: string): Promise<string>;
}

export const DRIFT_KINDS = ['missing_at_provider', 'voice_target_changed', 'unknown_to_gateway'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** One difference between a provider's account and the database. */
export interface Drift {
  provider: string;
  e164: string;
  kind: DriftKind;
  phoneNumberId: string | null;
  teamId: string | null;
  detail: string | null;
  detectedAt: number;
}

export interface DriftRepo {
  /** Replaces what was found for this provider with this run's findings; returns the ones not seen before. */
  replace(provider: string, found: readonly Drift[]): Promise<Drift[]>;
  list(): Promise<Drift[]>;
}

export interface Repos {
  readonly teams: TeamRepo;
  readonly tokens: TokenRepo;
  readonly assistants: AssistantRepo;
  readonly numbers: NumberRepo;
  readonly calls: CallRepo;
  readonly idempotency: IdempotencyRepo;
  readonly audit: AuditRepo;
  readonly meta: MetaRepo;
  readonly drift: DriftRepo;
}

// ---------------------------------------------------------------- routing writes

/** The writes that change how a call routes: only inside RoutingTable.mutate. */
export interface RoutingRepos extends Repos {
  readonly routingWrites: {
    insertNumber(n: PhoneNumber): Promise<void>;
    /** Moves a number's status only if it is in `from`; whether it moved. */
    transitionNumber(id: string, from: readonly NumberStatus[], patch: Partial<PhoneNumber> & { status: NumberStatus }): Promise<boolean>;
    setNumberAssistant(id: string, assistantId: string | null, now: number): Promise<void>;
    setAssistantMediaUrl(id: string, mediaUrl: string, now: number): Promise<void>;
    deleteAssistant(id: string, teamId: string): Promise<boolean>;
    setTeamPlan(id: string, plan: PlanName): Promise<void>;
    /** Makes a team's held trial numbers permanent; the numbers changed. */
    makeTrialsPermanent(teamId: string, now: number): Promise<PhoneNumber[]>;
  };
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Several writes as one; exclusive on SQLite, READ COMMITTED (with team locks where asked) on PostgreSQL. */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /** Whether the database answers now (readiness). Never throws. */
  ping(): Promise<boolean>;
  /** Leases: one holder at a time across every process on the database (the sweeper's leadership). */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  close(): Promise<void>;
}

/** Given to the RoutingTable alone. */
export interface RoutingStore {
  /**
   * Runs fn in one transaction that is serialised with every other routing
   * write on the database, records each touched number in the change log in
   * commit order, and returns the last change's sequence number (null when
   * nothing was touched).
   */
  transaction<T>(fn: (tx: RoutingRepos, touch: (e164: string) => void) => Promise<T>): Promise<{ result: T; seq: number | null; touched: ReadonlySet<string> }>;
  /** The routing entry for a number, read from the database (a cache miss). */
  lookup(e164: string): Promise<RoutingEntry | null>;
  /** Deletes change-log rows older than maxAgeMs. */
  pruneChanges(olderThan: number): Promise<number>;
  readonly feed: RoutingFeed;
}

/**
 * How a process learns about routing changes made by others.
 * SQLite: the change log, looked at whenever data_version moves (each lookup
 * checks it, a microsecond). PostgreSQL: LISTEN/NOTIFY with acknowledgements
 * and a periodic catch-up, see store/pg/routing-feed.ts.
 */
export interface RoutingFeed {
  /**
   * Called before every cache read. Applies other processes' changes that are
   * known (calling the listener), and says whether the cache may be served:
   * false while this process cannot vouch that it has seen every change
   * committed more than the invalidation bound ago (PostgreSQL connection lost).
   */
  sync(): boolean;
  /** Numbers changed elsewhere (null: anything may have changed, drop everything). */
  onChange(listener: (e164s: readonly string[] | null) => void): void;
  /**
   * After this process committed routing changes up to `seq`: resolves once
   * every other live process has dropped them, or after the bound (when the
   * laggards have stopped serving from their caches). Immediate on SQLite.
   */
  published(seq: number): Promise<{ acknowledged: boolean; waitedMs: number }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly stats: { externalChanges: number; resets: number; fenced: number };
}

/** The simulated carrier's own state, in the same database (so its orders survive restarts). */
export interface SimCarrierStore {
  inventoryEmpty(): Promise<boolean>;
  /** Inserts rows if the inventory is still empty (one process wins); how many. */
  loadInventory(rows: readonly AvailableNumber[]): Promise<number>;
  search(f: { countryCode: string; numberType: string; areaCode?: string; city?: string; region?: string; limit: number }): Promise<AvailableNumber[]>;
  /** Distinct city and region spellings per country (case-insensitive matching). */
  places(): Promise<Array<{ countryCode: string; city: string | null; region: string | null }>>;
  quote(e164: string): Promise<AvailableNumber | undefined>;
  /** Holds the number for a new order; false when someone holds it. */
  placeOrder(o: { id: string; e164: string; outcome: 'active' | 'failed'; readyAt: number; createdAt: number }): Promise<boolean>;
  orderStatus(id: string): Promise<'pending' | 'active' | 'failed' | 'released' | undefined>;
  /** Which order holds this number at the carrier, if any. */
  holder(e164: string): Promise<string | null>;
  /** Every held number with the order that holds it. */
  holds(): Promise<Array<{ e164: string; orderId: string }>>;
  releaseOrder(id: string, e164: string): Promise<void>;
  pendingOrders(): Promise<Array<{ id: string; readyAt: number }>>;
  dueOrders(now: number): Promise<string[]>;
  /** Settles a pending order with its decided outcome; null when it was not pending. */
  completeOrder(id: string): Promise<{ e164: string; outcome: 'active' | 'failed' } | null>;
}

/** What opening a database gives the wiring: the capabilities above, each handed to its one holder. */
export interface OpenedStore {
  store: Store;
  routing: RoutingStore;
  sim: SimCarrierStore;
}
