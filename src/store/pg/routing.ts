/**
 * Routing on PostgreSQL: cache-miss lookups, serialised routing transactions
 * with their change log, and the feed that keeps every instance's cache
 * honest. The guarantee, exactly (docs/architecture.md):
 *
 *   When a routing write (a PATCH that reassigns a number, say) returns, no
 *   live instance answers a new call from a cache entry older than that write.
 *
 * How:
 * 1. Routing transactions take one advisory lock, so change-log sequence
 *    order is commit order. Each touched number gets a routing_changes row in
 *    the same transaction, and a NOTIFY, delivered at commit.
 * 2. Every instance LISTENs. On a notification it reads the change log after
 *    the last sequence it applied, drops those numbers, then acknowledges:
 *    instances.acked_seq, and a NOTIFY on the ack channel.
 * 3. The writer, after its commit, waits until every live instance (heartbeat
 *    within LIVE_WINDOW_MS) has acknowledged its sequence, or until
 *    SWITCHBOARD_INVALIDATION_TIMEOUT_MS has passed.
 * 4. Fencing, for the instances that did not acknowledge: each instance also
 *    reads the change log every bound/4 over its listening connection. sync()
 *    lets the cache be served only while the last successful read *started*
 *    less than the bound (minus a margin) ago. An instance that has lost its
 *    connection therefore stops serving from its cache before any writer
 *    stops waiting for it, and reads the database instead (which, if it is
 *    unreachable, makes the webhook answer 503: the carrier fails over).
 * 5. After reconnecting, an instance catches up from the change log before it
 *    trusts its cache again; if the log was pruned past what it saw, it drops
 *    everything.
 * Only durations measured on one machine are compared; no two clocks are.
 */
import pg from 'pg';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { RoutingEntry } from '../../domain/routing.js';
import type { NumberStatus } from '../../domain/types.js';
import type { RoutingFeed, RoutingRepos, RoutingStore } from '../../services/ports.js';
import { ROUTING_LOCK, mapError, type PgDb } from './client.js';
import { pgRoutingRepos } from './repos.js';

const CHANNEL = 'switchboard_routing';
const ACK_CHANNEL = 'switchboard_routing_ack';
/** An instance whose heartbeat is older than this is not waited for (it may have been killed). */
const LIVE_WINDOW_MS = 3000;
const HEARTBEAT_MS = 1000;
/** Database time in ms, for heartbeats compared on the database only. */
const DB_NOW = 'floor(extract(epoch from clock_timestamp()) * 1000)::bigint';

type EntryRow = Record<string, unknown> & {
  id: string;
  e164: string;
  team_id: string;
  status: NumberStatus;
  assistant_id: string | null;
  media_url: string | null;
  expires_at: number | null;
};

export interface PgFeedOptions {
  url: string;
  instanceId: string;
  /** SWITCHBOARD_INVALIDATION_TIMEOUT_MS. */
  boundMs: number;
  log: Logger;
}

export class PgFeed implements RoutingFeed {
  private client: pg.Client | null = null;
  private listener: (e164s: readonly string[] | null) => void = () => {};
  /** The last change-log sequence applied; null until the first start. */
  private lastSeq: number | null = null;
  /** performance.now() when the last successful change-log read started; -Infinity: never. */
  private syncedAt = -Infinity;
  private readonly fenceMs: number;
  private timer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private catchingUp: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private reconnectDelay = 100;
  private ackWaiters = new Set<() => void>();
  readonly stats = { externalChanges: 0, resets: 0, fenced: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly o: PgFeedOptions,
  ) {
    // A margin for timer lateness and clock-rate differences between machines.
    this.fenceMs = Math.max(o.boundMs / 2, o.boundMs - 150);
  }

  onChange(listener: (e164s: readonly string[] | null) => void): void {
    this.listener = listener;
  }

  sync(): boolean {
    const ok = performance.now() - this.syncedAt < this.fenceMs;
    if (!ok) this.stats.fenced++;
    return ok;
  }

