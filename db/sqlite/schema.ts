/**
 * The SQLite schema (the embedded default). Migrations in db/sqlite/migrations
 * are generated from this file by `npm run db:generate` (drizzle-kit) and never
 * edited by hand. db/pg/schema.ts is the same model for PostgreSQL; a test
 * (test/store/schema-parity.test.ts) keeps the two in step.
 *
 * Times are integer milliseconds since the epoch (sortable, cheap to compare);
 * the HTTP layer renders them as ISO 8601.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Key/value facts about this installation (server secret, schema facts). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const teams = sqliteTable('teams', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['free', 'starter', 'pro', 'enterprise'] }).notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * Bearer tokens, stored as SHA-256 hashes. teamId null = the admin token.
 * A revoked token keeps its row (revokedAt set), so a request with it can be
 * told "revoked" rather than "unknown".
 */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id').references(() => teams.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    name: text('name'),
    /** The token's first characters, shown in listings to tell tokens apart. */
    prefix: text('prefix'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_tokens_team_idx').on(t.teamId, t.createdAt)],
);

export const assistants = sqliteTable(
  'assistants',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    mediaUrl: text('media_url').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('assistants_team_idx').on(t.teamId, t.createdAt)],
);

export const NUMBER_STATUSES = ['purchasing', 'active', 'suspended', 'error', 'released'] as const;

/**
 * One row per purchase. A released or failed row stays as history; the same
 * E.164 number can be bought again later and gets a new row.
 */
export const phoneNumbers = sqliteTable(
  'phone_numbers',
  {
    id: text('id').primaryKey(),
    e164: text('e164').notNull(),
    teamId: text('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    countryCode: text('country_code').notNull(),
    numberType: text('number_type', { enum: ['local', 'toll-free'] }).notNull(),
    areaCode: text('area_code').notNull(),
    city: text('city'),
    region: text('region'),
    monthlyCost: integer('monthly_cost').notNull(),
    currency: text('currency').notNull(),
    status: text('status', { enum: NUMBER_STATUSES }).notNull(),
    assistantId: text('assistant_id').references(() => assistants.id, { onDelete: 'set null' }),
    trial: integer('trial', { mode: 'boolean' }).notNull(),
    expiresAt: integer('expires_at'),
    /** Where the number comes from: sim, twilio, telnyx. */
    provider: text('provider').notNull().default('sim'),
    /** The provider's own id for the number (Twilio's PN sid, Telnyx's phone number id), once it is ours. */
    providerNumberId: text('provider_number_id'),
    /** Brought by the operator's account (import), not bought: released, it is detached, not given back. */
    imported: integer('imported', { mode: 'boolean' }).notNull().default(false),
    orderId: text('order_id'),
    failureReason: text('failure_reason'),
    lastUsedAt: integer('last_used_at'),
    createdAt: integer('created_at').notNull(),
    activatedAt: integer('activated_at'),
    releasedAt: integer('released_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    // The invariant "no number is held by two teams" lives in the database:
    // two buyers racing for one number cannot both insert a held row.
    uniqueIndex('phone_numbers_held_e164_uq')
      .on(t.e164)
      .where(sql`status IN ('purchasing', 'active', 'suspended')`),
    index('phone_numbers_e164_idx').on(t.e164, t.createdAt),
    index('phone_numbers_team_idx').on(t.teamId, t.status),
    index('phone_numbers_assistant_idx').on(t.assistantId),
    index('phone_numbers_status_idx').on(t.status, t.expiresAt),
  ],
);

export const CALL_STATUSES = ['routed', 'rejected', 'in-progress', 'completed', 'failed'] as const;

export const calls = sqliteTable(
  'calls',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id'),
    direction: text('direction', { enum: ['inbound', 'outbound'] }).notNull(),
    carrier: text('carrier').notNull(),
    carrierCallId: text('carrier_call_id'),
    from: text('from_number').notNull(),
    to: text('to_number').notNull(),
    phoneNumberId: text('phone_number_id'),
    // Deliberately no foreign key: a call keeps its pinned assistant even after
    // the assistant is deleted (calls in progress continue).
    assistantId: text('assistant_id'),
    mediaUrl: text('media_url'),
    status: text('status', { enum: CALL_STATUSES }).notNull(),
    reason: text('reason'),
    carrierStatus: text('carrier_status'),
    carrierSeq: integer('carrier_seq'),
    createdAt: integer('created_at').notNull(),
    answeredAt: integer('answered_at'),
    endedAt: integer('ended_at'),
    durationSec: integer('duration_sec'),
    /** Why the media bridge ended: carrier_hangup, assistant_hangup, assistant_unreachable, drain, ... */
    endReason: text('end_reason'),
    /** When a media stream was opened with this call's token: a token opens one stream, once, in every process. */
    mediaClaimedAt: integer('media_claimed_at'),
  },
  (t) => [
    // A carrier retry of the same call never creates a second record.
    uniqueIndex('calls_carrier_call_uq').on(t.carrier, t.carrierCallId),
    // Every index here is paid for on every call's insert (the hot path), so
    // only two: a team's calls newest first (filters by assistant, number or
    // status walk it), and all calls newest first (the admin's listing).
    index('calls_team_idx').on(t.teamId, t.createdAt, t.id),
    index('calls_created_idx').on(t.createdAt, t.id),
  ],
);

/** Stored answers for Idempotency-Key, scoped to the caller. */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_created_idx').on(t.createdAt)],
);

