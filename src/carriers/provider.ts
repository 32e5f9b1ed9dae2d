/**
 * What Switchboard needs from a carrier to sell numbers: search its inventory,
 * order a number, learn the order's result, release it. The simulated carrier
 * (carriers/sim) implements this; a Twilio or Telnyx provider implements the
 * same interface with their REST APIs (carriers.md, "numbers REST API").
 *
 * Provisioning is asynchronous on every real carrier, so it is here too: an
 * order is placed, and its result arrives later through onOrderUpdate.
 */
import type { Country } from '../domain/phone.js';
import type { AvailableNumber, NumberType } from '../domain/types.js';

export interface SearchFilters {
  countryCode: Country;
  numberType: NumberType;
  areaCode?: string | undefined;
  region?: string | undefined;
  city?: string | undefined;
  /** Toll-free prefix such as 800 or 888. */
  prefix?: string | undefined;
  limit: number;
}

export type OrderStatus = 'pending' | 'active' | 'failed' | 'unknown';

export type OrderUpdate =
  | { orderId: string; e164: string; status: 'active' }
  | { orderId: string; e164: string; status: 'failed'; reason: string };

export interface NumberProvider {
  readonly name: string;
  /** Numbers nobody holds, matching the filters, at most filters.limit. */
  search(filters: SearchFilters): Promise<AvailableNumber[]>;
  /** The number's details if the carrier can sell it now, else null. */
  quote(e164: string): Promise<AvailableNumber | null>;
  /** Places an order. Resolves once the carrier has accepted it; the result comes later. */
  placeOrder(number: AvailableNumber): Promise<{ orderId: string }>;
  /** Where an order stands, for resuming after a restart. */
  getOrder(orderId: string): Promise<OrderStatus>;
  /**
   * Gives the number back to the carrier (release, failed or abandoned
   * order): exactly this order's hold, never whichever order holds the
   * number by then (that may be the next buyer's). Releasing an order that
   * no longer holds the number does nothing.
   */
  release(e164: string, orderId: string): Promise<void>;
  /** The order through which the carrier holds this number for us now, or null. */
  holdingOrder(e164: string): Promise<string | null>;
  /** Every number the carrier holds for us, with its order: what reconciliation compares with our rows. */
  holds(): Promise<Array<{ e164: string; orderId: string }>>;
  onOrderUpdate(listener: (update: OrderUpdate) => void): void;
  /** Resumes work that survived a restart (a real carrier keeps going while we are down). */
  start(): Promise<void>;
  stop(): void;
}
