import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two signatures in constant time. Lengths of valid signatures are
 * public (a fixed number of characters), so comparing the length first
 * reveals nothing secret.
 */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
