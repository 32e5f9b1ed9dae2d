// "A number may never stay purchasing forever" (api.md section 3, Purchase):
// the 60 s provisioning deadline, and what start() does with purchases left
// over from the last run. Restarts reopen the same SQLite file with the same
// ManualClock, the way a real restart reopens the same database.
import { ON_SIM } from '../helpers/provider-under-test.js';
import { ORDER_GRACE_MS } from '../../src/services/numbers/provisioning.js';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { availableNumbers, createTeam, eventually, getNumber, numbersHeld, offered, startGateway, type TestGateway } from '../helpers/gateway.js';

const SEC = 1000;

type Team = { id: string; slug: string; auth: Record<string, string> };

/** Folders of gateways closed with keepDir, removed after each test. */
const dirs: string[] = [];
/** Gateways still open if a test failed half-way. */
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

const sim = (t: TestGateway) => t.gw.sim!;

async function buy(t: TestGateway, team: Team, e164: string): Promise<string> {
  const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e164, teamId: team.id });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.phoneNumber.status).toBe('purchasing');
  return res.body.phoneNumber.id as string;
}

// These drive the simulated carrier's orders by hand (its clock, its pending
// orders); a real provider's crash recovery is test/e2e/provider-crash.test.ts.
describe.skipIf(!ON_SIM)('the 60 s provisioning deadline', () => {
  it('an order unconfirmed after 60 s becomes error (provisioning_timeout) and the number returns to the pool', async () => {
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const t = await start({ clock, env: { SIM_PROVISION_MS: '600000' } });
    const team = await createTeam(t, 'deadline', 'free');
    const [e164, other] = await availableNumbers(t, 'US', 2, { areaCode: '206' });
    const id = await buy(t, team, e164!);

    clock.advance(59 * SEC);
    expect(await t.gw.services.sweeper.sweep()).toMatchObject({ timedOut: 0 });
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'purchasing' });
    expect(await offered(t, e164!)).toBe(false);

    clock.advance(2 * SEC);
    expect(await t.gw.services.sweeper.sweep()).toMatchObject({ timedOut: 1 });
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'error', failureReason: 'provisioning_timeout', activatedAt: null });
    expect(await offered(t, e164!)).toBe(true);
    expect(await numbersHeld(t, team)).toBe(0);

    // The carrier's late order does not resurrect it.
    clock.advance(600 * SEC);
    await sim(t).processDue();
    await new Promise((r) => setTimeout(r, 20));
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'error' });
    expect(await offered(t, e164!)).toBe(true);

    // The free team may buy again (the failed one does not count).
    await buy(t, team, other!);
  });
});

