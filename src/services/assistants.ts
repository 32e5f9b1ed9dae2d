import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { notFound } from '../errors.js';
import type { Assistant, Principal } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import { actorOf, assertTeamAccess, listScope } from './access.js';
import type { Store } from './ports.js';
import type { TeamService } from './teams.js';

/** An assistant with the ids of the numbers assigned to it (api.md's Assistant). */
export interface AssistantWithNumbers extends Assistant {
  phoneNumberIds: string[];
}

export class AssistantService {
  constructor(
    private readonly store: Store,
    private readonly teams: TeamService,
    private readonly routing: RoutingTable,
    private readonly clock: Clock,
  ) {}

  async withNumbers(a: Assistant): Promise<AssistantWithNumbers> {
    return { ...a, phoneNumberIds: await this.store.numbers.idsOnAssistant(a.id) };
  }

  async create(p: Principal, input: { teamId: string; name: string; mediaUrl: string }): Promise<Assistant> {
    const team = await this.teams.get(p, input.teamId);
    const now = this.clock.now();
    const a: Assistant = { id: randomUUID(), teamId: team.id, name: input.name, mediaUrl: input.mediaUrl, createdAt: now, updatedAt: now };
    await this.store.assistants.insert(a);
    return a;
  }

  async get(p: Principal, id: string): Promise<Assistant> {
    const a = await this.store.assistants.get(id);
    if (!a) throw notFound('Assistant');
    assertTeamAccess(p, a.teamId, 'Assistant');
    return a;
  }

  async list(p: Principal, teamId: string | undefined): Promise<Assistant[]> {
    const scope = listScope(p, teamId);
    if (scope) await this.teams.get(p, scope);
    return this.store.assistants.list(scope);
  }

  async update(p: Principal, id: string, patch: { name?: string | undefined; mediaUrl?: string | undefined }): Promise<Assistant> {
    const now = this.clock.now();
    return this.routing.mutate(async (tx, touch) => {
      const a = await tx.assistants.get(id);
      if (!a) throw notFound('Assistant');
      assertTeamAccess(p, a.teamId, 'Assistant');
      if (patch.name !== undefined && patch.name !== a.name) await tx.assistants.rename(a.id, patch.name, now);
      // The media URL is part of the routing entries of the assistant's numbers.
      if (patch.mediaUrl !== undefined && patch.mediaUrl !== a.mediaUrl) {
        await tx.routingWrites.setAssistantMediaUrl(a.id, patch.mediaUrl, now);
        for (const n of await tx.numbers.onAssistant(a.id)) touch(n.e164);
      }
      return (await tx.assistants.get(a.id))!;
    });
  }

  /** Deletes the assistant; its numbers become unassigned. Calls already routed to it continue. */
  async delete(p: Principal, id: string): Promise<void> {
    const now = this.clock.now();
    await this.routing.mutate(async (tx, touch) => {
      const a = await tx.assistants.get(id);
      if (!a) throw notFound('Assistant');
      assertTeamAccess(p, a.teamId, 'Assistant');
      for (const n of await tx.numbers.onAssistant(a.id)) {
        await tx.routingWrites.setNumberAssistant(n.id, null, now);
        touch(n.e164);
        await tx.audit.record({
          teamId: n.teamId,
          actor: actorOf(p),
          action: 'number.unassign',
          phoneNumberId: n.id,
          e164: n.e164,
          assistantId: a.id,
          details: { reason: 'assistant_deleted' },
          createdAt: now,
        });
      }
      await tx.routingWrites.deleteAssistant(a.id, a.teamId);
    });
  }
}
