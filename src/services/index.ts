/** Builds the domain services over a database. Nothing here knows about HTTP. */
import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import type { NumberProvider } from '../carriers/provider.js';
import type { Clock } from '../clock.js';
import type { Faults } from '../faults.js';
import { RoutingTable } from '../routing/routing-table.js';
import { AssistantStore } from '../store/assistants.js';
import { AuditStore } from '../store/audit.js';
import { CallStore } from '../store/calls.js';
import { IdempotencyStore } from '../store/idempotency.js';
import { MetaStore } from '../store/meta.js';
import { NumberStore } from '../store/numbers.js';
import { TeamStore, TokenStore } from '../store/teams.js';
import { AssistantService } from './assistants.js';
import { AuditService } from './audit.js';
import { AuthService } from './auth.js';
import { CallService } from './calls.js';
import { NumberService } from './numbers.js';
import { TeamService } from './teams.js';

export interface ServiceOptions {
  db: Db;
  provider: NumberProvider;
  clock: Clock;
  log: Logger;
  routingCacheSize: number;
  provisionTimeoutMs: number;
  faults: Faults;
}

export function createServices(o: ServiceOptions) {
  const stores = {
    teams: new TeamStore(o.db),
    tokens: new TokenStore(o.db),
    assistants: new AssistantStore(o.db),
    numbers: new NumberStore(o.db),
    calls: new CallStore(o.db),
    idempotency: new IdempotencyStore(o.db),
    audit: new AuditStore(o.db),
    meta: new MetaStore(o.db),
  };
  const routing = new RoutingTable(o.db, { size: o.routingCacheSize }, () => o.clock.now());
  const auth = new AuthService(stores.tokens, o.clock);
  const teams = new TeamService(stores.teams, stores.numbers, stores.audit, auth, stores.tokens, routing, o.clock);
  const assistants = new AssistantService(stores.assistants, stores.numbers, teams, stores.audit, routing, o.clock);
  const numbers = new NumberService(
    stores.numbers,
    stores.teams,
    teams,
    assistants,
    stores.idempotency,
    stores.audit,
    routing,
    o.provider,
    o.clock,
    o.log.child({ component: 'numbers' }),
    o.provisionTimeoutMs,
  );
  const audit = new AuditService(stores.audit, teams);
  const calls = new CallService(stores.calls, stores.numbers, assistants, teams, o.clock);
  o.provider.onOrderUpdate((u) => o.faults.run('provider', () => numbers.applyOrderUpdate(u)));
  return { stores, routing, auth, teams, assistants, numbers, audit, calls, provider: o.provider, clock: o.clock };
}

export type Services = ReturnType<typeof createServices>;
