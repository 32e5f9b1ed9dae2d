/**
 * Bearer tokens. Stored as SHA-256 hashes: a leaked database does not leak
 * tokens, and a lookup by hash takes the same time whatever the token's
 * characters (no prefix comparison to time).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Principal } from '../domain/types.js';
import type { Repos, Store, TokenRow } from './ports.js';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export const newToken = (kind: 'admin' | 'team'): string => `sb_${kind}_${randomBytes(24).toString('base64url')}`;

/** Why a token did not authenticate: each gets its own 401 message. */
export type AuthFailure = { kind: 'unknown' } | { kind: 'revoked'; at: number; admin: boolean } | { kind: 'expired'; at: number };

export type AuthResult = { ok: true; principal: Principal; tokenHash: string; tokenId: string } | { ok: false; failure: AuthFailure };

/** A team holds at most this many active tokens (api.md: 409 TOKEN_LIMIT_REACHED). */
export const MAX_TEAM_TOKENS = 25;

/** lastUsedAt is written at most this often per token: a write per request would put a commit on every read. */
const LAST_USED_EVERY_MS = 60_000;

/** Shown in listings: enough to tell tokens apart, far too little to use. */
export const tokenPrefix = (token: string): string => token.slice(0, token.indexOf('_', 3) + 5);

export class AuthService {
  /** Admin tokens revoked by the last bootstrapAdmin (main logs it). */
  revokedAdminTokens = 0;
  private readonly lastUsedWritten = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** The principal behind a token, with the token's hash (callers key rate limits by it). */
  async authenticate(token: string): Promise<AuthResult> {
    if (token.length < 16 || token.length > 256) return { ok: false, failure: { kind: 'unknown' } };
    const tokenHash = hashToken(token);
    // Read from the database on every request, so a revocation made by any
    // process on this database holds from the very next request.
    const row = await this.store.tokens.findByHash(tokenHash);
    if (!row) return { ok: false, failure: { kind: 'unknown' } };
    const now = this.clock.now();
    if (row.revokedAt !== null) return { ok: false, failure: { kind: 'revoked', at: row.revokedAt, admin: row.teamId === null } };
    if (row.expiresAt !== null && row.expiresAt <= now) return { ok: false, failure: { kind: 'expired', at: row.expiresAt } };
    if (now - (this.lastUsedWritten.get(row.id) ?? 0) >= LAST_USED_EVERY_MS) {
      this.lastUsedWritten.set(row.id, now);
      await this.store.tokens.touch(row.id, now);
    }
    return {
      ok: true,
      principal: row.teamId === null ? { kind: 'admin' } : { kind: 'team', teamId: row.teamId },
      tokenHash,
      tokenId: row.id,
    };
  }

  /** Stores a token's hash (in `tx` when given) and returns the token, never stored, with its row. */
  async issue(
    teamId: string | null,
    o: { name?: string | null; expiresAt?: number | null; token?: string } = {},
    tx: Repos = this.store,
  ): Promise<{ token: string; row: TokenRow }> {
    const token = o.token ?? newToken(teamId === null ? 'admin' : 'team');
    const row: TokenRow = {
      id: randomUUID(),
      teamId,
      name: o.name ?? null,
      prefix: tokenPrefix(token),
      createdAt: this.clock.now(),
      lastUsedAt: null,
      expiresAt: o.expiresAt ?? null,
      revokedAt: null,
    };
    await tx.tokens.insert({ ...row, tokenHash: hashToken(token) });
    return { token, row };
  }

  /**
   * Makes sure an admin token exists. A configured one is registered (if new);
   * otherwise one is generated when the database has none, and returned so
   * main can print it once. Returns null when nothing new was generated.
   */
  bootstrapAdmin(configured: string | undefined): Promise<string | null> {
    // Check and insert in one exclusive transaction: several processes may
    // start on one new database at once, and only one of them may register
    // the token (a second insert of the same hash would fail the unique
    // index) or generate one.
    return this.store.transaction(async (tx) => {
      await tx.teams.lock('admin-bootstrap');
      if (configured) {
        // The configured token is the admin token: any other (an earlier
        // generated or configured one) stops working, so changing the
        // variable rotates it.
        const hash = hashToken(configured);
        this.revokedAdminTokens = await tx.tokens.revokeAdminExcept(hash, this.clock.now());
        if (!(await tx.tokens.findByHash(hash))) await this.issue(null, { token: configured, name: 'SWITCHBOARD_ADMIN_TOKEN' }, tx);
        return null;
      }
      if (await tx.tokens.hasAdmin()) return null;
      return (await this.issue(null, { name: 'generated' }, tx)).token;
    });
  }
}
