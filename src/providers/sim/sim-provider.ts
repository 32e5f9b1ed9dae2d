/**
 * The simulated carrier: a real inventory (fixtures/inventory, loaded into its
 * own tables) and asynchronous provisioning with a configurable delay and
 * failure rate. It is the embedded default provider, so `npm start` sells
 * numbers with no carrier account, through the same NumberProvider interface
 * a Twilio or Telnyx provider implements.
 *
 * Its state (inventory holds, orders) is in the same SQLite file, so orders
 * placed before a restart complete after it, as they would at a real carrier.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { AvailableNumber } from '../../domain/types.js';
import type { SimCarrierStore } from '../../services/ports.js';
import { COUNTRIES } from '../../domain/phone.js';
import {
  ProviderError,
  type NumberProvider,
  type OrderStatus,
  type OrderUpdate,
  type PlacedOrder,
  type ProviderCapabilities,
  type SearchFilters,
} from '../provider.js';

export interface SimProviderOptions {
  provisionMs: number;
  failureRate: number;
  clock: Clock;
  /** Source of randomness for failures; injectable for tests. */
  random?: () => number;
  /** Where a failure inside a timer goes (it must not end the process). */
  onError?: (err: unknown) => void;
}

export class SimProvider implements NumberProvider {
  readonly name = 'sim' as const;
  private readonly listeners: Array<(u: OrderUpdate) => void> = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private readonly random: () => number;
  /** lower-cased city/region → the spelling stored, per country (matching is case-insensitive, umlauts included). */
  private names: Map<string, string> | null = null;

  constructor(
    private readonly db: SimCarrierStore,
    private readonly opts: SimProviderOptions,
  ) {
    this.random = opts.random ?? Math.random;
  }

  capabilities(): ProviderCapabilities {
    return {
      countries: COUNTRIES,
      numberTypes: ['local', 'toll-free'],
      filters: { local: ['areaCode', 'state', 'city'], 'toll-free': ['prefix'] },
      pricing: 'per-number',
    };
  }

  async search(f: SearchFilters): Promise<AvailableNumber[]> {
    const q: Parameters<SimCarrierStore['search']>[0] = { countryCode: f.countryCode, numberType: f.numberType, limit: f.limit };
    if (f.numberType === 'local') {
      if (f.areaCode) q.areaCode = f.areaCode;
      if (f.city !== undefined) {
        const city = await this.canonical(f.countryCode, 'city', f.city);
        if (city === null) return [];
        q.city = city;
      }
      if (f.region !== undefined) {
        const region = await this.canonical(f.countryCode, 'region', f.region);
        if (region === null) return [];
        q.region = region;
      }
    } else if (f.prefix) {
      q.areaCode = f.prefix;
    }
    return this.db.search(q);
  }

  async quote(e164: string): Promise<AvailableNumber | null> {
    return (await this.db.quote(e164)) ?? null;
  }

  async placeOrder(number: AvailableNumber): Promise<PlacedOrder> {
    const id = `SO${randomUUID().replaceAll('-', '')}`;
    const now = this.opts.clock.now();
    const outcome = this.random() < this.opts.failureRate ? 'failed' : 'active';
    const readyAt = now + this.opts.provisionMs;
    if (!(await this.db.placeOrder({ id, e164: number.e164, outcome, readyAt, createdAt: now }))) {
      throw new ProviderError('sim', 'unavailable', `${number.e164} is no longer available at the simulated carrier.`);
    }
    this.arm(id, readyAt);
    return { outcome: 'pending', orderId: id };
  }

  async getOrder(orderId: string): Promise<{ status: OrderStatus; providerNumberId?: string; reason?: string }> {
    const status = await this.orderStatus(orderId);
    if (status === 'unknown') return { status: 'failed', reason: 'order_lost' }; // no such order: it never happened
    return status === 'active' ? { status, providerNumberId: orderId } : { status };
  }