  async start(): Promise<void> {
    this.stopped = false;
    if (this.lastSeq === null) {
      // A new process has an empty cache: it starts from the current end of
      // the log. A restarted feed continues from where it was (and catches up).
      const r = await this.pool.query<{ seq: number }>('SELECT coalesce(max(seq), 0)::bigint AS seq FROM routing_changes');
      this.lastSeq = r.rows[0]!.seq;
    }
    await this.connect();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const c = this.client;
    this.client = null;
    if (c) {
      await c.query('DELETE FROM instances WHERE id = $1', [this.o.instanceId]).catch(() => {});
      await c.end().catch(() => {});
    }
    for (const w of this.ackWaiters) w();
  }

  private async connect(): Promise<void> {
    const c = new pg.Client({ connectionString: this.o.url, connectionTimeoutMillis: 3000, keepAlive: true, application_name: 'switchboard-feed' });
    c.on('error', (err) => this.lost(c, err));
    c.on('end', () => this.lost(c, new Error('connection ended')));
    c.on('notification', (n) => {
      if (n.channel === CHANNEL) void this.catchUp();
      else if (n.channel === ACK_CHANNEL) for (const w of this.ackWaiters) w();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      await c.query(`LISTEN ${ACK_CHANNEL}`);
      await c.query(
        `INSERT INTO instances (id, started_at, heartbeat_at, acked_seq) VALUES ($1, ${DB_NOW}, ${DB_NOW}, $2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = ${DB_NOW}`,
        [this.o.instanceId, this.lastSeq],
      );
    } catch (err) {
      await c.end().catch(() => {});
      if (this.stopped) return;
      this.o.log.warn({ err: (err as Error).message, retryMs: this.reconnectDelay }, 'routing feed: cannot reach PostgreSQL; retrying');
      this.retry();
      return;
    }
    this.client = c;
    this.reconnectDelay = 100;
    // Catch up before the cache is trusted again (syncedAt moves only on a successful read).
    await this.catchUp();
    this.schedulePoll();
  }

  private lost(c: pg.Client, err: Error): void {
    if (this.client !== c) return;
    this.client = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.stopped) return;
    this.o.log.warn({ err: err.message }, 'routing feed: lost the PostgreSQL connection; the routing cache is distrusted until it is back');
    c.end().catch(() => {});
    this.retry();
  }

