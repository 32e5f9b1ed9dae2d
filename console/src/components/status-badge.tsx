/** Status badges: colour and text together, never colour alone. */
import type { CallStatus, NumberStatus } from '../api/types';

const NUMBER_TONE: Record<NumberStatus, string> = {
  purchasing: 'info',
  active: 'success',
  suspended: 'warning',
  error: 'danger',
  released: 'neutral',
};

export function NumberStatusBadge({ status }: { status: NumberStatus }) {
  return (
    <span className={`badge badge-${NUMBER_TONE[status] ?? 'neutral'}`}>
      {status === 'purchasing' ? <span className="badge-pulse" aria-hidden="true" /> : <span className="badge-dot" aria-hidden="true" />}
      {status}
    </span>
  );
}

const CALL_TONE: Record<CallStatus, string> = {
  routed: 'info',
  'in-progress': 'info',
  completed: 'success',
  rejected: 'warning',
  failed: 'danger',
};

export const isLive = (s: CallStatus): boolean => s === 'routed' || s === 'in-progress';

export function CallStatusBadge({ status }: { status: CallStatus }) {
  return (
    <span className={`badge badge-${CALL_TONE[status] ?? 'neutral'}`}>
      <span className="badge-dot" aria-hidden="true" />
      {status}
    </span>
  );
}

export function LiveBadge() {
  return (
    <span className="badge badge-live">
      <span className="badge-pulse" aria-hidden="true" />
      Live
    </span>
  );
}
