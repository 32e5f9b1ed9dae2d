/**
 * Phone Numbers: the team's numbers with their status, kept fresh by polling
 * (every 2 s while one is purchasing). Buy Number opens Get Phone Number.
 */
import { useEffect, useRef, useState } from 'react';
import type { Assistant, PhoneNumber } from '../api/types';
import { Modal } from '../components/modal';
import { EmptyState, ErrorNotice, Loading, SuccessNotice } from '../components/notices';
import { NumberStatusBadge } from '../components/status-badge';
import { useApp, useTeam } from '../context';
import { humanNumber, money, place, providerLabel, timeLeft, when } from '../format';
import { Link } from '../shell';
import { useResource } from '../use-resource';
import { BuyNumberDialog } from './buy-number-dialog';

const FAILURES: Record<string, string> = {
  provisioning_timeout: 'The carrier did not confirm the order within the provisioning timeout.',
  carrier_rejected: 'The carrier refused the order.',
  order_failed: 'The carrier could not complete the order.',
  order_lost: 'The order was lost while the gateway restarted.',
  order_not_placed: 'The order never reached the carrier.',
};

function FailureNote({ n }: { n: PhoneNumber }) {
  return (
    <p className="row-note">
      {FAILURES[n.failureReason ?? ''] ?? 'The purchase did not complete.'} Nothing is charged and it does not count against the plan. Buy Number again to pick
      another number, or try this one again.
    </p>
  );
}

