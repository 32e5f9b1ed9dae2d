/** Calls: newest first, a page at a time; live calls marked. The first page refreshes by itself. */
import { useState } from 'react';
import type { Call } from '../api/types';
import { EmptyState, ErrorNotice, Loading } from '../components/notices';
import { CallStatusBadge, isLive, LiveBadge } from '../components/status-badge';
import { useApp, useTeam } from '../context';
import { duration, humanNumber, when, words } from '../format';
import { useResource } from '../use-resource';

const PAGE_SIZE = 25;

/** The team's own number on the call, and the other party. */
const ours = (c: Call) => (c.direction === 'inbound' ? c.to : c.from);
const theirs = (c: Call) => (c.direction === 'inbound' ? c.from : c.to);

function endReason(c: Call): string {
  if (c.status === 'rejected') return words(c.reason);
  if (c.endReason) return words(c.endReason);
  if (c.reason) return words(c.reason);
  if ((c.status === 'completed' || c.status === 'failed') && c.carrierStatus) return `carrier reported ${words(c.carrierStatus)}`;
  return '—';
}

export function CallsPage() {
  const { client } = useApp();
  const team = useTeam();
  // cursors[i] is the cursor that loads page i; page 0 has none.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const page = cursors.length - 1;
  const cursor = cursors[page];
  const calls = useResource(
    (signal) => client.listCalls({ teamId: team.id, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }, signal),
    [client, team.id, cursor],
    {
      // Newest calls arrive on the first page: keep it fresh, faster while a call is live.
      pollMs: (d) => (page !== 0 ? null : d?.calls.some((c) => isLive(c.status)) ? 2000 : 5000),
    },
  );
  const assistants = useResource(() => client.listAssistants(team.id), [client, team.id]);
  const assistantName = (id: string | null) => (id ? (assistants.data?.assistants.find((a) => a.id === id)?.name ?? 'Deleted assistant') : '—');
  const list = calls.data?.calls ?? [];

  return (
    <section className="card">
      <header className="card-header">
        <div>
          <h1 tabIndex={-1}>Calls</h1>
          <p className="card-subtitle">Every call to and from the team's numbers, newest first.</p>
        </div>
      </header>
      <ErrorNotice error={calls.error} onRetry={() => void calls.reload()} />
      {calls.data === undefined ? (
        calls.error ? null : (
          <Loading what="calls" />
        )
      ) : list.length === 0 && page === 0 ? (
        <EmptyState title="No calls yet">
          <p>When a carrier sends a call to one of the team's active, assigned numbers, it appears here within seconds.</p>
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Calls, newest first, page {page + 1}</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Number</th>
                  <th scope="col">Direction</th>
                  <th scope="col">From / to</th>
                  <th scope="col">Assistant</th>
                  <th scope="col">Status</th>
                  <th scope="col">End reason</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {list.map((c) => (
                  <tr key={c.id} className={isLive(c.status) ? 'row-live' : undefined}>
                    <td>{when(c.createdAt)}</td>
                    <th scope="row" className="cell-number">
                      <span className="number">{humanNumber(ours(c))}</span>
                    </th>
                    <td>{c.direction}</td>
                    <td className="mono small">{theirs(c)}</td>
                    <td>{assistantName(c.assistantId)}</td>
                    <td>
                      <span className="badges">
                        {isLive(c.status) && <LiveBadge />}
                        <CallStatusBadge status={c.status} />
                      </span>
                    </td>
                    <td>{endReason(c)}</td>
                    <td>{duration(c.durationSec)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Calls pages">
            <button type="button" className="button button-secondary" disabled={page === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
              Newer
            </button>
            <span className="muted small">Page {page + 1}</span>
            <button
              type="button"
              className="button button-secondary"
              disabled={!calls.data.nextCursor}
              onClick={() => setCursors((c) => [...c, calls.data!.nextCursor!])}
            >
              Older
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
