/**
 * Time-ordered ids (the UUIDv7 layout, RFC 9562): 48 bits of Unix
 * milliseconds, then a 12-bit counter that orders ids made within one
 * millisecond, then 62 random bits.
 *
 * Used for call records: their primary-key inserts then land at the end of
 * the b-tree instead of on random pages (fewer dirty pages per commit on the
 * hot path), and calls created in the same millisecond list in the order
 * they were made.
 */
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(8 * 256);
let poolAt = pool.length;
let lastMs = -1;
let counter = 0;

export function timeOrderedId(nowMs: number = Date.now()): string {
  let ms = Math.max(nowMs, lastMs);
  if (ms === lastMs) {
    counter++;
    if (counter > 0xfff) {
      // 4,096 ids in one millisecond: borrow the next millisecond, keeping order.
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = pool.subarray(poolAt, poolAt + 8);
  poolAt += 8;
  const hex = ms.toString(16).padStart(12, '0');
  const rand = r.toString('hex');
  // variant 10xx in the first random nibble
  const variant = ((parseInt(rand[0]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${counter.toString(16).padStart(3, '0')}-${variant}${rand.slice(1, 4)}-${rand.slice(4, 16)}`;
}
