/**
 * Group commit for call records. A call's record must be durable before the
 * carrier gets its answer; committing one transaction per webhook would put a
 * commit on every call's path. Instead, every call routed in one turn of the
 * event loop is queued, and one transaction commits them all; each webhook's
 * answer waits for that commit. While a commit is in flight (PostgreSQL: a
 * round trip), new records gather for the next one. Under load one commit
 * serves many calls; idle, a call waits only for the current turn to end.
 * See docs/architecture.md.
 */
import type { Call } from '../domain/types.js';
import type { CallRepo } from '../services/ports.js';

interface Pending {
  call: Call;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

export class CallRecorder {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  readonly stats = { batches: 0, records: 0, maxBatch: 0 };

  constructor(private readonly calls: Pick<CallRepo, 'insertBatch'>) {}

  /** Resolves once the record is committed: true if inserted, false if the carrier call id was recorded before. */
  record(call: Call): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ call, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.commit();
    });
  }

  private commit(): Promise<void> {
    const batch = this.queue;
    if (batch.length === 0) return Promise.resolve();
    this.queue = [];
    const done = this.calls.insertBatch(batch.map((p) => p.call)).then(
      (results) => {
        this.stats.batches++;
        this.stats.records += batch.length;
        if (batch.length > this.stats.maxBatch) this.stats.maxBatch = batch.length;
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
    this.inFlight = done.finally(() => {
      this.inFlight = null;
      if (this.queue.length) this.schedule();
    });
    return this.inFlight;
  }

  /** Commits everything queued (shutdown). */
  async flush(): Promise<void> {
    while (this.inFlight || this.queue.length) {
      if (this.inFlight) await this.inFlight;
      else await this.commit();
    }
  }
}
