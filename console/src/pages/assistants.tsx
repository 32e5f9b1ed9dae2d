/** Assistants: where calls go. List, and create one (name and media URL). */
import { useId, useState, type FormEvent } from 'react';
import { Modal } from '../components/modal';
import { EmptyState, ErrorNotice, Loading, Spinner } from '../components/notices';
import { useApp, useTeam } from '../context';
import { when } from '../format';
import { navigate } from '../router';
import { Link } from '../shell';
import { useResource } from '../use-resource';

export function AssistantsPage() {
  const { client } = useApp();
  const team = useTeam();
  const [creating, setCreating] = useState(false);
  const list = useResource(() => client.listAssistants(team.id), [client, team.id]);
  const assistants = list.data?.assistants ?? [];

  return (
    <section className="card">
      <header className="card-header">
        <div>
          <h1 tabIndex={-1}>Assistants</h1>
          <p className="card-subtitle">Each assistant receives the audio of the calls to its numbers over a WebSocket (Twilio Media Streams messages).</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path d="M10 4v12M4 10h12" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
          Create Assistant
        </button>
      </header>
      <ErrorNotice error={list.error} onRetry={() => void list.reload()} />
      {list.data === undefined ? (
        list.error ? null : (
          <Loading what="assistants" />
        )
      ) : assistants.length === 0 ? (
        <EmptyState title="No assistants yet">
          <p>
            Choose <strong>Create Assistant</strong> and give the <code>ws://</code> or <code>wss://</code> URL where your voice agent listens. Then assign it a
            phone number in its Telephony settings.
          </p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">The team's assistants</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Media URL</th>
                <th scope="col">Phone numbers</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {assistants.map((a) => (
                <tr key={a.id}>
                  <th scope="row">
                    <Link to={`/assistants/${encodeURIComponent(a.id)}`} className="strong-link">
                      {a.name}
                    </Link>
                  </th>
                  <td className="mono small truncate" title={a.mediaUrl}>
                    {a.mediaUrl}
                  </td>
                  <td>{a.phoneNumberIds.length === 0 ? <span className="muted">None</span> : a.phoneNumberIds.length}</td>
                  <td>{when(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Modal open={creating} title="Create assistant" onClose={() => setCreating(false)}>
        {creating && <AssistantForm onDone={() => setCreating(false)} />}
      </Modal>
    </section>
  );
}

function AssistantForm({ onDone }: { onDone: () => void }) {
  const { client } = useApp();
  const team = useTeam();
  const nameId = useId();
  const urlId = useId();
  const urlHelp = useId();
  const [name, setName] = useState('');
  const [mediaUrl, setMediaUrl] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { assistant } = await client.createAssistant({ teamId: team.id, name, mediaUrl: mediaUrl.trim() });
      onDone();
      navigate(`/assistants/${encodeURIComponent(assistant.id)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="field">
        <label htmlFor={nameId}>Name</label>
        <input id={nameId} className="input" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={urlId}>Media URL</label>
        <input
          id={urlId}
          className="input mono"
          value={mediaUrl}
          placeholder="wss://agent.example.com/stream"
          onChange={(e) => setMediaUrl(e.target.value)}
          aria-describedby={urlHelp}
          autoComplete="off"
        />
        <p className="field-help" id={urlHelp}>
          A <code>ws://</code> or <code>wss://</code> URL: the gateway opens a WebSocket to it for every call and relays the audio.
        </p>
      </div>
      <ErrorNotice error={error} />
      <div className="actions actions-end">
        <button type="button" className="button button-secondary" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy && <Spinner />} Create
        </button>
      </div>
    </form>
  );
}
