import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { idempotencyKeys } from '../../db/schema.js';

export interface StoredResponse {
  requestHash: string;
  status: number;
  body: string;
}

export class IdempotencyStore {
  constructor(private readonly db: Db) {}

  get(scope: string, key: string): StoredResponse | undefined {
    return this.db
      .select({ requestHash: idempotencyKeys.requestHash, status: idempotencyKeys.status, body: idempotencyKeys.body })
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
      .get();
  }

  insert(scope: string, key: string, r: StoredResponse, now: number): void {
    this.db.insert(idempotencyKeys).values({ scope, key, ...r, createdAt: now }).run();
  }

  prune(olderThan: number): number {
    return this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, olderThan)).run().changes;
  }
}
