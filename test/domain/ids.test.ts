import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../src/domain/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('has the UUIDv7 layout and carries its millisecond', () => {
    const t = Date.parse('2026-11-21T12:00:00.123Z');
    const id = timeOrderedId(t);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(t);
  });

  it('sorts as strings in the order made, within one millisecond and past 4,096 of them', () => {
    const t = Date.parse('2030-01-01T00:00:00Z');
    const ids = Array.from({ length: 10_000 }, () => timeOrderedId(t));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never goes backwards when the clock does', () => {
    const a = timeOrderedId(Date.parse('2031-01-01T00:00:01Z'));
    const b = timeOrderedId(Date.parse('2031-01-01T00:00:00Z'));
    expect(b > a).toBe(true);
  });
});
