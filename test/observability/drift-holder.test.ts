// switchboard_provider_drift is reported by the sweeper's lease holder only:
// it alone reconciles provider accounts, and a process that held the lease
// once would otherwise keep showing the drift it found then, which a
// cluster's summed /metrics (or a dashboard summing processes) would add to
// the holder's current figures. Two gateways on one database.
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/** Closed in this order: the second gateway first, then the one that owns the database. */
const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const t of gateways.splice(0)) await t.close();
});

const drift = async (t: TestGateway) => (await t.api.get('/metrics').expect(200)).text.split('\n').filter((l) => l.startsWith('switchboard_provider_drift{'));

describe('the drift gauge', () => {
  it('is cleared by a process that finds another holding the lease, kept by the holder', async () => {
    const holder = await startGateway();
    gateways.push(holder);
    const other = await startGateway({ dbPath: holder.dbPath, keepDir: true });
    gateways.unshift(other);
    // start() swept: the first gateway took the lease (and keeps it while it sweeps).
    expect(await holder.gw.sweep()).not.toBeNull();
    // Figures both found when each last reconciled.
    holder.gw.metrics.drift('sim', 'missing_at_provider', 3);
    other.gw.metrics.drift('sim', 'missing_at_provider', 5);
    expect(await drift(other)).toEqual(['switchboard_provider_drift{provider="sim",kind="missing_at_provider"} 5']);

    expect(await other.gw.sweep(), 'the lease is held by the first gateway').toBeNull();
    expect(await drift(other)).toEqual([]);
    expect(await holder.gw.sweep()).not.toBeNull();
    expect(await drift(holder)).toEqual(['switchboard_provider_drift{provider="sim",kind="missing_at_provider"} 3']);
  });
});
