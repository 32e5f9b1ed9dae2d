/** Running → draining → stopped. Draining refuses new calls but lets live ones finish. */
export type LifecycleState = 'running' | 'draining' | 'stopped';

export class Lifecycle {
  private current: LifecycleState = 'running';
  get state(): LifecycleState {
    return this.current;
  }
  get accepting(): boolean {
    return this.current === 'running';
  }
  drain(): void {
    if (this.current === 'running') this.current = 'draining';
  }
  stop(): void {
    this.current = 'stopped';
  }
}
