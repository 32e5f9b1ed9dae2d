// decide(entry, now): the pure routing decision (spec section 4), table-tested
// for every status and every reject reason.
import { describe, it, expect } from 'vitest';
import { decide, REJECT_REASONS, type RoutingEntry, type RejectReason } from '../../src/domain/routing.js';
import type { NumberStatus } from '../../src/domain/types.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MEDIA = 'wss://agent.example.com/stream';

function entry(over: Partial<RoutingEntry> = {}): RoutingEntry {
  return {
    e164: '+14155552671',
    numberId: 'num_1',
    teamId: 'team_1',
    status: 'active',
    assistantId: 'asst_1',
    mediaUrl: MEDIA,
    expiresAt: null,
    ...over,
  };
}

const reject = (reason: RejectReason) => ({ kind: 'reject', reason, numberId: 'num_1', teamId: 'team_1' });
const connect = { kind: 'connect', numberId: 'num_1', teamId: 'team_1', assistantId: 'asst_1', mediaUrl: MEDIA };

describe('decide', () => {
  it('unknown number → no_route, with no number or team', () => {
    expect(decide(null, NOW)).toEqual({ kind: 'reject', reason: 'no_route', numberId: null, teamId: null });
  });

  it.each<[string, Partial<RoutingEntry>, object]>([
    // Status decides first; an assistant on the row does not rescue it.
    ['released', { status: 'released', assistantId: null, mediaUrl: null }, reject('released')],
    ['released, row still names an assistant', { status: 'released' }, reject('released')],
    ['suspended keeps its assistant but rejects', { status: 'suspended' }, reject('suspended')],
    ['purchasing', { status: 'purchasing', assistantId: null, mediaUrl: null }, reject('not_active')],
    ['error', { status: 'error', assistantId: null, mediaUrl: null }, reject('not_active')],
    ['active, unassigned', { assistantId: null, mediaUrl: null }, reject('unassigned')],
    ['active, assistant deleted (no media URL)', { mediaUrl: null }, reject('unassigned')],
    ['active, trial expired long ago', { expiresAt: NOW - 86_400_000 }, reject('expired')],
    ['active, trial expires exactly now', { expiresAt: NOW }, reject('expired')],
    ['active, unassigned and expired: expired wins', { expiresAt: NOW, assistantId: null, mediaUrl: null }, reject('expired')],
    ['active, trial expires in 1 ms', { expiresAt: NOW + 1 }, connect],
    ['active, assigned, no expiry', {}, connect],
    ['active, assigned, trial in the future', { expiresAt: NOW + 86_400_000 }, connect],
  ])('%s', (_what, over, want) => {
    expect(decide(entry(over), NOW)).toEqual(want);
  });

  it('expiry boundary, seen from the clock: now-1 connects, now and later reject', () => {
    const e = entry({ expiresAt: NOW });
    expect(decide(e, NOW - 1).kind).toBe('connect');
    expect(decide(e, NOW)).toEqual(reject('expired'));
    expect(decide(e, NOW + 1)).toEqual(reject('expired'));
  });

  it('suspended or released numbers do not report expired even past expiry', () => {
    expect(decide(entry({ status: 'suspended', expiresAt: NOW - 1 }), NOW)).toEqual(reject('suspended'));
    expect(decide(entry({ status: 'released', expiresAt: NOW - 1 }), NOW)).toEqual(reject('released'));
  });

  it('connect carries the assistant and media URL the entry was loaded with', () => {
    const d = decide(entry({ assistantId: 'asst_9', mediaUrl: 'ws://10.0.0.5:9000/x' }), NOW);
    expect(d).toEqual({ kind: 'connect', numberId: 'num_1', teamId: 'team_1', assistantId: 'asst_9', mediaUrl: 'ws://10.0.0.5:9000/x' });
  });

  it('every status has a decision and every reject reason is reachable', () => {
    const statuses: NumberStatus[] = ['purchasing', 'active', 'suspended', 'error', 'released'];
    const reasons = new Set<string>();
    const inputs: Array<RoutingEntry | null> = [null];
    for (const status of statuses) {
      inputs.push(entry({ status }), entry({ status, assistantId: null, mediaUrl: null }), entry({ status, expiresAt: NOW }));
    }
    for (const e of inputs) {
      const d = decide(e, NOW);
      expect(['connect', 'reject']).toContain(d.kind);
      if (d.kind === 'reject') reasons.add(d.reason);
    }
    expect([...reasons].sort()).toEqual([...REJECT_REASONS].sort());
  });

  it('is pure: the same input gives the same answer and the entry is untouched', () => {
    const e = Object.freeze(entry({ expiresAt: NOW + 10 }));
    expect(decide(e, NOW)).toEqual(decide(e, NOW));
    expect(e).toEqual(entry({ expiresAt: NOW + 10 }));
  });
});