  private async orderStatus(orderId: string): Promise<OrderStatus> {
    let status = await this.db.orderStatus(orderId);
    if (!status) return 'unknown';
    if (status === 'pending' && (await this.db.dueOrders(this.opts.clock.now())).includes(orderId)) {
      // A real carrier completes its orders whether or not the process that
      // placed them is still alive: settle a due order when asked about it.
      // Its result also reaches the listeners, like a timer's would.
      await this.complete(orderId);
      status = await this.db.orderStatus(orderId);
    }
    return status === 'released' ? 'failed' : (status ?? 'unknown');
  }

  async release(e164: string, orderId: string | null, _providerNumberId?: string | null): Promise<void> {
    // Exactly this order's hold. Without an order id there is nothing safe to
    // release: by now the number may be held by the next buyer's order. The
    // caller asks holdingOrder() while its row still holds the number, and
    // reconcileHolds() gives back any hold left without a holder.
    if (!orderId) return;
    await this.db.releaseOrder(orderId, e164);
    this.disarm(orderId);
  }

  holdingOrder(e164: string): Promise<string | null> {
    return this.db.holder(e164);
  }

  holds(): Promise<Array<{ e164: string; orderId: string }>> {
    return this.db.holds();
  }

  async importNumber(e164: string): Promise<{ number: AvailableNumber; providerNumberId: string }> {
    throw new ProviderError('sim', 'not_found', `The simulated carrier has no account numbers to import (${e164}); buy one instead.`);
  }

  /** The simulator keeps no account of its own beyond its orders: nothing to reconcile. */
  async owned(): Promise<null> {
    return null;
  }

  expectedVoiceTarget(): null {
    return null;
  }

  onOrderUpdate(listener: (u: OrderUpdate) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.stopped = false;
    for (const o of await this.db.pendingOrders()) this.arm(o.id, o.readyAt);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Completes every pending order whose time has come. Timers call it; tests may too. */
  async processDue(): Promise<number> {
    const due = await this.db.dueOrders(this.opts.clock.now());
    for (const id of due) await this.complete(id);
    return due.length;
  }

  private async complete(orderId: string): Promise<void> {
    this.disarm(orderId);
    // Settled once, whichever process's timer fires first: the others find it no longer pending.
    const done = await this.db.completeOrder(orderId);
    if (!done) return;
    const update: OrderUpdate =
      done.outcome === 'failed'
        ? { orderId, e164: done.e164, status: 'failed', reason: 'carrier_rejected' }
        : { orderId, e164: done.e164, status: 'active', providerNumberId: orderId };
    for (const l of this.listeners) l(update);
  }

  private arm(orderId: string, readyAt: number): void {
    if (this.stopped) return;
    this.disarm(orderId);
    const delay = Math.max(0, readyAt - this.opts.clock.now());
    const t = setTimeout(() => {
      this.timers.delete(orderId);
      if (this.stopped) return;
      // The order stays pending in the carrier's table on failure: the next
      // start() re-arms it, and the gateway's provisioning deadline settles it meanwhile.
      this.complete(orderId).catch((err: unknown) => this.opts.onError?.(err));
    }, delay);
    t.unref();
    this.timers.set(orderId, t);
  }

  private disarm(orderId: string): void {
    const t = this.timers.get(orderId);
    if (t) {
      clearTimeout(t);
      this.timers.delete(orderId);
    }
  }

  private async canonical(country: string, field: 'city' | 'region', value: string): Promise<string | null> {
    if (!this.names) {
      const names = new Map<string, string>();
      for (const r of await this.db.places()) {
        if (r.city) names.set(`${r.countryCode}|city|${r.city.toLowerCase()}`, r.city);
        if (r.region) names.set(`${r.countryCode}|region|${r.region.toLowerCase()}`, r.region);
      }
      this.names = names;
    }
    return this.names.get(`${country}|${field}|${value.trim().toLowerCase()}`) ?? null;
  }
}
