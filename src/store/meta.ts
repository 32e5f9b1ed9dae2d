import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { meta } from '../../db/schema.js';

export class MetaStore {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    return this.db.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()?.value;
  }

  /** Sets the value only if the key is absent; returns the value in force (ours or a racing process's). */
  setIfAbsent(key: string, value: string): string {
    this.db.insert(meta).values({ key, value }).onConflictDoNothing().run();
    return this.get(key)!;
  }
}
