/**
 * Group commit for call records. A call's record must be durable before the
 * carrier gets its answer; committing one transaction per webhook would put a
 * commit on every call's path. Instead, every call routed in one turn of the
 * event loop is queued, and one transaction (setImmediate) commits them all;
 * each webhook's answer waits for that commit. Under load one commit serves
 * many calls; idle, a call waits only for the current turn to end.
 * See docs/architecture.md.
 */
import type { Database } from 'better-sqlite3';
import type { Call } from '../domain/types.js';
import type { CallStore } from '../store/calls.js';

interface Pending {
  call: Call;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

export class CallRecorder {
  private queue: Pending[] = [];
  private scheduled = false;
  readonly stats = { batches: 0, records: 0, maxBatch: 0 };

  constructor(
    private readonly sqlite: Database,
    private readonly calls: CallStore,
  ) {}

  /** Resolves once the record is committed: true if inserted, false if the carrier call id was recorded before. */
  record(call: Call): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ call, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued. Also called on shutdown. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    let results: boolean[];
    try {
      results = this.sqlite.transaction(() => batch.map((p) => this.calls.insert(p.call))).immediate();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.stats.batches++;
    this.stats.records += batch.length;
    if (batch.length > this.stats.maxBatch) this.stats.maxBatch = batch.length;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
  }
}
