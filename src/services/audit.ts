import type { Principal } from '../domain/types.js';
import type { AuditEvent, AuditStore } from '../store/audit.js';
import { listScope } from './access.js';
import type { TeamService } from './teams.js';

export class AuditService {
  constructor(
    private readonly store: AuditStore,
    private readonly teams: TeamService,
  ) {}

  list(p: Principal, f: { teamId?: string | undefined; before?: { createdAt: number; id: string } | undefined; limit: number }): AuditEvent[] {
    const teamId = listScope(p, f.teamId);
    if (teamId) this.teams.get(p, teamId);
    return this.store.list({ teamId, before: f.before, limit: f.limit });
  }
}
