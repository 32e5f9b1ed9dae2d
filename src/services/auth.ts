/**
 * Bearer tokens. Stored as SHA-256 hashes: a leaked database does not leak
 * tokens, and a lookup by hash takes the same time whatever the token's
 * characters (no prefix comparison to time).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Principal } from '../domain/types.js';
import type { TokenStore } from '../store/teams.js';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export const newToken = (kind: 'admin' | 'team'): string => `sb_${kind}_${randomBytes(24).toString('base64url')}`;

export class AuthService {
  /** Admin tokens revoked by the last bootstrapAdmin (main logs it). */
  revokedAdminTokens = 0;

  constructor(
    private readonly tokens: TokenStore,
    private readonly clock: Clock,
  ) {}

  /** The principal behind a token, with the token's hash (callers key rate limits by it). */
  authenticate(token: string): { principal: Principal; tokenHash: string } | null {
    if (token.length < 16 || token.length > 256) return null;
    const tokenHash = hashToken(token);
    const row = this.tokens.findByHash(tokenHash);
    if (!row) return null;
    return { principal: row.teamId === null ? { kind: 'admin' } : { kind: 'team', teamId: row.teamId }, tokenHash };
  }

  /** Stores a token's hash and returns the token, which is never stored. */
  issue(teamId: string | null, token = newToken(teamId === null ? 'admin' : 'team')): string {
    this.tokens.insert({ id: randomUUID(), teamId, tokenHash: hashToken(token), createdAt: this.clock.now() });
    return token;
  }

  /**
   * Makes sure an admin token exists. A configured one is registered (if new);
   * otherwise one is generated on first start and returned so main can print
   * it once. Returns null when nothing new was generated.
   */
  bootstrapAdmin(configured: string | undefined): string | null {
    // Check and insert under the write lock: several processes may start on
    // one new database at once, and only one of them may register the token
    // (a second insert of the same hash would fail the unique index) or
    // generate one.
    return this.tokens.transaction(() => {
      if (configured) {
        // The configured token is the admin token: any other (an earlier
        // generated or configured one) stops working, so changing the
        // variable rotates it.
        const hash = hashToken(configured);
        this.revokedAdminTokens = this.tokens.revokeAdminExcept(hash);
        if (!this.tokens.findByHash(hash)) this.issue(null, configured);
        return null;
      }
      if (this.tokens.hasAdmin()) return null;
      return this.issue(null);
    });
  }
}
