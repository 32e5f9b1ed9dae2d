/**
 * The live calls: how many, per assistant, and when there are none (the drain
 * waits for that). Injected where needed, never a global.
 */
import { EventEmitter } from 'node:events';
import type { EndReason } from '../errors.js';

export interface LiveCall {
  readonly callId: string;
  readonly assistantId: string;
  /** Ends the call from the gateway's side (drain, shutdown). */
  close(reason: EndReason): void;
}

export class LiveCallRegistry {
  private readonly calls = new Map<string, LiveCall>();
  private readonly perAssistant = new Map<string, number>();
  private readonly events = new EventEmitter();
  /** Total bridges ever opened, for metrics. */
  opened = 0;

  add(c: LiveCall): void {
    this.calls.set(c.callId, c);
    this.perAssistant.set(c.assistantId, (this.perAssistant.get(c.assistantId) ?? 0) + 1);
    this.opened++;
  }

  remove(c: LiveCall): void {
    if (this.calls.get(c.callId) !== c) return;
    this.calls.delete(c.callId);
    const n = (this.perAssistant.get(c.assistantId) ?? 1) - 1;
    if (n <= 0) this.perAssistant.delete(c.assistantId);
    else this.perAssistant.set(c.assistantId, n);
    if (this.calls.size === 0) this.events.emit('idle');
  }

  get size(): number {
    return this.calls.size;
  }

  has(callId: string): boolean {
    return this.calls.has(callId);
  }

  get(callId: string): LiveCall | undefined {
    return this.calls.get(callId);
  }

  countFor(assistantId: string): number {
    return this.perAssistant.get(assistantId) ?? 0;
  }

  /** Resolves when no call is live (at once if none is). */
  idle(): Promise<void> {
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.events.once('idle', resolve));
  }

  closeAll(reason: EndReason): number {
    const all = [...this.calls.values()];
    for (const c of all) c.close(reason);
    return all.length;
  }
}
