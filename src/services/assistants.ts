import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { notFound } from '../errors.js';
import type { Assistant, Principal } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import type { AssistantStore } from '../store/assistants.js';
import type { AuditStore } from '../store/audit.js';
import type { NumberStore } from '../store/numbers.js';
import { actorOf, assertTeamAccess, listScope } from './access.js';
import type { TeamService } from './teams.js';

export interface AssistantView extends Assistant {
  phoneNumberIds: string[];
}

export class AssistantService {
  constructor(
    private readonly assistants: AssistantStore,
    private readonly numbers: NumberStore,
    private readonly teams: TeamService,
    private readonly audit: AuditStore,
    private readonly routing: RoutingTable,
    private readonly clock: Clock,
  ) {}

  view(a: Assistant): AssistantView {
    return { ...a, phoneNumberIds: this.numbers.idsOnAssistant(a.id) };
  }

  create(p: Principal, input: { teamId: string; name: string; mediaUrl: string }): Assistant {
    const team = this.teams.get(p, input.teamId);
    const now = this.clock.now();
    const a: Assistant = { id: randomUUID(), teamId: team.id, name: input.name, mediaUrl: input.mediaUrl, createdAt: now, updatedAt: now };
    this.assistants.insert(a);
    return a;
  }

  get(p: Principal, id: string): Assistant {
    const a = this.assistants.get(id);
    if (!a) throw notFound('Assistant');
    assertTeamAccess(p, a.teamId, 'Assistant');
    return a;
  }

  list(p: Principal, teamId: string | undefined): Assistant[] {
    const scope = listScope(p, teamId);
    if (scope) this.teams.get(p, scope);
    return this.assistants.list(scope);
  }

  update(p: Principal, id: string, patch: { name?: string | undefined; mediaUrl?: string | undefined }): Assistant {
    return this.routing.mutate((touch) => {
      const a = this.get(p, id);
      const clean: { name?: string; mediaUrl?: string } = {};
      if (patch.name !== undefined) clean.name = patch.name;
      if (patch.mediaUrl !== undefined) clean.mediaUrl = patch.mediaUrl;
      this.assistants.update(a.id, clean, this.clock.now());
      // The media URL is part of the routing entries of the assistant's numbers.
      if (clean.mediaUrl !== undefined && clean.mediaUrl !== a.mediaUrl) {
        for (const n of this.numbers.onAssistant(a.id)) touch(n.e164);
      }
      return this.assistants.get(a.id)!;
    });
  }

  /** Deletes the assistant; its numbers become unassigned. Calls already routed to it continue. */
  delete(p: Principal, id: string): void {
    const now = this.clock.now();
    this.routing.mutate((touch) => {
      const a = this.get(p, id);
      for (const n of this.numbers.onAssistant(a.id)) {
        this.numbers.update(n.id, { assistantId: null, updatedAt: now });
        touch(n.e164);
        this.audit.record({
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
      this.assistants.delete(a.id, a.teamId);
    });
  }
}
