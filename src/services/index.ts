/**
 * Builds the use cases over the storage ports. Nothing here knows about HTTP,
 * WebSockets or a database driver. The RoutingStore goes to the RoutingTable
 * alone: services change routing only through routing.mutate().
 */
import type { Logger } from 'pino';
import type { ProviderSet } from '../providers/provider.js';
import type { Clock } from '../clock.js';
import type { Faults } from '../faults.js';
import { RoutingTable } from '../routing/routing-table.js';
import { AssignmentService } from './assignment.js';
import { AssistantService } from './assistants.js';
import { AuditService } from './audit.js';
import { AuthService } from './auth.js';
import { CallerIdService } from './caller-id.js';
import { CallService } from './calls.js';
import type { NumberEvents } from './numbers/events.js';
import { NumberService } from './numbers/lifecycle.js';
import { ProvisioningService } from './numbers/provisioning.js';
import { PurchaseService } from './numbers/purchase.js';
import { Sweeper } from './numbers/sweeper.js';
import { Reconciler } from './numbers/reconcile.js';
import type { RoutingStore, Store } from './ports.js';
import { TeamService } from './teams.js';
import { TokenService } from './tokens.js';

export interface ServiceOptions {
  store: Store;
  routingStore: RoutingStore;
  providers: ProviderSet;
  clock: Clock;
  log: Logger;
  routingCacheSize: number;
  provisionTimeoutMs: number;
  faults: Faults;
}

export function createServices(o: ServiceOptions) {
  const log = o.log.child({ component: 'numbers' });
  const routing = new RoutingTable(o.routingStore, { size: o.routingCacheSize });
  const auth = new AuthService(o.store, o.clock);
  const teams = new TeamService(o.store, auth, routing, o.clock);
  const tokens = new TokenService(o.store, auth, teams, o.clock);
  const assistants = new AssistantService(o.store, teams, routing, o.clock);
  const assignment = new AssignmentService(teams, routing, o.clock);
  const provisioning = new ProvisioningService(o.store, routing, o.providers, o.clock, log, o.provisionTimeoutMs);
  const purchases = new PurchaseService(o.store, teams, routing, o.providers, provisioning, o.clock);
  const numbers = new NumberService(o.store, teams, routing, o.providers, o.clock, log);
  const sweeper = new Sweeper(o.store, routing, o.providers, provisioning, o.clock, log);
  const audit = new AuditService(o.store, teams);
  const calls = new CallService(o.store, teams, o.clock);
  const callerId = new CallerIdService(o.store, assistants, o.clock);
  const reconciler = new Reconciler(o.store, o.providers, o.clock, log);
  for (const provider of o.providers.all()) provider.onOrderUpdate((u) => o.faults.run('provider', () => provisioning.applyOrderUpdate(u)));
  return {
    routing,
    auth,
    teams,
    tokens,
    assistants,
    assignment,
    purchases,
    provisioning,
    numbers,
    sweeper,
    audit,
    calls,
    callerId,
    reconciler,
    providers: o.providers,
    /** Points every part of the number lifecycle at one listener (the metrics). */
    setNumberEvents(events: NumberEvents): void {
      purchases.events = events;
      provisioning.events = events;
      sweeper.events = events;
    },
  };
}

export type Services = ReturnType<typeof createServices>;
