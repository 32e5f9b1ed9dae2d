/**
 * One writer at a time, for a connection that cannot interleave transactions
 * (SQLite: a write issued while another request's transaction is open would
 * silently join it, and be lost if that one rolled back).
 *
 * Uncontended, a synchronous write runs at once (no extra turn of the event
 * loop on the webhook path); contended, writes run in arrival order.
 */
export class WriteLock {
  private pending = 0;
  private tail: Promise<unknown> = Promise.resolve();

  get busy(): boolean {
    return this.pending > 0;
  }

  /** A synchronous write: now if free, else after the current holders. */
  sync<T>(fn: () => T): Promise<T> {
    if (this.pending === 0) {
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.run(fn);
  }

  /** Holds the lock for fn, asynchronous or not, until it settles. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(fn);
    const release = () => {
      this.pending--;
    };
    this.tail = result.then(release, release);
    return result;
  }
}