  private retry(): void {
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.catchUp().finally(() => this.schedulePoll());
      },
      Math.max(50, this.o.boundMs / 4),
    );
    this.timer.unref();
  }

  /** Reads the change log after lastSeq, drops those numbers, acknowledges. Coalesced. */
  private catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = (async () => {
      do {
        this.again = false;
        await this.readChanges();
      } while (this.again && this.client);
    })().finally(() => {
      this.catchingUp = null;
    });
    return this.catchingUp;
  }

  private async readChanges(): Promise<void> {
    const c = this.client;
    if (!c) return;
    const started = performance.now();
    let rows: Array<{ seq: number; e164: string }>;
    try {
      rows = (await c.query<{ seq: number; e164: string }>('SELECT seq, e164 FROM routing_changes WHERE seq > $1 ORDER BY seq', [this.lastSeq ?? 0])).rows;
    } catch {
      return; // the connection's error handler reconnects
    }
    if (rows.length > 0) {
      if (rows[0]!.seq !== (this.lastSeq ?? 0) + 1 && (await this.pruned(c))) {
        // Rows we never saw were pruned: we cannot tell what changed.
        this.stats.resets++;
        this.listener(null);
      } else {
        this.listener(rows.map((r) => r.e164));
      }
      this.stats.externalChanges += rows.length;
      this.lastSeq = rows[rows.length - 1]!.seq;
    }
    this.syncedAt = started;
    if (rows.length > 0) {
      await c
        .query(`UPDATE instances SET acked_seq = greatest(acked_seq, $2), heartbeat_at = ${DB_NOW} WHERE id = $1`, [this.o.instanceId, this.lastSeq])
        .then(() => c.query(`SELECT pg_notify('${ACK_CHANNEL}', $1)`, [String(this.lastSeq)]))
        .catch(() => {});
    }
  }

  /**
   * Whether the gap before the first row is pruning (rows older than ours
   * deleted) rather than sequence numbers skipped by rolled-back transactions.
   */
  private async pruned(c: pg.Client): Promise<boolean> {
    const r = await c.query<{ seq: number | null }>('SELECT min(seq)::bigint AS seq FROM routing_changes');
    const min = r.rows[0]?.seq ?? null;
    return min === null || min > (this.lastSeq ?? 0) + 1;
  }

  private async heartbeat(): Promise<void> {
    const c = this.client;
    if (!c) return;
    await c
      .query(`UPDATE instances SET heartbeat_at = ${DB_NOW}, acked_seq = greatest(acked_seq, $2) WHERE id = $1`, [this.o.instanceId, this.lastSeq])
      .catch(() => {});
  }

  async published(seq: number): Promise<{ acknowledged: boolean; waitedMs: number }> {
    const started = performance.now();
    const deadline = started + this.o.boundMs;
    // Our own cache was dropped by mutate(); advance our mark so we do not read our own changes as news.
    for (;;) {
      let waiting: number;
      try {
        const r = await this.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM instances WHERE id <> $1 AND acked_seq < $2 AND heartbeat_at > ${DB_NOW} - ${LIVE_WINDOW_MS}`,
          [this.o.instanceId, seq],
        );
        waiting = r.rows[0]!.n;
      } catch {
        waiting = -1; // cannot tell: wait out the bound
      }
      if (waiting === 0) return { acknowledged: true, waitedMs: performance.now() - started };
      const left = deadline - performance.now();
      if (left <= 0) {
        this.o.log.warn(
          { seq, instancesBehind: waiting },
          'routing change not acknowledged by every instance within the bound; they have stopped trusting their caches',
        );
        return { acknowledged: false, waitedMs: performance.now() - started };
      }
      // Until an acknowledgement arrives on our listening connection, or a short poll.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.ackWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 25));
        this.ackWaiters.add(done);
      });
    }
  }
}

export class PgRoutingStore implements RoutingStore {
  constructor(
    private readonly db: PgDb,
    readonly feed: PgFeed,
    private readonly now: () => number,
  ) {}

  async lookup(e164: string): Promise<RoutingEntry | null> {
    try {
      // The current holder through the partial unique index; else the latest history row.
      const held = await this.db.execute<EntryRow>(sql`
        SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, a.media_url, p.expires_at
          FROM phone_numbers p LEFT JOIN assistants a ON a.id = p.assistant_id
         WHERE p.e164 = ${e164} AND p.status IN ('purchasing', 'active', 'suspended')`);
      let row = held.rows[0];
      if (!row) {
        const hist = await this.db.execute<EntryRow>(sql`
          SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, NULL AS media_url, p.expires_at
            FROM phone_numbers p WHERE p.e164 = ${e164} ORDER BY p.created_at DESC LIMIT 1`);
        row = hist.rows[0];
      }
      if (!row) return null;
      return {
        e164: row.e164,
        numberId: row.id,
        teamId: row.team_id,
        status: row.status,
        assistantId: row.assistant_id,
        mediaUrl: row.media_url,
        expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      };
    } catch (err) {
      throw mapError(err);
    }
  }

  async transaction<T>(fn: (tx: RoutingRepos, touch: (e164: string) => void) => Promise<T>) {
    const touched = new Set<string>();
    try {
      return await this.db.transaction(async (tx) => {
        // Routing writes one at a time, cluster-wide: sequence order is commit order.
        await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROUTING_LOCK.toString()}::bigint)`);
        const result = await fn(pgRoutingRepos(tx), (e164) => touched.add(e164));
        let seq: number | null = null;
        if (touched.size > 0) {
          const at = this.now();
          const values = sql.join(
            [...touched].map((e) => sql`(${e}, ${at})`),
            sql`, `,
          );
          const r = await tx.execute<{ seq: number }>(sql`INSERT INTO routing_changes (e164, created_at) VALUES ${values} RETURNING seq`);
          seq = Math.max(...r.rows.map((x) => Number(x.seq)));
          await tx.execute(sql`SELECT pg_notify(${CHANNEL}, ${String(seq)})`);
        }
        return { result, seq, touched };
      });
    } catch (err) {
      throw mapError(err);
    }
  }

  async pruneChanges(olderThan: number): Promise<number> {
    try {
      const r = await this.db.execute(sql`DELETE FROM routing_changes WHERE created_at < ${olderThan}`);
      return r.rowCount ?? 0;
    } catch (err) {
      throw mapError(err);
    }
  }
}