describe.skipIf(!ON_SIM)('purchases left from the last run', () => {
  it('an order that could not finish within the deadline is failed at start, not activated', async () => {
    // SIM_PROVISION_MS is 600 s: the order would be confirmed 600 s after
    // purchase, long past the 60 s deadline. Had the process stayed up, the
    // sweeper would have failed it at 60 s; a restart at 700 s must agree.
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const env = { SIM_PROVISION_MS: '600000' };
    const first = await start({ clock, env });
    const team = await createTeam(first, 'restart-late', 'free');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '212' });
    const id = await buy(first, team, e164!);
    await stop(first);

    clock.advance(700 * SEC);
    const second = await start({ clock, env, dbPath: first.dbPath });
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'error', failureReason: 'provisioning_timeout', activatedAt: null });
    // The carrier's timer for the old order fires right after start; it must not change anything.
    await new Promise((r) => setTimeout(r, 30));
    await sim(second).processDue();
    await new Promise((r) => setTimeout(r, 20));
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'error' });
    expect(await offered(second, e164!)).toBe(true);
    expect(await numbersHeld(second, team)).toBe(0);
  });

  it('an order still within the deadline is resumed at start and becomes active when the carrier completes it', async () => {
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const env = { SIM_PROVISION_MS: '30000' };
    const first = await start({ clock, env });
    const team = await createTeam(first, 'restart-resume', 'starter');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '213' });
    const id = await buy(first, team, e164!);
    await stop(first);

    clock.advance(10 * SEC);
    const second = await start({ clock, env, dbPath: first.dbPath });
    expect(second.logs.some((l) => l.msg === 'purchases left from the last run' && l.resumed === 1 && l.settled === 0)).toBe(true);
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'purchasing', failureReason: null });
    expect(await numbersHeld(second, team)).toBe(1);
    expect(await offered(second, e164!)).toBe(false);

    // Not due yet: nothing happens.
    clock.advance(10 * SEC);
    expect(await sim(second).processDue()).toBe(0);
    expect(await second.gw.services.sweeper.sweep()).toMatchObject({ timedOut: 0 });
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'purchasing' });

    // Past readyAt (30 s), before the deadline (60 s).
    clock.advance(15 * SEC);
    expect(await sim(second).processDue()).toBe(1);
    const active = await eventually(async () => {
      const n = await getNumber(second, team, id);
      return n.status === 'active' ? n : null;
    });
    expect(active.activatedAt).toBe(new Date(clock.now()).toISOString());
    // The deadline passing later changes nothing for an active number.
    clock.advance(120 * SEC);
    expect(await second.gw.services.sweeper.sweep()).toMatchObject({ timedOut: 0 });
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'active' });
    expect(await offered(second, e164!)).toBe(false);
  });

  it("a confirmation that arrives twice (the recovery sweep racing the carrier's own confirmation) leaves the number active and held at the carrier", async () => {
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const t = await start({ clock, env: { SIM_PROVISION_MS: '30000' } });
    const team = await createTeam(t, 'confirmed-twice', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '303' });
    const id = await buy(t, team, e164!);
    clock.advance(31 * SEC);
    // The sweep lists the number as purchasing; before it asks the carrier about
    // the order, the carrier's timer confirms it and the number becomes active.
    const carrier = sim(t);
    const getOrder = carrier.getOrder.bind(carrier);
    carrier.getOrder = async (orderId) => {
      expect(await carrier.processDue()).toBe(1);
      await eventually(async () => (await getNumber(t, team, id)).status === 'active');
      return getOrder(orderId);
    };
    expect(await t.gw.services.sweeper.sweep()).toMatchObject({ settled: 1 });
    carrier.getOrder = getOrder;
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });
    expect(t.logs.some((l) => l.msg === 'carrier confirmed an order nobody waits for; releasing it')).toBe(false);
    // The carrier still holds it for us: not offered to anyone else.
    expect(await offered(t, e164!)).toBe(false);
    const orderId = await t.sql.value<string>('SELECT order_id FROM phone_numbers WHERE id = ?', id);
    expect((await carrier.getOrder(orderId)).status).toBe('active');
    // A carrier repeating its confirmation changes nothing either.
    await t.gw.services.provisioning.applyOrderUpdate({ orderId, e164: e164!, status: 'active' });
    expect(await offered(t, e164!)).toBe(false);
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });
    expect((await carrier.getOrder(orderId)).status).toBe('active');
  });

  it('a crash right after the number was recorded, before the carrier order: error at start, number back in the pool', async () => {
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const first = await start({ clock });
    const team = await createTeam(first, 'crash-before-order', 'free');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '214' });
    const addr = await first.gw.listen();
    // The carrier call never returns: the process "dies" while placing the order.
    sim(first).placeOrder = () => new Promise(() => {});
    const pending = fetch(`http://127.0.0.1:${addr.port}/api/phone-numbers/purchase`, {
      method: 'POST',
      headers: { ...team.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ phoneNumber: e164, teamId: team.id }),
    }).catch(() => null);
    const found = await eventually(
      async () =>
        (await first.sql.get('SELECT id, status, order_id FROM phone_numbers WHERE e164 = ?', e164)) as
          { id: string; status: string; order_id: string | null } | undefined,
    );
    const row = found!;
    expect(row).toMatchObject({ status: 'purchasing', order_id: null });
    await stop(first);
    await pending;

    // Within the grace a carrier request may take, another instance could be
    // placing this very order: it is left alone. Past it, it is settled.
    const early = await start({ clock, dbPath: first.dbPath });
    expect(await getNumber(early, team, row.id)).toMatchObject({ status: 'purchasing' });
    await stop(early);
    clock.advance(ORDER_GRACE_MS + 1);
    const second = await start({ clock, dbPath: first.dbPath });
    expect(await getNumber(second, team, row.id)).toMatchObject({ status: 'error', failureReason: 'order_not_placed' });
    expect(await offered(second, e164!)).toBe(true);
    expect(await numbersHeld(second, team)).toBe(0);
    // And it can be bought again.
    const again = await buy(second, team, e164!);
    await eventually(async () => (await getNumber(second, team, again)).status === 'active');
  });

  it('a purchasing row whose order id was never saved is error after restart; the orphan carrier order is given back', async () => {
    const clock = new ManualClock(Date.parse('2026-04-01T10:00:00Z'));
    const env = { SIM_PROVISION_MS: '20000' };
    const first = await start({ clock, env });
    const team = await createTeam(first, 'lost-order-id', 'starter');
    const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '215' });
    const id = await buy(first, team, e164!);
    // The order was placed, but the process died before storing its id.
    await first.sql.run('UPDATE phone_numbers SET order_id = NULL WHERE id = ?', id);
    await stop(first);

    clock.advance(ORDER_GRACE_MS + 1 * SEC);
    const second = await start({ clock, env, dbPath: first.dbPath });
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'error', failureReason: 'order_not_placed' });
    expect(await numbersHeld(second, team)).toBe(0);

    // The orphan carrier order is released at once (found by the number it holds),
    // so the number is back in the pool without waiting for the carrier.
    await eventually(() => offered(second, e164!));
    clock.advance(20 * SEC);
    expect(await sim(second).processDue()).toBe(0);
    expect(await getNumber(second, team, id)).toMatchObject({ status: 'error' });
    const held = (await second.sql.get(`SELECT count(*) AS n FROM phone_numbers WHERE e164 = ? AND status IN ('purchasing','active','suspended')`, e164)) as {
      n: number;
    };
    expect(held.n).toBe(0);
  });
});
