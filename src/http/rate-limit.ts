/**
 * Token buckets keyed by a string (a token's hash, a source address), held
 * in a bounded LRU so a flood of distinct keys cannot grow memory.
 */
import { LRUCache } from 'lru-cache';

export interface BucketOptions {
  /** Most requests allowed at once. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSec: number;
  /** Keys remembered. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly o: BucketOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.buckets = new LRUCache({ max: o.maxKeys ?? 10_000 });
  }

  private refill(key: string): Bucket {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.o.capacity, at: t };
    b.tokens = Math.min(this.o.capacity, b.tokens + ((t - b.at) / 1000) * this.o.refillPerSec);
    b.at = t;
    this.buckets.set(key, b);
    return b;
  }

  /** Takes one token; returns 0 if allowed, else the seconds until one is available. */
  take(key: string): number {
    const b = this.refill(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.o.refillPerSec));
  }

  /** Seconds until `key` may try again (0 = now), without taking a token. */
  blockedFor(key: string): number {
    if (!this.buckets.has(key)) return 0;
    const b = this.refill(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.o.refillPerSec));
  }
}
