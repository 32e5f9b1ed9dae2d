// One /metrics view over a cluster's workers (src/cluster-metrics.ts), with
// real prom-client registries standing for the workers: counters and
// histograms add up, gauges are summed unless they name another aggregator,
// and a worker that dies (or does not answer) takes none of its counts with
// it: the totals never go back. Also the replacement delays (src/cluster.ts).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ClusterMetrics, type MetricSnapshot } from '../../src/cluster-metrics.js';
import { restartDelay } from '../../src/cluster.js';

/** A worker's registry: the kinds of metric the gateway has. */
function worker() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    calls: new Counter({ name: 'calls_total', help: 'calls', labelNames: ['decision'], registers }),
    seconds: new Histogram({ name: 'webhook_seconds', help: 'latency', buckets: [0.01, 0.1], registers }),
    live: new Gauge({ name: 'bridges_open', help: 'live', registers }),
    batchMax: new Gauge({ name: 'batch_max', help: 'max', registers, aggregator: 'max' }),
    started: new Gauge({ name: 'start_time_seconds', help: 'start', registers, aggregator: 'omit' }),
    // Copied, as the IPC channel does (getMetricsAsJSON hands out the live objects).
    snapshot: async () => JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as MetricSnapshot[],
  };
}
type W = ReturnType<typeof worker>;

/** Sample lines of the exposition text: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** One scrape: the answering workers' snapshots, given to the aggregator as the primary does. */
async function scrape(cm: ClusterMetrics, answering: Record<number, W>): Promise<Map<string, number>> {
  const answers = new Map<number, MetricSnapshot[]>();
  for (const [id, w] of Object.entries(answering)) {
    const s = await w.snapshot();
    cm.answered(Number(id), s);
    answers.set(Number(id), s);
  }
  return samples(await cm.render(answers));
}

describe('the cluster view', () => {
  it('adds up counters and histograms, sums gauges, takes the maximum where asked, omits what is per process', async () => {
    const [a, b] = [worker(), worker()];
    a.calls.inc({ decision: 'connect' }, 3);
    b.calls.inc({ decision: 'connect' }, 4);
    b.calls.inc({ decision: 'reject' }, 2);
    a.seconds.observe(0.005);
    b.seconds.observe(0.05);
    b.seconds.observe(0.5);
    a.live.set(2);
    b.live.set(5);
    a.batchMax.set(7);
    b.batchMax.set(3);
    a.started.set(1000);
    b.started.set(2000);
    const s = await scrape(new ClusterMetrics(), { 1: a, 2: b });
    expect(s.get('calls_total{decision="connect"}')).toBe(7);
    expect(s.get('calls_total{decision="reject"}')).toBe(2);
    expect(s.get('webhook_seconds_bucket{le="0.01"}')).toBe(1);
    expect(s.get('webhook_seconds_bucket{le="0.1"}')).toBe(2);
    expect(s.get('webhook_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(s.get('webhook_seconds_count')).toBe(3);
    expect(s.get('webhook_seconds_sum')).toBeCloseTo(0.555, 9);
    expect(s.get('bridges_open')).toBe(7);
    expect(s.get('batch_max')).toBe(7);
    expect(s.has('start_time_seconds')).toBe(false);
  });

  it('keeps the counts of a worker that exited, but not its gauges; the totals never go back', async () => {
    const cm = new ClusterMetrics();
    const [a, b] = [worker(), worker()];
    a.calls.inc({ decision: 'connect' }, 10);
    a.seconds.observe(0.005);
    a.live.set(4);
    b.calls.inc({ decision: 'connect' }, 5);
    expect((await scrape(cm, { 1: a, 2: b })).get('calls_total{decision="connect"}')).toBe(15);

    // Worker 1 dies (kill -9); worker 3 replaces it and counts from zero.
    cm.retire(1);
    const c = worker();
    c.calls.inc({ decision: 'connect' }, 1);
    b.calls.inc({ decision: 'connect' }, 1);
    const after = await scrape(cm, { 2: b, 3: c });
    expect(after.get('calls_total{decision="connect"}')).toBe(10 + 6 + 1);
    expect(after.get('webhook_seconds_count')).toBe(1);
    expect(after.get('bridges_open'), 'a dead worker has no live bridges').toBe(0);

    // Without the carry-over the total would drop from 15 to 7: the check can fail.
    const plain = await scrape(new ClusterMetrics(), { 2: b, 3: c });
    expect(plain.get('calls_total{decision="connect"}')).toBe(7);
  });

  it('a worker that does not answer a scrape keeps its counts in it (its last answer), not its gauges', async () => {
    const cm = new ClusterMetrics();
    const [a, b] = [worker(), worker()];
    a.calls.inc({ decision: 'connect' }, 8);
    a.live.set(3);
    b.calls.inc({ decision: 'connect' }, 2);
    b.live.set(1);
    await scrape(cm, { 1: a, 2: b });
    a.calls.inc({ decision: 'connect' }, 100); // counted after its last answer: not seen
    b.calls.inc({ decision: 'connect' });
    const s = await scrape(cm, { 2: b });
    expect(s.get('calls_total{decision="connect"}')).toBe(8 + 3);
    expect(s.get('bridges_open')).toBe(1);
  });

  it('never serves a cumulative series lower than before, whatever the workers say', async () => {
    const cm = new ClusterMetrics();
    const a = worker();
    a.calls.inc({ decision: 'connect' }, 9);
    a.live.set(9);
    expect((await scrape(cm, { 1: a })).get('calls_total{decision="connect"}')).toBe(9);
    // A worker whose counter went down (reset): the counter holds, the gauge follows.
    a.calls.reset();
    a.calls.inc({ decision: 'connect' }, 4);
    a.live.set(2);
    const s = await scrape(cm, { 1: a });
    expect(s.get('calls_total{decision="connect"}')).toBe(9);
    expect(s.get('bridges_open')).toBe(2);
    a.calls.inc({ decision: 'connect' }, 10);
    expect((await scrape(cm, { 1: a })).get('calls_total{decision="connect"}')).toBe(14);
  });

  it("adds the primary's own metrics", async () => {
    const own = new Registry();
    new Gauge({ name: 'cluster_workers', help: 'workers', registers: [own] }).set(2);
    const cm = new ClusterMetrics();
    const a = worker();
    const s = samples(await cm.render(new Map([[1, await a.snapshot()]]), (await own.getMetricsAsJSON()) as unknown as MetricSnapshot[]));
    expect(s.get('cluster_workers')).toBe(2);
  });
});

describe('replacing a worker that died', () => {
  it('waits 100 ms after the first death, doubling while replacements keep dying, never more than 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map(restartDelay)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });
});
