/**
 * API Tokens: team members create tokens (shown once), see them listed as
 * metadata only, and revoke them.
 */
import { useId, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { ApiToken } from '../api/types';
import { CopyField } from '../components/copy-field';
import { Modal } from '../components/modal';
import { EmptyState, ErrorNotice, InfoNotice, Loading, Spinner, SuccessNotice } from '../components/notices';
import { useApp, useTeam } from '../context';
import { when } from '../format';
import { useResource } from '../use-resource';

const LIFETIMES: Array<{ label: string; seconds: number | null }> = [
  { label: 'Never', seconds: null },
  { label: '30 days', seconds: 30 * 86_400 },
  { label: '90 days', seconds: 90 * 86_400 },
  { label: '1 year', seconds: 365 * 86_400 },
];

/** A gateway that cannot list tokens answers 404 or 405 for the listing. */
const unsupported = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.status === 405);

export function TokensPage() {
  const { client } = useApp();
  const team = useTeam();
  const nameId = useId();
  const expiresId = useId();
  const [name, setName] = useState('');
  const [lifetime, setLifetime] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  const list = useResource(() => client.listTokens(team.id), [client, team.id]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCreated(null);
    setRevoked(null);
    try {
      const seconds = LIFETIMES[Number(lifetime)]?.seconds ?? null;
      const res = await client.createToken(team.id, { ...(name.trim() ? { name: name.trim() } : {}), ...(seconds ? { expiresIn: seconds } : {}) });
      setCreated(res.token);
      setName('');
      void list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const label = (t: ApiToken) => t.name || `${t.prefix}…`;

  return (
    <div className="stack">
      <section className="card">
        <header className="card-header">
          <div>
            <h1 tabIndex={-1}>API Tokens</h1>
            <p className="card-subtitle">
              Tokens for {team.name}: for scripts, dialers and teammates. Each one may act on this team only. The gateway stores them hashed and shows a new
              token once.
            </p>
          </div>
        </header>
        <form onSubmit={(e) => void create(e)} className="inline-form" noValidate>
          <div className="field">
            <label htmlFor={nameId}>Token name</label>
            <input id={nameId} className="input" value={name} placeholder="e.g. dialer" onChange={(e) => setName(e.target.value)} autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor={expiresId}>Expires</label>
            <select id={expiresId} className="select" value={lifetime} onChange={(e) => setLifetime(e.target.value)}>
              {LIFETIMES.map((l, i) => (
                <option key={l.label} value={i}>
                  {l.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field field-button">
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy && <Spinner />} Create Token
            </button>
          </div>
        </form>
        <ErrorNotice error={error} />
        {created && (
          <div className="reveal">
            <SuccessNotice>Token created. Copy it now: it is not shown again.</SuccessNotice>
            <CopyField label="New token" value={created} note="Send it as Authorization: Bearer <token>." />
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="token-list-heading">
        <h2 id="token-list-heading">Active tokens</h2>
        {revoked && <SuccessNotice>{revoked}</SuccessNotice>}
        {list.error && unsupported(list.error) ? (
          <InfoNotice>This gateway does not list tokens yet (GET /api/teams/:id/tokens). Tokens you create still work.</InfoNotice>
        ) : (
          <ErrorNotice error={list.error} onRetry={() => void list.reload()} />
        )}
        {list.data === undefined ? (
          list.error ? null : (
            <Loading what="tokens" />
          )
        ) : list.data.tokens.length === 0 ? (
          <EmptyState title="No tokens">
            <p>Create one above.</p>
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Starts with</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.tokens.map((t) => (
                  <tr key={t.id}>
                    <th scope="row">
                      {t.name || <span className="muted">Unnamed</span>}
                      {t.current && <span className="badge badge-info badge-inline">This session</span>}
                    </th>
                    <td className="mono small">{t.prefix}…</td>
                    <td>{when(t.createdAt)}</td>
                    <td>{t.lastUsedAt ? when(t.lastUsedAt) : <span className="muted">Never</span>}</td>
                    <td>{t.expiresAt ? when(t.expiresAt) : <span className="muted">Never</span>}</td>
                    <td className="cell-action">
                      <button type="button" className="button button-danger-quiet button-small" onClick={() => setRevoking(t)}>
                        Revoke<span className="visually-hidden"> {label(t)}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <Modal
        open={revoking !== null}
        title="Revoke this token?"
        onClose={() => setRevoking(null)}
        description={
          revoking
            ? `Anything using ${label(revoking)} gets 401 Unauthenticated from its next request.${revoking.current ? ' You signed in to this console with it: you will be signed out.' : ''}`
            : undefined
        }
      >
        <div className="actions actions-end">
          <button type="button" className="button button-secondary" data-autofocus onClick={() => setRevoking(null)}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-danger"
            onClick={async () => {
              const t = revoking!;
              setRevoking(null);
              setError(null);
              try {
                await client.revokeToken(team.id, t.id);
                setRevoked(`${label(t)} is revoked.`);
                void list.reload();
              } catch (e) {
                setError(e);
              }
            }}
          >
            Revoke token
          </button>
        </div>
      </Modal>
    </div>
  );
}
