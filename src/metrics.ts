/**
 * Prometheus metrics (prom-client), one registry per gateway so several
 * gateways in one process (tests) do not collide. Label sets are bounded:
 * carriers, decisions, reasons, outcomes; never a phone number or an id.
 * Values that live elsewhere (cache stats, live bridges, relayed frames) are
 * read at scrape time, so the hot paths only bump plain counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MediaStats } from './media/bridge.js';
import type { LiveCallRegistry } from './media/registry.js';
import type { CallRecorder } from './routing/call-recorder.js';
import type { RoutingTable } from './routing/routing-table.js';
import type { NumberEvents } from './services/numbers/events.js';
import type { DriftEvents } from './services/numbers/reconcile.js';
import type { RoutingFeed } from './services/ports.js';
import type { Faults } from './faults.js';

export interface MetricSources {
  routing: RoutingTable;
  liveCalls: LiveCallRegistry;
  media: MediaStats;
  recorder: CallRecorder;
  faults: Faults;
  feed: RoutingFeed;
}

/** Sets a counter to an absolute, monotonic value read from elsewhere. */
function mirror(c: Counter, value: number, labels?: Record<string, string>): void {
  if (labels) {
    c.remove(labels);
    c.inc(labels, value);
  } else {
    c.reset();
    c.inc(value);
  }
}

export class Metrics implements NumberEvents, DriftEvents {
  readonly registry = new Registry();
  readonly calls: Counter<'carrier' | 'decision' | 'reason'>;
  readonly webhookSeconds: Histogram<'carrier' | 'action'>;
  readonly webhooksRejected: Counter<'carrier' | 'code'>;
  private readonly purchases: Counter<'outcome'>;
  private readonly provisioning: Counter<'result'>;
  private readonly provisioningSeconds: Histogram;
  private readonly trialExpiries: Counter;
  readonly rateLimited: Counter<'kind'>;
  readonly connectionsRefused: Counter;
  private readonly invalidationSeconds: Histogram<'acknowledged'>;
  private readonly driftGauge: Gauge<'provider' | 'kind'>;

