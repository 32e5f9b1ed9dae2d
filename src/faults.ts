/**
 * Containment of unexpected errors. Every entry point into the gateway (an
 * HTTP request, a WebSocket upgrade, a socket's message/close/error handler,
 * a timer, a provider callback) runs its work through here, so a bug ends
 * that one request or socket, never the process that carries every live call.
 *
 * One error log line per fault and one counter (`switchboard_internal_errors_total`
 * by `where`), so a fault is loud without being fatal. `where` is one of a
 * small fixed set: metric labels stay bounded.
 */
import type { Logger } from 'pino';

export type FaultSite = 'http' | 'carrier' | 'upgrade' | 'media' | 'timer' | 'provider' | 'sweep' | 'socket';

export class Faults {
  readonly counts = new Map<FaultSite, number>();

  constructor(private readonly log: Logger) {}

  /** Records a contained fault: one error line, one count. Never throws. */
  report(where: FaultSite, err: unknown, fields?: Record<string, unknown>): void {
    this.counts.set(where, (this.counts.get(where) ?? 0) + 1);
    try {
      this.log.error({ ...fields, where, err }, 'unexpected error contained');
    } catch {
      /* a logger that throws must not turn a contained fault into a crash */
    }
  }

  /**
   * Wraps a callback so an exception in it is reported instead of thrown into
   * an event emitter (where it would end the process). `recover` runs after
   * the report, to end the request or socket the fault belongs to.
   */
  guard<A extends unknown[]>(where: FaultSite, fn: (...args: A) => void, recover?: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.report(where, err);
        if (recover) {
          try {
            recover(...args);
          } catch (again) {
            this.report(where, again);
          }
        }
      }
    };
  }

  /** Runs a promise-returning job whose rejection must be reported, not left unhandled. */
  run(where: FaultSite, job: () => Promise<unknown>): void {
    let p: Promise<unknown>;
    try {
      p = job();
    } catch (err) {
      this.report(where, err);
      return;
    }
    p.catch((err: unknown) => this.report(where, err));
  }
}
