/**
 * A number provider: where Switchboard buys phone numbers. The simulated
 * carrier (`sim`, the embedded default), Twilio and Telnyx implement this one
 * port; the services never know which one they talk to (the numbers carry
 * their provider's name, and the registry finds it).
 *
 * Ordering is asynchronous in general (Telnyx's number orders are `pending`
 * for a while; the simulator waits SIM_PROVISION_MS), immediate for some
 * (Twilio buys in one request): placeOrder says which, and later results
 * arrive through onOrderUpdate (a webhook, a timer) or getOrder (polling,
 * recovery after a restart).
 *
 * Errors: a provider throws ProviderError with a kind the services map to
 * the API's codes. `outcome: 'unknown'` on an order means the request may or
 * may not have reached the provider (a timeout): the number then stays
 * `purchasing` and getOrder finds out, so a number is never bought twice and
 * a bought one never lost.
 */
import type { Country } from '../domain/phone.js';
import type { AvailableNumber, NumberType } from '../domain/types.js';

export type ProviderName = 'sim' | 'twilio' | 'telnyx';
export const PROVIDER_NAMES: readonly ProviderName[] = ['sim', 'twilio', 'telnyx'];

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

/** The API's search filters (POST /api/phone-numbers/search `filters`), by their API names. */
export type SearchFilterName = 'areaCode' | 'state' | 'city' | 'prefix';

/** What the Buy dialog needs to render a provider (GET /api/providers). */
export interface ProviderCapabilities {
  countries: readonly Country[];
  numberTypes: readonly NumberType[];
  /** The search filters this provider honours, by number type, named as the API names them (`state`, not `region`). */
  filters: { local: readonly SearchFilterName[]; 'toll-free': readonly SearchFilterName[] };
  /** Whether search results carry a monthly cost (Twilio prices by country and type; Telnyx per number). */
  pricing: 'per-number' | 'per-country' | 'none';
}

export type OrderStatus = 'pending' | 'active' | 'failed' | 'unknown';

/** The result of placing an order. */
export type PlacedOrder =
  /** The provider owns the number for us already (Twilio). */
  | { outcome: 'active'; orderId: string; providerNumberId: string }
  /** Accepted; the result comes later (Telnyx, the simulator). */
  | { outcome: 'pending'; orderId: string }
  /**
   * We cannot tell whether it happened (a timeout, a 5xx after sending). The
   * number stays purchasing; getOrder(orderId) finds out later.
   */
  | { outcome: 'unknown'; orderId: string };

export type OrderUpdate =
  { orderId: string; e164: string; status: 'active'; providerNumberId?: string } | { orderId: string; e164: string; status: 'failed'; reason: string };

/** A number the provider account owns (reconciliation, import). */
export interface OwnedNumber {
  e164: string;
  providerNumberId: string;
  /** Where its calls go: Twilio's voice URL, Telnyx's connection id. Null when the provider does not say. */
  voiceTarget: string | null;
}

/** How a provider call failed, in terms the API can answer with. */
export type ProviderErrorKind =
  /** Sold or reserved meanwhile, or not sellable (409 NUMBER_UNAVAILABLE). */
  | 'unavailable'
  /** An address, bundle or document is needed first (409 REGULATORY_REQUIREMENTS). */
  | 'regulatory'
  /** Our credentials were refused: an operator problem (502 PROVIDER_AUTH_FAILED). */
  | 'auth'
  /** Unreachable, timed out, 5xx, rate limited (502 PROVIDER_UNAVAILABLE, Retry-After). */
  | 'unavailable_provider'
  /** An answer we could not understand (502 PROVIDER_BAD_RESPONSE). */
  | 'bad_response'
  /** The provider says the request itself was wrong (400 INVALID_REQUEST): a bad filter value, say. */
  | 'invalid_request'
  /** Not found at the provider (import of a number the account does not own: 404). */
  | 'not_found';

export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details?: { status?: number; code?: string | number; retryAfterS?: number },
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface NumberProvider {
  readonly name: ProviderName;
  capabilities(): ProviderCapabilities;
  /** Numbers nobody holds, matching the filters, at most filters.limit. */
  search(filters: SearchFilters): Promise<AvailableNumber[]>;
  /** The number's details if the provider can sell it now, else null. */
  quote(e164: string): Promise<AvailableNumber | null>;
  /**
   * Orders a number. `reference` is the gateway's number id, for the
   * provider's records (Telnyx's customer_reference) and idempotence.
   */
  placeOrder(number: AvailableNumber, reference: string): Promise<PlacedOrder>;
  /** Where an order stands: pending, active (with the provider's id for the number), failed, unknown. */
  getOrder(orderId: string, e164: string): Promise<{ status: OrderStatus; providerNumberId?: string; reason?: string }>;
  /**
   * Gives the number back (release, failed or abandoned order). Idempotent.
   * With an order id: exactly that order's hold, never whichever order holds
   * the number by then (that may be the next buyer's); releasing an order
   * that no longer holds the number does nothing.
   */
  release(e164: string, orderId: string | null, providerNumberId: string | null): Promise<void>;
  /**
   * For providers whose holds are orders this gateway placed (the simulated
   * carrier): the order through which the number is held for us now, or null.
   */
  holdingOrder?(e164: string): Promise<string | null>;
  /**
   * Every hold this gateway's orders have at the provider, for giving back
   * the ones no number of ours holds (a crash between a release's commit and
   * the provider's release). Only the simulated carrier: a real account may
   * hold numbers for other reasons, so those are reported as drift, never
   * released (the Reconciler).
   */
  holds?(): Promise<Array<{ e164: string; orderId: string }>>;
  /**
   * Bring your own number: the account must own it already; points its calls
   * at this gateway. Throws ProviderError('not_found') when it does not.
   */
  importNumber(e164: string): Promise<{ number: AvailableNumber; providerNumberId: string }>;
  /** Every number the account owns (reconciliation), or null when the provider cannot list them. */
  owned(): Promise<OwnedNumber[] | null>;
  /** The voice target this gateway expects numbers to have (drift is any other). */
  expectedVoiceTarget(): string | null;
  onOrderUpdate(listener: (update: OrderUpdate) => void): void;
  /**
   * Follows an order placed before a restart (or by another instance) until
   * it settles; its result then reaches onOrderUpdate (recovery calls it for
   * every number still purchasing whose getOrder answer is pending).
   * Providers that keep their own record of orders (the simulator) or settle
   * at once (Twilio) need not implement it.
   */
  track?(orderId: string, e164: string): void;
  /**
   * A webhook about numbers from the provider (Telnyx's number_order.complete),
   * already verified by its carrier endpoint; its result reaches
   * onOrderUpdate. Answers what it did with it.
   */
  handleEvent?(body: unknown): Promise<'settled' | 'duplicate' | 'ignored'>;
  /** Resumes work that survived a restart (a real carrier keeps going while we are down). */
  start(): Promise<void>;
  stop(): void;
}

/** The providers this gateway was configured with, and which of them sell new numbers. */
export interface ProviderSet {
  /** Used when a search or purchase names none. */
  readonly defaultName: ProviderName;
  /** Offered for new searches, purchases and imports (SWITCHBOARD_PROVIDERS). */
  readonly offered: readonly ProviderName[];
  /** Any configured provider, offered or not (a number bought before keeps its provider). */
  get(name: string): NumberProvider | undefined;
  all(): readonly NumberProvider[];
}