  constructor(src: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
    this.calls = new Counter({
      name: 'switchboard_calls_total',
      help: 'Inbound calls answered, by carrier and routing decision (reason for rejects).',
      labelNames: ['carrier', 'decision', 'reason'],
      registers,
    });
    this.webhookSeconds = new Histogram({
      name: 'switchboard_webhook_duration_seconds',
      help: 'Time from a carrier webhook arriving to its answer being sent, including the call record commit.',
      labelNames: ['carrier', 'action'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.webhooksRejected = new Counter({
      name: 'switchboard_webhook_errors_total',
      help: 'Carrier webhooks answered with an error, by code (INVALID_SIGNATURE, UNAVAILABLE, ...).',
      labelNames: ['carrier', 'code'],
      registers,
    });
    // Mirrored counters read their source in their own collect(): a registry
    // scrapes metrics in registration order, so mirroring them from a gauge's
    // collect() registered after them served the previous scrape's values.
    new Counter({
      name: 'switchboard_routing_cache_hits_total',
      help: 'Routing lookups served from memory.',
      registers,
      collect() {
        mirror(this, src.routing.stats.hits);
      },
    });
    new Counter({
      name: 'switchboard_routing_cache_misses_total',
      help: 'Routing lookups that read the database.',
      registers,
      collect() {
        mirror(this, src.routing.stats.misses);
      },
    });
    new Counter({
      name: 'switchboard_routing_cache_invalidations_total',
      help: 'Numbers dropped from the routing cache by writes.',
      registers,
      collect() {
        mirror(this, src.routing.stats.invalidations);
      },
    });
    new Gauge({
      name: 'switchboard_routing_cache_entries',
      help: 'Routing cache entries (positive and negative).',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = src.routing.snapshotStats();
        this.set({ kind: 'positive' }, s.size);
        this.set({ kind: 'negative' }, s.negativeSize);
      },
    });
    new Counter({
      name: 'switchboard_media_frames_relayed_total',
      help: 'Media frames relayed, by direction.',
      labelNames: ['direction'],
      registers,
      collect() {
        mirror(this, src.media.framesToAssistant, { direction: 'to_assistant' });
        mirror(this, src.media.framesToCarrier, { direction: 'to_carrier' });
      },
    });
    new Counter({
      name: 'switchboard_media_frames_dropped_total',
      help: "Media frames not relayed, by why: bad_frame (a carrier's frame with an unknown event, bad JSON or bad base64), late (arrived after the reorder window), untranslatable (an assistant frame the carrier's dialect cannot carry), binary_to_carrier (binary frames for a JSON-only carrier).",
      labelNames: ['reason'],
      registers,
      collect() {
        const t = src.media.translation;
        mirror(this, t.badFrames, { reason: 'bad_frame' });
        mirror(this, t.lateFrames, { reason: 'late' });
        mirror(this, t.untranslatable, { reason: 'untranslatable' });
        mirror(this, src.media.droppedBinaryToCarrier, { reason: 'binary_to_carrier' });
      },
    });
    new Counter({
      name: 'switchboard_media_frames_translated_total',
      help: "Media frames translated between a carrier's dialect and Twilio Media Streams (Telnyx).",
      registers,
      collect() {
        mirror(this, src.media.translation.translated);
      },
    });
    new Counter({
      name: 'switchboard_media_frames_reordered_total',
      help: 'Media frames that arrived early and were held to be put back in order.',
      registers,
      collect() {
        mirror(this, src.media.translation.reordered);
      },
    });
    new Counter({
      name: 'switchboard_media_carrier_errors_total',
      help: 'Error events a carrier reported on a media stream.',
      registers,
      collect() {
        mirror(this, src.media.translation.carrierErrors);
      },
    });
    new Counter({
      name: 'switchboard_media_bridges_total',
      help: 'Media bridges started, by result.',
      labelNames: ['result'],
      registers,
      collect() {
        mirror(this, src.media.bridgesOpened, { result: 'opened' });
        mirror(this, src.media.bridgesFailed, { result: 'assistant_unreachable' });
      },
    });
    new Gauge({
      name: 'switchboard_media_bridges_open',
      help: 'Live media bridges (calls in progress).',
      registers,
      collect() {
        this.set(src.liveCalls.size);
      },
    });
    new Counter({
      name: 'switchboard_call_record_commits_total',
      help: 'Group commits of call records.',
      registers,
      collect() {
        mirror(this, src.recorder.stats.batches);
      },
    });
    new Gauge({
      name: 'switchboard_call_record_batch_max',
      help: 'Largest number of call records committed in one transaction.',
      registers,
      // Summed over a cluster's workers, a maximum would mean nothing.
      aggregator: 'max',
      collect() {
        this.set(src.recorder.stats.maxBatch);
      },
    });
    this.purchases = new Counter({ name: 'switchboard_purchases_total', help: 'Number purchases, by outcome.', labelNames: ['outcome'], registers });
    this.provisioning = new Counter({ name: 'switchboard_provisioning_total', help: 'Carrier orders settled, by result.', labelNames: ['result'], registers });
    this.provisioningSeconds = new Histogram({
      name: 'switchboard_provisioning_duration_seconds',
      help: 'Time from purchase to the carrier confirming or failing the order.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    });
    this.trialExpiries = new Counter({ name: 'switchboard_trial_expiries_total', help: 'Trial numbers released at expiry.', registers });
    this.rateLimited = new Counter({ name: 'switchboard_rate_limited_total', help: 'Requests refused with 429.', labelNames: ['kind'], registers });
    this.driftGauge = new Gauge({
      name: 'switchboard_provider_drift',
      help: "Differences the last reconciliation found between a provider's account and the database, by kind.",
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.invalidationSeconds = new Histogram({
      name: 'switchboard_routing_invalidation_seconds',
      help: 'How long a routing write waited for every other live instance to drop the old entry (PostgreSQL); acknowledged="false" when the bound passed first.',
      labelNames: ['acknowledged'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    new Counter({
      name: 'switchboard_routing_cache_fenced_total',
      help: 'Lookups served from the database because this instance could not vouch for its cache (PostgreSQL connection lost).',
      registers,
      collect() {
        mirror(this, src.routing.stats.fenced);
      },
    });
    new Counter({
      name: 'switchboard_routing_feed_changes_total',
      help: "Numbers dropped from this instance's cache because another instance changed them.",
      registers,
      collect() {
        mirror(this, src.feed.stats.externalChanges);
      },
    });
    this.connectionsRefused = new Counter({
      name: 'switchboard_connections_refused_total',
      help: 'Connections closed at once because their address already had SWITCHBOARD_MAX_CONNECTIONS_PER_IP open.',
      registers,
    });
    new Counter({
      name: 'switchboard_internal_errors_total',
      help: 'Unexpected errors contained at an entry point (a bug: one request or socket ended, never the process), by where.',
      labelNames: ['where'],
      registers,
      collect() {
        for (const [where, n] of src.faults.counts) mirror(this, n, { where });
      },
    });
  }

  /**
   * The text GET /metrics answers: this registry's. A cluster worker replaces
   * it with the whole cluster's view (src/cluster.ts), so the gateway itself
   * knows nothing of clusters.
   */
  exposition: () => Promise<string> = () => this.registry.metrics();

  private readonly children = new Map<string, { inc(): void } | { observe(v: number): void }>();

  /** Counts an answered call. Labelled children are cached: no label hashing per call. */
  countCall(carrier: string, decision: string, reason: string): void {
    const key = `c|${carrier}|${decision}|${reason}`;
    let child = this.children.get(key) as { inc(): void } | undefined;
    if (!child) this.children.set(key, (child = this.calls.labels(carrier, decision, reason)));
    child.inc();
  }

  observeWebhook(carrier: string, action: string, seconds: number): void {
    const key = `w|${carrier}|${action}`;
    let child = this.children.get(key) as { observe(v: number): void } | undefined;
    if (!child) this.children.set(key, (child = this.webhookSeconds.labels(carrier, action)));
    child.observe(seconds);
  }

  purchase(outcome: string): void {
    this.purchases.inc({ outcome });
  }
  provisioned(result: 'active' | 'error', ms: number): void {
    this.provisioning.inc({ result });
    this.provisioningSeconds.observe(ms / 1000);
  }
  trialExpired(): void {
    this.trialExpiries.inc();
  }
  drift(provider: string, kind: string, count: number): void {
    this.driftGauge.set({ provider, kind }, count);
  }
  /** Forgets the drift figures: only the sweeper's lease holder reconciles, so only it reports them (summed over processes, a former holder's would be stale). */
  clearDrift(): void {
    this.driftGauge.reset();
  }
  observeInvalidation(ms: number, acknowledged: boolean): void {
    this.invalidationSeconds.observe({ acknowledged: String(acknowledged) }, ms / 1000);
  }
}
