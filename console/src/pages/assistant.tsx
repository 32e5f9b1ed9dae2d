/**
 * One assistant's settings: name and media URL, its Telephony (the phone
 * numbers that reach it), and deleting it.
 */
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { Assistant, PhoneNumber } from '../api/types';
import { Modal } from '../components/modal';
import { ErrorNotice, Loading, Spinner, SuccessNotice } from '../components/notices';
import { useApp, useTeam } from '../context';
import { humanNumber, place } from '../format';
import { navigate } from '../router';
import { Link } from '../shell';
import { useResource } from '../use-resource';

export function AssistantPage({ id }: { id: string }) {
  const { client } = useApp();
  const team = useTeam();
  const assistant = useResource(() => client.getAssistant(id), [client, id]);
  const a = assistant.data?.assistant;

  if (assistant.error instanceof ApiError && assistant.error.status === 404) {
    return (
      <section className="card">
        <h1 tabIndex={-1}>Assistant not found</h1>
        <p>
          It may have been deleted, or it belongs to another team. <Link to="/assistants">Back to Assistants</Link>
        </p>
      </section>
    );
  }
  return (
    <div className="stack">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <ol>
          <li>
            <Link to="/assistants">Assistants</Link>
          </li>
          <li aria-current="page">{a?.name ?? '…'}</li>
        </ol>
      </nav>
      <section className="card">
        <header className="card-header">
          <div>
            <h1 tabIndex={-1}>{a ? a.name : 'Assistant'}</h1>
            <p className="card-subtitle">Settings</p>
          </div>
        </header>
        <ErrorNotice error={assistant.error} onRetry={() => void assistant.reload()} />
        {!a ? (
          assistant.error ? null : (
            <Loading what="the assistant" />
          )
        ) : a.teamId !== team.id ? (
          <p>This assistant belongs to another team. Switch teams to edit it.</p>
        ) : (
          <GeneralForm assistant={a} onSaved={() => void assistant.reload()} />
        )}
      </section>
      {a && a.teamId === team.id && <TelephonySection assistant={a} onSaved={() => void assistant.reload()} />}
      {a && a.teamId === team.id && <DeleteSection assistant={a} />}
    </div>
  );
}

function GeneralForm({ assistant, onSaved }: { assistant: Assistant; onSaved: () => void }) {
  const { client } = useApp();
  const nameId = useId();
  const urlId = useId();
  const [name, setName] = useState(assistant.name);
  const [mediaUrl, setMediaUrl] = useState(assistant.mediaUrl);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const changed = name !== assistant.name || mediaUrl !== assistant.mediaUrl;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await client.updateAssistant(assistant.id, {
        ...(name !== assistant.name ? { name } : {}),
        ...(mediaUrl !== assistant.mediaUrl ? { mediaUrl: mediaUrl.trim() } : {}),
      });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate className="form-narrow">
      <div className="field">
        <label htmlFor={nameId}>Name</label>
        <input id={nameId} className="input" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={urlId}>Media URL</label>
        <input id={urlId} className="input mono" value={mediaUrl} onChange={(e) => setMediaUrl(e.target.value)} autoComplete="off" />
      </div>
      <ErrorNotice error={error} />
      {saved && !changed && <SuccessNotice>Saved. New calls use these settings.</SuccessNotice>}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy || !changed}>
          {busy && <Spinner />} Save changes
        </button>
      </div>
    </form>
  );
}

