/**
 * The carriers this gateway speaks, in one table. Adding a carrier is its own
 * folder (a `define(config, ctx)` returning a Carrier) plus one line below;
 * nothing else in the gateway names a carrier (docs/architecture.md).
 */
import type { Config } from '../config.js';
import type { Carrier, CarrierContext, MediaDialect, StreamIdentity } from './carrier.js';
import * as generic from './generic/index.js';
import * as telnyx from './telnyx/index.js';
import * as twilio from './twilio/index.js';

type CarrierConfig = Pick<Config, 'twilioAuthToken' | 'webhookSecret' | 'telnyxPublicKey'>;

const CARRIERS: ReadonlyArray<(c: CarrierConfig, ctx: CarrierContext) => Carrier> = [
  (c, ctx) => twilio.define({ authToken: c.twilioAuthToken }, ctx),
  (c, ctx) => telnyx.define({ publicKey: c.telnyxPublicKey }, ctx),
  (c, ctx) => generic.define({ secret: c.webhookSecret }, ctx),
];

export type WebhookAction = 'inbound' | 'status' | 'connect-action' | 'events';

export class CarrierSet {
  readonly all: readonly Carrier[];
  private readonly byName = new Map<string, Carrier>();
  private readonly routes = new Map<string, readonly [Carrier, WebhookAction]>();

  constructor(carriers: readonly Carrier[]) {
    this.all = carriers;
    for (const c of carriers) {
      if (this.byName.has(c.name)) throw new Error(`two carriers are named ${c.name}`);
      this.byName.set(c.name, c);
      this.routes.set(`/carriers/${c.name}/${c.endpoints.inbound}`, [c, 'inbound']);
      this.routes.set(`/carriers/${c.name}/${c.endpoints.status}`, [c, 'status']);
      if (c.endpoints.connectAction) this.routes.set(`/carriers/${c.name}/${c.endpoints.connectAction}`, [c, 'connect-action']);
      if (c.endpoints.events) this.routes.set(`/carriers/${c.name}/${c.endpoints.events}`, [c, 'events']);
    }
  }

  get(name: string): Carrier | undefined {
    return this.byName.get(name);
  }

  /** The carrier and action of a webhook path, if it is one. */
  route(path: string): readonly [Carrier, WebhookAction] | undefined {
    return this.routes.get(path);
  }

  /** The carrier whose media endpoint this is, with how its streams identify themselves. */
  media(path: string, queryParam: (name: string) => string | null): { carrier: Carrier; dialect: MediaDialect; identity: StreamIdentity } | null {
    for (const carrier of this.all) {
      const identity = carrier.media.match(path, queryParam);
      if (identity) return { carrier, dialect: carrier.media, identity };
    }
    return null;
  }

  /** The media endpoints, for messages. */
  get mediaPaths(): string {
    return this.all.map((c) => c.media.pathHint).join(', ');
  }

  /** The carrier a number from this provider calls out through. */
  forOutbound(provider: string): Carrier | undefined {
    return this.all.find((c) => c.outbound?.providers.includes(provider));
  }
}

export function buildCarriers(config: CarrierConfig, ctx: CarrierContext): CarrierSet {
  return new CarrierSet(CARRIERS.map((make) => make(config, ctx)));
}