export function NumbersPage() {
  const { client, admin, reloadTeams } = useApp();
  const team = useTeam();
  const [buyOpen, setBuyOpen] = useState(false);
  const [showReleased, setShowReleased] = useState(false);
  const [releasing, setReleasing] = useState<PhoneNumber | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const numbers = useResource((signal) => client.listNumbers({ teamId: team.id }, signal), [client, team.id], {
    pollMs: (d) => (d?.phoneNumbers.some((n) => n.status === 'purchasing') ? 2000 : 15000),
  });
  const all = numbers.data?.phoneNumbers ?? [];
  // Names for the Assistant column; read again when a number points at an assistant not seen yet.
  const assistants = useResource(() => client.listAssistants(team.id), [client, team.id]);
  const unknown = all.some((n) => n.assistantId && assistants.data && !assistants.data.assistants.some((a) => a.id === n.assistantId));
  useEffect(() => {
    if (unknown) void assistants.reload();
  }, [unknown, assistants.reload]);
  const assistantName = (id: string | null) => {
    if (!id) return null;
    if (!assistants.data) return '…';
    return assistants.data.assistants.find((a: Assistant) => a.id === id)?.name ?? 'Unknown assistant';
  };

  // A status change (active, error, expired trial) changes what the plan counts: refresh the team's figures.
  const statuses = numbers.data ? all.map((n) => n.id + ':' + n.status).join(',') : null;
  const seen = useRef<string | null>(null);
  useEffect(() => {
    if (statuses === null) return;
    if (seen.current !== null && seen.current !== statuses) void reloadTeams().catch(() => {});
    seen.current = statuses;
  }, [statuses, reloadTeams]);
  const shown = all.filter((n) => showReleased || n.status !== 'released');
  const releasedCount = all.filter((n) => n.status === 'released').length;

  const act = async (what: () => Promise<unknown>, message: string) => {
    setActionError(null);
    setDone(null);
    try {
      await what();
      setDone(message);
      await Promise.all([numbers.reload(), reloadTeams()]);
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section className="card">
      <header className="card-header">
        <div>
          <h1 tabIndex={-1}>Phone Numbers</h1>
          <p className="card-subtitle">Numbers your team holds. Calls to an active number go to the assistant it is assigned to.</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setBuyOpen(true)}>
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path d="M10 4v12M4 10h12" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
          Buy Number
        </button>
      </header>

      {done && <SuccessNotice>{done}</SuccessNotice>}
      <ErrorNotice error={actionError} />
      <ErrorNotice error={numbers.error} onRetry={() => void numbers.reload()} />

      {numbers.data === undefined ? (
        numbers.error ? null : (
          <Loading what="phone numbers" />
        )
      ) : shown.length === 0 && releasedCount === 0 ? (
        <EmptyState title="No phone numbers yet">
          <p>
            Choose <strong>Buy Number</strong> to search the carrier's inventory by country, area code or toll-free prefix, then buy your first number and
            assign it to an assistant.
          </p>
        </EmptyState>
      ) : (
        <>
          <div className="table-toolbar">
            <label className="checkbox">
              <input type="checkbox" checked={showReleased} onChange={(e) => setShowReleased(e.target.checked)} />
              Show released numbers ({releasedCount})
            </label>
          </div>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">The team's phone numbers</caption>
              <thead>
                <tr>
                  <th scope="col">Number</th>
                  <th scope="col">City and state</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col">Assistant</th>
                  <th scope="col">Monthly cost</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 && (
                  <tr>
                    <td colSpan={7} className="muted">
                      Only released numbers. Buy Number to get a new one.
                    </td>
                  </tr>
                )}
                {shown.map((n) => (
                  <tr key={n.id}>
                    <th scope="row" className="cell-number">
                      <span className="number">{humanNumber(n.phoneNumber)}</span>
                      <span className="mono muted small">{n.phoneNumber}</span>
                    </th>
                    <td>{place(n.city, n.state)}</td>
                    <td>{providerLabel(n.provider ?? 'sim')}</td>
                    <td>
                      <NumberStatusBadge status={n.status} />
                      {n.status === 'purchasing' && <p className="row-note">Waiting for the carrier to confirm the order.</p>}
                      {n.status === 'error' && <FailureNote n={n} />}
                      {n.status === 'suspended' && <p className="row-note">Suspended by the admin: calls are rejected.</p>}
                      {n.status === 'released' && <p className="row-note">Released {when(n.releasedAt)}</p>}
                    </td>
                    <td>{assistantName(n.assistantId) ?? <span className="muted">Unassigned</span>}</td>
                    <td>
                      {n.trial ? (
                        <>
                          <span className="badge badge-trial">Free trial</span>
                          {n.expiresAt && n.status !== 'released' && <p className="row-note">{timeLeft(n.expiresAt)}</p>}
                        </>
                      ) : (
                        money(n.monthlyCost)
                      )}
                    </td>
                    <td className="cell-action">
                      <div className="row-actions">
                        {admin && n.status === 'active' && (
                          <button
                            type="button"
                            className="button button-secondary button-small"
                            onClick={() => void act(() => client.setNumberStatus(n.id, { status: 'suspended' }), `${humanNumber(n.phoneNumber)} is suspended.`)}
                          >
                            Suspend<span className="visually-hidden"> {n.phoneNumber}</span>
                          </button>
                        )}
                        {admin && n.status === 'suspended' && (
                          <button
                            type="button"
                            className="button button-secondary button-small"
                            onClick={() => void act(() => client.setNumberStatus(n.id, { status: 'active' }), `${humanNumber(n.phoneNumber)} is active again.`)}
                          >
                            Reactivate<span className="visually-hidden"> {n.phoneNumber}</span>
                          </button>
                        )}
                        {(n.status === 'active' || (n.status === 'suspended' && admin)) && (
                          <button type="button" className="button button-danger-quiet button-small" onClick={() => setReleasing(n)}>
                            Release<span className="visually-hidden"> {n.phoneNumber}</span>
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="table-footnote muted small">
            Assign numbers in an assistant's <Link to="/assistants">Telephony settings</Link>.
          </p>
        </>
      )}

      <BuyNumberDialog
        open={buyOpen}
        onClose={() => setBuyOpen(false)}
        onPurchased={() => {
          void numbers.reload();
          void reloadTeams().catch(() => {}); // the table's own error notice covers a failing network
        }}
      />

      <Modal
        open={releasing !== null}
        title="Release this number?"
        onClose={() => setReleasing(null)}
        description={
          releasing
            ? `${humanNumber(releasing.phoneNumber)} goes back to the carrier's pool and is unassigned from its assistant. Calls in progress continue until they end. You cannot undo this.`
            : undefined
        }
      >
        <div className="actions actions-end">
          <button type="button" className="button button-secondary" data-autofocus onClick={() => setReleasing(null)}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-danger"
            onClick={() => {
              const n = releasing!;
              setReleasing(null);
              void act(() => client.releaseNumber(n.id), `${humanNumber(n.phoneNumber)} was released.`);
            }}
          >
            Release number
          </button>
        </div>
      </Modal>
    </section>
  );
}