function TelephonySection({ assistant, onSaved }: { assistant: Assistant; onSaved: () => void }) {
  const { client } = useApp();
  const team = useTeam();
  const headingId = useId();
  const numbers = useResource(() => client.listNumbers({ teamId: team.id }), [client, team.id, assistant.phoneNumberIds.join(',')]);
  const others = useResource(() => client.listAssistants(team.id), [client, team.id, assistant.phoneNumberIds.join(',')]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set(assistant.phoneNumberIds));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => setSelected(new Set(assistant.phoneNumberIds)), [assistant.phoneNumberIds]);

  const all = numbers.data?.phoneNumbers ?? [];
  const active = all.filter((n) => n.status === 'active');
  const suspendedHere = all.filter((n) => n.status === 'suspended' && n.assistantId === assistant.id);
  const nameOf = useMemo(() => {
    const m = new Map((others.data?.assistants ?? []).map((x) => [x.id, x.name]));
    return (id: string) => m.get(id) ?? 'another assistant';
  }, [others.data]);
  const moving = active.filter((n) => selected.has(n.id) && n.assistantId !== null && n.assistantId !== assistant.id);
  const dirty = selected.size !== assistant.phoneNumberIds.length || assistant.phoneNumberIds.some((x) => !selected.has(x));

  const toggle = (n: PhoneNumber, on: boolean) => {
    setSaved(null);
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(n.id);
      else next.delete(n.id);
      return next;
    });
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const ids = active.filter((n) => selected.has(n.id)).map((n) => n.id);
      const { assistant: after } = await client.assignNumbers(assistant.id, { accountSlug: team.slug, phoneNumberIds: ids });
      setSaved(
        after.phoneNumberIds.length === 0
          ? `Saved. ${assistant.name} has no phone numbers now.`
          : `Saved. New calls to ${after.phoneNumberIds.length === 1 ? 'this number' : `these ${after.phoneNumberIds.length} numbers`} go to ${assistant.name} now.`,
      );
      onSaved();
      void numbers.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <header className="card-header">
        <div>
          <h2 id={headingId}>Telephony</h2>
          <p className="card-subtitle">Calls to the phone numbers chosen here are routed to {assistant.name}. Changes take effect for the next call.</p>
        </div>
      </header>
      <ErrorNotice error={numbers.error} onRetry={() => void numbers.reload()} />
      {numbers.data === undefined ? (
        numbers.error ? null : (
          <Loading what="phone numbers" />
        )
      ) : (
        <form onSubmit={(e) => void save(e)}>
          <fieldset className="field number-picker">
            <legend>Phone Numbers</legend>
            {active.length === 0 ? (
              <p className="muted">
                The team has no active numbers. <Link to="/numbers">Buy a number</Link> on Phone Numbers first.
              </p>
            ) : (
              <ul className="check-list">
                {active.map((n) => {
                  const elsewhere = n.assistantId !== null && n.assistantId !== assistant.id;
                  return (
                    <li key={n.id}>
                      <label className="checkbox">
                        <input type="checkbox" checked={selected.has(n.id)} onChange={(e) => toggle(n, e.target.checked)} />
                        <span className="number">{humanNumber(n.phoneNumber)}</span>
                        <span className="muted small">
                          {place(n.city, n.state)}
                          {elsewhere ? ` · on ${nameOf(n.assistantId!)}` : ''}
                        </span>
                      </label>
                    </li>
                  );
                })}
              </ul>
            )}
          </fieldset>
          {moving.length > 0 && (
            <div className="notice notice-warning" role="status">
              <div className="notice-text">
                {moving.map((n) => (
                  <p key={n.id}>
                    <strong>{humanNumber(n.phoneNumber)}</strong> is assigned to {nameOf(n.assistantId!)}. Saving moves it to {assistant.name}; calls in
                    progress stay on {nameOf(n.assistantId!)} until they end.
                  </p>
                ))}
              </div>
            </div>
          )}
          {suspendedHere.length > 0 && (
            <p className="muted small">
              Suspended and still assigned here: {suspendedHere.map((n) => humanNumber(n.phoneNumber)).join(', ')}. Only active numbers can be chosen, so saving
              unassigns
              {suspendedHere.length === 1 ? ' it' : ' them'}.
            </p>
          )}
          <ErrorNotice error={error} />
          {saved && <SuccessNotice>{saved}</SuccessNotice>}
          <div className="actions">
            <button type="submit" className="button button-primary" disabled={busy || (!dirty && suspendedHere.length === 0)}>
              {busy && <Spinner />} Save
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function DeleteSection({ assistant }: { assistant: Assistant }) {
  const { client } = useApp();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const headingId = useId();
  return (
    <section className="card card-danger" aria-labelledby={headingId}>
      <h2 id={headingId}>Delete assistant</h2>
      <p className="muted">Its numbers become unassigned (new calls to them are rejected); calls in progress continue.</p>
      <ErrorNotice error={error} />
      <button type="button" className="button button-danger-quiet" onClick={() => setConfirming(true)}>
        Delete assistant
      </button>
      <Modal
        open={confirming}
        title={`Delete ${assistant.name}?`}
        onClose={() => setConfirming(false)}
        description="Its phone numbers become unassigned. You cannot undo this."
      >
        <div className="actions actions-end">
          <button type="button" className="button button-secondary" data-autofocus onClick={() => setConfirming(false)}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-danger"
            onClick={async () => {
              setConfirming(false);
              try {
                await client.deleteAssistant(assistant.id);
                navigate('/assistants');
              } catch (e) {
                setError(e);
              }
            }}
          >
            Delete
          </button>
        </div>
      </Modal>
    </section>
  );
}
