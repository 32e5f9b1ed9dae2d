/** What the number lifecycle reports as it happens (the metrics listen here). */
export interface NumberEvents {
  purchase(outcome: 'created' | 'replayed' | 'plan_limit' | 'unavailable' | 'rejected'): void;
  provisioned(result: 'active' | 'error', ms: number): void;
  trialExpired(): void;
}

export const NO_EVENTS: NumberEvents = { purchase() {}, provisioned() {}, trialExpired() {} };
