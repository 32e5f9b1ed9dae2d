import type { Principal } from '../domain/types.js';
import { listScope } from './access.js';
import type { AuditEvent, Before, Store } from './ports.js';
import type { TeamService } from './teams.js';

export class AuditService {
  constructor(
    private readonly store: Store,
    private readonly teams: TeamService,
  ) {}

  async list(p: Principal, f: { teamId?: string | undefined; before?: Before | undefined; limit: number }): Promise<AuditEvent[]> {
    const teamId = listScope(p, f.teamId);
    if (teamId) await this.teams.get(p, teamId);
    return this.store.audit.list({ teamId, before: f.before, limit: f.limit });
  }
}