/**
 * Which numbers' routing changed, in commit order. Each gateway process reads
 * it when SQLite's data_version says another connection committed, and drops
 * exactly those numbers from its routing cache.
 */
export const routingChanges = sqliteTable(
  'routing_changes',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    e164: text('e164').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('routing_changes_created_idx').on(t.createdAt)],
);

/**
 * Leases: one holder at a time for a job that must run once across every
 * process on the database (the sweeper: trial expiries, stale purchases).
 */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at').notNull(),
});

/**
 * What the last reconciliation found different between a provider's account
 * and the database (replaced on every run): a number released in the
 * provider's console, a voice URL changed by hand, a number the gateway does
 * not know. Reported, never acted on.
 */
export const providerDrift = sqliteTable(
  'provider_drift',
  {
    provider: text('provider').notNull(),
    e164: text('e164').notNull(),
    kind: text('kind', { enum: ['missing_at_provider', 'voice_target_changed', 'unknown_to_gateway'] }).notNull(),
    phoneNumberId: text('phone_number_id'),
    teamId: text('team_id'),
    detail: text('detail'),
    detectedAt: integer('detected_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.e164, t.kind] })],
);

/** Who changed which number, and how. */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    phoneNumberId: text('phone_number_id'),
    e164: text('e164'),
    assistantId: text('assistant_id'),
    details: text('details'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('audit_team_idx').on(t.teamId, t.createdAt, t.id)],
);

// ---------------------------------------------------------------------------
// The simulated carrier's own state. A real carrier keeps this on its side;
// the simulation keeps it in the same file so it survives restarts the way a
// real carrier's orders do.

export const simInventory = sqliteTable(
  'sim_inventory',
  {
    e164: text('e164').primaryKey(),
    countryCode: text('country_code').notNull(),
    numberType: text('number_type', { enum: ['local', 'toll-free'] }).notNull(),
    areaCode: text('area_code').notNull(),
    city: text('city'),
    region: text('region'),
    monthlyCost: integer('monthly_cost').notNull(),
    currency: text('currency').notNull(),
    /** The order that holds this number at the carrier, or null when free. */
    orderId: text('order_id'),
  },
  (t) => [
    index('sim_inventory_area_idx').on(t.countryCode, t.numberType, t.areaCode, t.e164),
    index('sim_inventory_type_idx').on(t.countryCode, t.numberType, t.e164),
  ],
);

export const simOrders = sqliteTable(
  'sim_orders',
  {
    id: text('id').primaryKey(),
    e164: text('e164').notNull(),
    status: text('status', { enum: ['pending', 'active', 'failed', 'released'] }).notNull(),
    /** Decided when the order is placed; revealed at readyAt. */
    outcome: text('outcome', { enum: ['active', 'failed'] }).notNull(),
    readyAt: integer('ready_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('sim_orders_pending_idx').on(t.status, t.readyAt)],
);
