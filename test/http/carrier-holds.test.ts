// The carrier's side of a number agrees with ours, whatever the interleaving:
// a number active (or suspended) for a team is held at the carrier by its own
// order, and every carrier hold has a holder or is given back. crash.test.ts
// checks both after random SIGKILLs; this file replays, deterministically, the
// interleavings that broke them (a ManualClock, the simulated carrier's timers
// never firing on their own, and hooks at the exact await where the race sits).
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { ORDER_GRACE_MS } from '../../src/services/numbers/provisioning.js';
import { availableNumbers, buyActive, createTeam, eventually, getNumber, offered, startGateway, type TestGateway } from '../helpers/gateway.js';

const SEC = 1000;
type Team = Awaited<ReturnType<typeof createTeam>>;

const dirs: string[] = [];
const open: TestGateway[] = [];
afterEach(async () => {
  for (const g of open.splice(0)) await g.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(o: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const g = await startGateway({ ...o, keepDir: true });
  open.push(g);
  if (!dirs.includes(g.dir)) dirs.push(g.dir);
  return g;
}
async function stop(g: TestGateway): Promise<void> {
  open.splice(open.indexOf(g), 1);
  await g.close();
}

const newClock = () => new ManualClock(Date.parse('2026-04-01T10:00:00Z'));

async function buy(t: TestGateway, team: Team, e164: string): Promise<string> {
  const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e164, teamId: team.id });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.phoneNumber.id as string;
}

/** The two invariants crash.test.ts checks after every restart, on the whole database. */
async function expectCarrierAgrees(t: TestGateway): Promise<void> {
  const activeNotHeld = await t.sql.all(
    `SELECT p.e164, p.order_id FROM phone_numbers p WHERE p.status IN ('active','suspended')
      AND NOT EXISTS (SELECT 1 FROM sim_inventory s WHERE s.e164 = p.e164 AND s.order_id = p.order_id)`,
  );
  const holdsWithoutHolder = await t.sql.all(
    `SELECT s.e164, s.order_id FROM sim_inventory s WHERE s.order_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.e164 = s.e164 AND p.status IN ('purchasing','active','suspended'))`,
  );
  expect({ activeNotHeld, holdsWithoutHolder }).toEqual({ activeNotHeld: [], holdsWithoutHolder: [] });
}

const heldBy = (t: TestGateway, e164: string) => t.sql.value<string | null>('SELECT order_id FROM sim_inventory WHERE e164 = ?', e164);
const orderOf = (t: TestGateway, id: string) => t.sql.value<string | null>('SELECT order_id FROM phone_numbers WHERE id = ?', id);

/** What SIGKILL leaves in the leases table: the dead process's sweeper lease, for a while yet. */
async function leaseOfTheKilledProcess(t: TestGateway): Promise<void> {
  await t.sql.run(
    `INSERT INTO leases (name, holder, expires_at) VALUES ('sweeper', 'killed-instance', ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
    Date.now() + 60_000,
  );
}

describe('an order result that arrives twice', () => {
  it('the sweep asks about a due order before its timer fires: the number is active and still held by its order', async () => {
    // The sweep's recover() asks the carrier about the order; the simulator
    // completes a due order when asked and notifies its listener, which
    // applies the result; then recover() applies the answer it got. The
    // second copy used to be taken for "an order nobody waits for" and
    // released: an active number the carrier no longer held for us.
    const clock = newClock();
    const t = await start({ clock, env: { SIM_PROVISION_MS: String(30 * SEC) } });
    const team = await createTeam(t, 'twice-sweep', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '303' });
    const id = await buy(t, team, e164!);
    const order = await orderOf(t, id);
    expect(order).toMatch(/^SO/);

    clock.advance(31 * SEC); // due at the carrier; its timer (30 s of real time) has not fired
    expect(await t.gw.services.sweeper.sweep()).toMatchObject({ settled: 1 });
    // Both copies of the result are accounted for (the listener's may finish after the sweep).
    const second = await eventually(() =>
      t.logs.find((l) => l.msg === 'order result already applied' || String(l.msg).startsWith('carrier confirmed an order nobody waits for')),
    );
    expect(second?.msg).toBe('order result already applied');
    expect(t.logs.filter((l) => l.msg === 'number provisioned')).toHaveLength(1);

    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });
    expect(await heldBy(t, e164!)).toBe(order);
    expect(await offered(t, e164!)).toBe(false);
    await expectCarrierAgrees(t);
  });

  it('a webhook delivered again for an order already applied changes nothing', async () => {
    const clock = newClock();
    const t = await start({ clock });
    const team = await createTeam(t, 'twice-webhook', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '305' });
    const id = await buyActive(t, team, e164!);
    const order = (await orderOf(t, id))!;

    await t.gw.services.provisioning.applyOrderUpdate({ orderId: order, e164: e164!, status: 'active' });
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });
    expect(await heldBy(t, e164!)).toBe(order);
    await expectCarrierAgrees(t);
  });
});

describe('a restart after SIGKILL, while the dead process still holds the sweeper lease', () => {
  it.each([
    ['still held by the killed process', true],
    ['free', false],
  ])('a release committed but never sent to the carrier is given back at start (lease %s)', async (_, leaseHeld) => {
    const clock = newClock();
    const first = await start({ clock });
    const team = await createTeam(first, `dropped-${leaseHeld}`, 'starter');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '312' });
    const id = await buyActive(first, team, e164!);
    // The process dies after the release commits, before the carrier hears of it.
    const addr = await first.gw.listen();
    first.gw.sim!.release = () => new Promise(() => {});
    const pending = fetch(`http://127.0.0.1:${addr.port}/api/phone-numbers/${id}`, { method: 'DELETE', headers: team.auth }).catch(() => null);
    await eventually(async () => (await first.sql.value('SELECT status FROM phone_numbers WHERE id = ?', id)) === 'released');
    await stop(first);
    await pending;
    expect(await heldBy(first, e164!), 'the carrier still holds the released number').not.toBeNull();
    if (leaseHeld) await leaseOfTheKilledProcess(first);

    const second = await start({ clock, dbPath: first.dbPath });
    expect(await heldBy(second, e164!)).toBeNull();
    expect(await offered(second, e164!)).toBe(true);
    await expectCarrierAgrees(second);
  });

  it('an order the carrier completed while nobody listened is settled at start, not once the lease lapses', async () => {
    const clock = newClock();
    const first = await start({ clock, env: { SIM_PROVISION_MS: String(30 * SEC) } });
    const team = await createTeam(first, 'unheard', 'starter');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '313' });
    const id = await buy(first, team, e164!);
    const order = await orderOf(first, id);
    await stop(first);
    // The carrier completes the order (what its timer does) while no gateway is listening.
    expect(await first.sql.run(`UPDATE sim_orders SET status = 'active' WHERE id = ? AND status = 'pending' AND outcome = 'active'`, order)).toBe(1);
    await leaseOfTheKilledProcess(first);

    clock.advance(31 * SEC);
    const second = await start({ clock, env: { SIM_PROVISION_MS: String(30 * SEC) }, dbPath: first.dbPath });
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'active' });
    expect(await heldBy(second, e164!)).toBe(order);
    await expectCarrierAgrees(second);
  });
});

