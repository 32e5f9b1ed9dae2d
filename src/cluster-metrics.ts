/**
 * One /metrics view over a cluster's workers (src/cluster.ts). The primary
 * asks every worker for its registry as JSON (prom-client's
 * getMetricsAsJSON) and sums the answers with prom-client's
 * AggregatorRegistry.aggregate: counters and histograms add up, gauges are
 * summed (live bridges) unless the metric names another aggregator (a
 * maximum, the Node version). The series and labels are those of one process,
 * so dashboards and alerts written for one process read a cluster unchanged.
 *
 * What a sum alone gets wrong is a worker that dies: its counts would vanish
 * from the totals, which Prometheus reads as a counter reset of the whole
 * cluster (rate() then jumps by everything counted so far). So the counts a
 * worker had at its last answer are kept after it exits (or while it does
 * not answer), and no cumulative series (counter, histogram bucket, sum and
 * count) is ever served lower than it was: what a killed worker counted after
 * its last scrape is lost, as with one process killed, but the totals never
 * go back.
 */
import { AggregatorRegistry } from 'prom-client';

/** One series of a metric, as getMetricsAsJSON gives it. */
export interface SeriesValue {
  value: number;
  labels: Record<string, string | number>;
  /** A histogram's part: name_bucket, name_sum, name_count. */
  metricName?: string;
}

/** One metric of a registry, as getMetricsAsJSON gives it (plain data: it crosses the IPC channel). */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: SeriesValue[];
}

/** Types whose series only ever grow in a live process. */
const CUMULATIVE = new Set(['counter', 'histogram']);

/** The cumulative metrics a summed snapshot may carry over: counters and histograms that are summed. */
function cumulative(snapshot: MetricSnapshot[]): MetricSnapshot[] {
  return snapshot.filter((m) => CUMULATIVE.has(m.type) && (m.aggregator === undefined || m.aggregator === 'sum'));
}

async function aggregate(parts: MetricSnapshot[][]): Promise<MetricSnapshot[]> {
  return (await AggregatorRegistry.aggregate(parts).getMetricsAsJSON()) as unknown as MetricSnapshot[];
}

const labelKey = (v: SeriesValue): string =>
  `${v.metricName ?? ''}|${Object.keys(v.labels)
    .sort()
    .map((k) => `${k}=${String(v.labels[k])}`)
    .join(',')}`;

/** Sums snapshots of summed metrics series by series, synchronously (no scrape can see a worker half-retired). */
function sum(parts: MetricSnapshot[][]): MetricSnapshot[] {
  const metrics = new Map<string, { metric: MetricSnapshot; series: Map<string, SeriesValue> }>();
  for (const part of parts) {
    for (const m of part) {
      let entry = metrics.get(m.name);
      if (!entry) metrics.set(m.name, (entry = { metric: { ...m, values: [] }, series: new Map() }));
      for (const v of m.values) {
        const key = labelKey(v);
        const had = entry.series.get(key);
        if (had) had.value += v.value;
        else entry.series.set(key, { ...v, labels: { ...v.labels } });
      }
    }
  }
  return [...metrics.values()].map(({ metric, series }) => ({ ...metric, values: [...series.values()] }));
}

export class ClusterMetrics {
  /** Each live worker's last answer. */
  private readonly last = new Map<number, MetricSnapshot[]>();
  /** The cumulative counts of workers that exited, summed. */
  private retired: MetricSnapshot[] = [];
  /** The last value served of every cumulative series. */
  private readonly served = new Map<string, number>();

  /** A worker's answer to a scrape. */
  answered(worker: number, snapshot: MetricSnapshot[]): void {
    this.last.set(worker, snapshot);
  }

  /** A worker exited: what it had counted at its last answer stays in the totals. */
  retire(worker: number): void {
    const s = this.last.get(worker);
    this.last.delete(worker);
    if (s) this.retired = sum([this.retired, cumulative(s)]);
  }

  /**
   * The cluster's exposition, from this scrape's answers (worker → snapshot,
   * already passed to answered()) and the primary's own metrics: the live
   * workers' answers summed, with the counts of workers gone (or silent this
   * time) kept, and no cumulative series below what was served before.
   */
  async render(answers: ReadonlyMap<number, MetricSnapshot[]>, own: MetricSnapshot[] = []): Promise<string> {
    const parts: MetricSnapshot[][] = [...answers.values(), own, this.retired];
    for (const [worker, s] of this.last) if (!answers.has(worker)) parts.push(cumulative(s));
    const summed = await aggregate(parts);
    for (const m of summed) {
      if (!CUMULATIVE.has(m.type)) continue;
      for (const v of m.values) {
        const key = `${m.name}|${labelKey(v)}`;
        const before = this.served.get(key);
        if (before !== undefined && v.value < before) v.value = before;
        this.served.set(key, v.value);
      }
    }
    // Aggregating one snapshot changes nothing; it gives the registry that prints it.
    return AggregatorRegistry.aggregate([summed]).metrics();
  }
}
