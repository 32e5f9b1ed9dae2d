/**
 * Reconciliation: compares each provider's account with the database and
 * reports the differences (metrics, audit events, GET /api/providers/drift):
 * a number released in the provider's console while a team still holds it,
 * a voice URL or connection changed by hand (its calls no longer reach us),
 * a number the account owns that no team holds (bought and lost, or bought
 * outside Switchboard). It never changes a team's number: a person decides.
 * Run by the sweeper's leader at start and every SWITCHBOARD_RECONCILE_MS.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { ProviderSet } from '../../providers/provider.js';
import type { Drift, Store } from '../ports.js';

export interface DriftEvents {
  drift(provider: string, kind: string, count: number): void;
}

export class Reconciler {
  events: DriftEvents = { drift() {} };

  constructor(
    private readonly store: Store,
    private readonly providers: ProviderSet,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The differences the last run found, every provider. */
  list(): Promise<Drift[]> {
    return this.store.drift.list();
  }

  async run(): Promise<{ checked: string[]; drift: number }> {
    const checked: string[] = [];
    let total = 0;
    for (const provider of this.providers.all()) {
      let owned;
      try {
        owned = await provider.owned();
      } catch (err) {
        this.log.warn(
          { provider: provider.name, err: err instanceof Error ? err.message : String(err) },
          'reconciliation: the provider could not list its numbers',
        );
        continue;
      }
      if (owned === null) continue; // nothing to compare (the simulator)
      checked.push(provider.name);
      const now = this.clock.now();
      const ours = await this.store.numbers.heldByProvider(provider.name);
      const byE164 = new Map(owned.map((o) => [o.e164, o]));
      const held = new Set(ours.map((n) => n.e164));
      const expected = provider.expectedVoiceTarget();
      const found: Drift[] = [];
      for (const n of ours) {
        if (n.status === 'purchasing') continue; // not settled yet: not drift
        const o = byE164.get(n.e164);
        if (!o) {
          found.push({
            provider: provider.name,
            e164: n.e164,
            kind: 'missing_at_provider',
            phoneNumberId: n.id,
            teamId: n.teamId,
            detail: `held by the team but no longer in the ${provider.name} account (released in its console?)`,
            detectedAt: now,
          });
        } else if (expected !== null && o.voiceTarget !== expected) {
          found.push({
            provider: provider.name,
            e164: n.e164,
            kind: 'voice_target_changed',
            phoneNumberId: n.id,
            teamId: n.teamId,
            detail: `calls go to ${o.voiceTarget ?? 'nowhere'}, not ${expected}`,
            detectedAt: now,
          });
        }
      }
      for (const o of owned) {
        if (!held.has(o.e164)) {
          found.push({
            provider: provider.name,
            e164: o.e164,
            kind: 'unknown_to_gateway',
            phoneNumberId: null,
            teamId: null,
            detail: `owned by the ${provider.name} account (${o.providerNumberId}) but held by no team`,
            detectedAt: now,
          });
        }
      }
      const fresh = await this.store.drift.replace(provider.name, found);
      for (const d of fresh) {
        this.log.warn({ provider: d.provider, e164: d.e164, kind: d.kind, detail: d.detail }, 'provider drift');
        if (d.teamId && d.phoneNumberId) {
          await this.store.audit.record({
            teamId: d.teamId,
            actor: 'system',
            action: 'number.drift',
            phoneNumberId: d.phoneNumberId,
            e164: d.e164,
            assistantId: null,
            details: { provider: d.provider, kind: d.kind, detail: d.detail },
            createdAt: now,
          });
        }
      }
      const kinds = new Map<string, number>();
      for (const d of found) kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
      for (const kind of ['missing_at_provider', 'voice_target_changed', 'unknown_to_gateway']) this.events.drift(provider.name, kind, kinds.get(kind) ?? 0);
      total += found.length;
    }
    return { checked, drift: total };
  }
}