describe('giving back a failed purchase never gives back the next buyer’s number', () => {
  it('an order whose id was never saved: the next buyer’s order, placed right after the failure, stays held', async () => {
    // recover() fails a purchasing row with no order id (its process died
    // while placing the order) and gives back "whichever order holds the
    // number". Asked after the failure commits, the carrier answers with the
    // next buyer's order, placed in between.
    const clock = newClock();
    const first = await start({ clock });
    const a = await createTeam(first, 'lost-order-a', 'starter');
    const b = await createTeam(first, 'lost-order-b', 'starter');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '404' });
    const addr = await first.gw.listen();
    first.gw.sim!.placeOrder = () => new Promise(() => {});
    const pending = fetch(`http://127.0.0.1:${addr.port}/api/phone-numbers/purchase`, {
      method: 'POST',
      headers: { ...a.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ phoneNumber: e164, teamId: a.id }),
    }).catch(() => null);
    const idA = (await eventually(() => first.sql.value<string | undefined>(`SELECT id FROM phone_numbers WHERE e164 = ? AND status = 'purchasing'`, e164)))!;
    await stop(first);
    await pending;

    clock.advance(ORDER_GRACE_MS + SEC);
    const second = await start({ clock, dbPath: first.dbPath, noStart: true });
    // Right after the failure commits, team B buys the number and the carrier
    // confirms B's order; only then does fail() go on.
    const routing = second.gw.services.routing;
    const mutate = routing.mutate.bind(routing);
    let idB: string | null = null;
    routing.mutate = (async (fn: Parameters<typeof mutate>[0]) => {
      const r = await mutate(fn);
      if (idB === null && (await second.sql.value('SELECT status FROM phone_numbers WHERE id = ?', idA)) === 'error') {
        idB = '';
        idB = await buyActive(second, b, e164!);
      }
      return r;
    }) as typeof routing.mutate;

    expect(await second.gw.services.provisioning.recover()).toMatchObject({ settled: 1 });
    expect(await getNumber(second, a, idA)).toMatchObject({ status: 'error', failureReason: 'order_not_placed' });
    expect(idB).toBeTruthy();
    expect(await getNumber(second, b, idB!)).toMatchObject({ status: 'active' });
    expect(await heldBy(second, e164!)).toBe(await orderOf(second, idB!));
    await expectCarrierAgrees(second);
  });

  it('recover() applies what it learnt to the row it read, not to a newer purchase of the same number', async () => {
    // recover() reads A's purchasing row and asks the carrier; meanwhile the
    // result is applied, A releases the number and B buys it, B's order still
    // on its way to the carrier. The answer recover() got is A's order's: it
    // must not make B's number active on A's (released) order.
    const clock = newClock();
    const env = { SIM_PROVISION_MS: String(30 * SEC) };
    const t = await start({ clock, env });
    const a = await createTeam(t, 'stale-a', 'starter');
    const b = await createTeam(t, 'stale-b', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '415' });
    const idA = await buy(t, a, e164!);
    clock.advance(31 * SEC);

    const sim = t.gw.sim!;
    const getOrder = sim.getOrder.bind(sim);
    const placeOrder = sim.placeOrder.bind(sim);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let purchaseB: Promise<string> | null = null;
    sim.getOrder = async (orderId) => {
      const status = await getOrder(orderId);
      if (!purchaseB) {
        await eventually(async () => (await getNumber(t, a, idA)).status === 'active');
        await t.api.delete(`/api/phone-numbers/${idA}`).set(a.auth).expect(200);
        sim.placeOrder = async (n) => {
          await gate;
          return placeOrder(n);
        };
        purchaseB = buy(t, b, e164!);
        await eventually(() => t.sql.value(`SELECT id FROM phone_numbers WHERE e164 = ? AND status = 'purchasing'`, e164));
      }
      return status;
    };

    await t.gw.services.provisioning.recover();
    release();
    const idB = await purchaseB!;
    clock.advance(31 * SEC);
    await sim.processDue();
    await eventually(async () => (await getNumber(t, b, idB)).status === 'active');
    expect(await orderOf(t, idB)).not.toBe(await orderOf(t, idA));
    expect(await heldBy(t, e164!)).toBe(await orderOf(t, idB));
    await expectCarrierAgrees(t);
  });
});
