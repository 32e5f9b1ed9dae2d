import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { assistants } from '../../db/schema.js';
import type { Assistant } from '../domain/types.js';

export class AssistantStore {
  constructor(private readonly db: Db) {}

  insert(a: Assistant): void {
    this.db.insert(assistants).values(a).run();
  }

  get(id: string): Assistant | undefined {
    return this.db.select().from(assistants).where(eq(assistants.id, id)).get();
  }

  list(teamId: string | undefined): Assistant[] {
    const q = this.db.select().from(assistants);
    return (teamId ? q.where(eq(assistants.teamId, teamId)) : q).orderBy(asc(assistants.createdAt), asc(assistants.id)).all();
  }

  update(id: string, patch: Partial<Pick<Assistant, 'name' | 'mediaUrl'>>, now: number): void {
    this.db.update(assistants).set({ ...patch, updatedAt: now }).where(eq(assistants.id, id)).run();
  }

  delete(id: string, teamId: string): boolean {
    return this.db.delete(assistants).where(and(eq(assistants.id, id), eq(assistants.teamId, teamId))).run().changes === 1;
  }
}
