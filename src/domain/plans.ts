/** Plans: the one place that says how many numbers a team may hold. */

export const PLAN_NAMES = ['free', 'starter', 'pro', 'enterprise'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface Plan {
  readonly name: PlanName;
  /** Numbers the team may hold (purchasing, active or suspended); null = unlimited. */
  readonly numberLimit: number | null;
  /** Numbers bought on this plan are trial numbers: free, and expire. */
  readonly trial: boolean;
}

export const PLANS: Readonly<Record<PlanName, Plan>> = Object.freeze({
  free: { name: 'free', numberLimit: 1, trial: true },
  starter: { name: 'starter', numberLimit: 5, trial: false },
  pro: { name: 'pro', numberLimit: 50, trial: false },
  enterprise: { name: 'enterprise', numberLimit: null, trial: false },
});

export const TRIAL_MS = 5 * 24 * 60 * 60 * 1000;

/** Statuses that hold a number for a team and count against its plan. */
export const HELD_STATUSES = ['purchasing', 'active', 'suspended'] as const;

export function planLimitMessage(plan: Plan, held: number): string {
  return `The ${plan.name} plan allows ${plan.numberLimit} number${plan.numberLimit === 1 ? '' : 's'}; this team has ${held}. Upgrade the team's plan (the operator: PATCH /api/teams/<id> {"plan": ...}) or release a number first.`;
}
