/**
 * The PostgreSQL schema: the same model as db/sqlite/schema.ts, for
 * deployments that run several gateway instances on one database.
 * Migrations in db/pg/migrations are generated from this file by
 * `npm run db:generate` (drizzle-kit) and never edited by hand.
 *
 * Times are bigint milliseconds since the epoch, as on SQLite, so both stores
 * map rows to the domain the same way.
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const teams = pgTable('teams', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['free', 'starter', 'pro', 'enterprise'] }).notNull(),
  createdAt: ms('created_at').notNull(),
});

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id').references(() => teams.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    name: text('name'),
    prefix: text('prefix'),
    createdAt: ms('created_at').notNull(),
    lastUsedAt: ms('last_used_at'),
    expiresAt: ms('expires_at'),
    revokedAt: ms('revoked_at'),
  },
  (t) => [index('api_tokens_team_idx').on(t.teamId, t.createdAt)],
);

export const assistants = pgTable(
  'assistants',
  {
    id: text('id').primaryKey(),
    teamId: text('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    mediaUrl: text('media_url').notNull(),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('assistants_team_idx').on(t.teamId, t.createdAt)],
);

export const NUMBER_STATUSES = ['purchasing', 'active', 'suspended', 'error', 'released'] as const;

export const phoneNumbers = pgTable(
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
    trial: boolean('trial').notNull(),
    expiresAt: ms('expires_at'),
    provider: text('provider').notNull().default('sim'),
    providerNumberId: text('provider_number_id'),
    imported: boolean('imported').notNull().default(false),
    orderId: text('order_id'),
    failureReason: text('failure_reason'),
    lastUsedAt: ms('last_used_at'),
    createdAt: ms('created_at').notNull(),
    activatedAt: ms('activated_at'),
    releasedAt: ms('released_at'),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    // No number is held by two teams: the database decides races between buyers.
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

export const calls = pgTable(
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
    assistantId: text('assistant_id'),
    mediaUrl: text('media_url'),
    status: text('status', { enum: CALL_STATUSES }).notNull(),
    reason: text('reason'),
    carrierStatus: text('carrier_status'),
    carrierSeq: integer('carrier_seq'),
    createdAt: ms('created_at').notNull(),
    answeredAt: ms('answered_at'),
    endedAt: ms('ended_at'),
    durationSec: integer('duration_sec'),
    endReason: text('end_reason'),
    mediaClaimedAt: ms('media_claimed_at'),
  },
  (t) => [
    uniqueIndex('calls_carrier_call_uq').on(t.carrier, t.carrierCallId),
    index('calls_team_idx').on(t.teamId, t.createdAt, t.id),
    index('calls_created_idx').on(t.createdAt, t.id),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    body: text('body').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_created_idx').on(t.createdAt)],
);

/**
 * Which numbers' routing changed, in commit order (routing writes are
 * serialised, so sequence order is commit order). Every instance reads it
 * after a NOTIFY, periodically, and after reconnecting.
 */
export const routingChanges = pgTable(
  'routing_changes',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    e164: text('e164').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('routing_changes_created_idx').on(t.createdAt)],
);

/** The gateway instances on this database, for invalidation acknowledgements. */
export const instances = pgTable('instances', {
  id: text('id').primaryKey(),
  startedAt: ms('started_at').notNull(),
  /** Database time (ms) of the last heartbeat: an instance silent past the live window is not waited for. */
  heartbeatAt: ms('heartbeat_at').notNull(),
  /** The last routing change this instance has dropped from its cache. */
  ackedSeq: bigint('acked_seq', { mode: 'number' }).notNull(),
});

export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: ms('expires_at').notNull(),
});

export const providerDrift = pgTable(
  'provider_drift',
  {
    provider: text('provider').notNull(),
    e164: text('e164').notNull(),
    kind: text('kind', { enum: ['missing_at_provider', 'voice_target_changed', 'unknown_to_gateway'] }).notNull(),
    phoneNumberId: text('phone_number_id'),
    teamId: text('team_id'),
    detail: text('detail'),
    detectedAt: ms('detected_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.e164, t.kind] })],
);

export const auditEvents = pgTable(
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
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('audit_team_idx').on(t.teamId, t.createdAt, t.id)],
);

export const simInventory = pgTable(
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
    orderId: text('order_id'),
  },
  (t) => [
    index('sim_inventory_area_idx').on(t.countryCode, t.numberType, t.areaCode, t.e164),
    index('sim_inventory_type_idx').on(t.countryCode, t.numberType, t.e164),
  ],
);

export const simOrders = pgTable(
  'sim_orders',
  {
    id: text('id').primaryKey(),
    e164: text('e164').notNull(),
    status: text('status', { enum: ['pending', 'active', 'failed', 'released'] }).notNull(),
    outcome: text('outcome', { enum: ['active', 'failed'] }).notNull(),
    readyAt: ms('ready_at').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('sim_orders_pending_idx').on(t.status, t.readyAt)],
);
