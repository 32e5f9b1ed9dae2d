/** Teams (admin): create a team (its first token shown once), change a team's plan. */
import { useId, useState, type FormEvent } from 'react';
import { PLAN_NAMES, type PlanName, type Team } from '../api/types';
import { CopyField } from '../components/copy-field';
import { Modal } from '../components/modal';
import { EmptyState, ErrorNotice, Spinner, SuccessNotice } from '../components/notices';
import { useApp } from '../context';
import { when } from '../format';

const PLAN_TEXT: Record<PlanName, string> = {
  free: 'Free: 1 number, a free trial that expires after 5 days',
  starter: 'Starter: up to 5 numbers',
  pro: 'Pro: up to 50 numbers',
  enterprise: 'Enterprise: unlimited numbers',
};

const slugify = (s: string) =>
  s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);

export function TeamsPage() {
  const { admin, teams, team: current, selectTeam, reloadTeams } = useApp();
  const [creating, setCreating] = useState(false);
  const [planFor, setPlanFor] = useState<Team | null>(null);
  const [done, setDone] = useState<string | null>(null);

  if (!admin) {
    return (
      <section className="card">
        <h1 tabIndex={-1}>Teams</h1>
        <p>Only the admin token manages teams.</p>
      </section>
    );
  }
  return (
    <section className="card">
      <header className="card-header">
        <div>
          <h1 tabIndex={-1}>Teams</h1>
          <p className="card-subtitle">Every team on this gateway. A team's plan sets how many numbers it may hold.</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path d="M10 4v12M4 10h12" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
          Create Team
        </button>
      </header>
      {done && <SuccessNotice>{done}</SuccessNotice>}
      {teams.length === 0 ? (
        <EmptyState title="No teams yet">
          <p>
            Choose <strong>Create Team</strong>. Its first API token is shown once: give it to the team, or use the console as the admin with the team switcher.
          </p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Teams</caption>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Slug</th>
                <th scope="col">Plan</th>
                <th scope="col">Numbers</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {teams.map((t) => (
                <tr key={t.id}>
                  <th scope="row">
                    {t.name}
                    {current?.id === t.id && <span className="badge badge-neutral badge-inline">In view</span>}
                  </th>
                  <td className="mono small">{t.slug}</td>
                  <td>
                    <span className={`badge badge-plan-${t.plan}`}>{t.plan}</span>
                  </td>
                  <td>
                    {t.numbersHeld}
                    {t.numberLimit === null ? '' : ` of ${t.numberLimit}`}
                  </td>
                  <td>{when(t.createdAt)}</td>
                  <td className="cell-action">
                    <div className="row-actions">
                      {current?.id !== t.id && (
                        <button type="button" className="button button-secondary button-small" onClick={() => selectTeam(t.id)}>
                          View<span className="visually-hidden"> {t.name}</span>
                        </button>
                      )}
                      <button type="button" className="button button-secondary button-small" onClick={() => setPlanFor(t)}>
                        Change plan<span className="visually-hidden"> of {t.name}</span>
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Modal open={creating} title="Create team" onClose={() => setCreating(false)}>
        {creating && (
          <CreateTeamForm
            onCreated={async (t) => {
              await reloadTeams();
              selectTeam(t.id);
            }}
            onDone={() => setCreating(false)}
          />
        )}
      </Modal>
      <Modal open={planFor !== null} title={planFor ? `Change the plan of ${planFor.name}` : 'Change plan'} onClose={() => setPlanFor(null)}>
        {planFor && (
          <PlanForm
            team={planFor}
            onDone={(msg) => {
              setPlanFor(null);
              if (msg) setDone(msg);
            }}
          />
        )}
      </Modal>
    </section>
  );
}

function CreateTeamForm({ onCreated, onDone }: { onCreated: (t: Team) => Promise<void>; onDone: () => void }) {
  const { client } = useApp();
  const ids = { name: useId(), slug: useId(), slugHelp: useId(), plan: useId() };
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugEdited, setSlugEdited] = useState(false);
  const [plan, setPlan] = useState<PlanName>('free');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ team: Team; token: string } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await client.createTeam({ name, slug, plan });
      setResult(res);
      await onCreated(res.team);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (result) {
    return (
      <div>
        <SuccessNotice>
          <strong>{result.team.name}</strong> is created, on the {result.team.plan} plan. The console now shows this team.
        </SuccessNotice>
        <CopyField
          label="Team token"
          value={result.token}
          note="Shown once: copy it now and keep it somewhere safe. The team signs in and calls the API with it."
        />
        <div className="actions actions-end">
          <button type="button" className="button button-primary" onClick={onDone}>
            Done
          </button>
        </div>
      </div>
    );
  }
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="field">
        <label htmlFor={ids.name}>Team name</label>
        <input
          id={ids.name}
          className="input"
          value={name}
          autoComplete="off"
          onChange={(e) => {
            setName(e.target.value);
            if (!slugEdited) setSlug(slugify(e.target.value));
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.slug}>Slug</label>
        <input
          id={ids.slug}
          className="input mono"
          value={slug}
          autoComplete="off"
          aria-describedby={ids.slugHelp}
          onChange={(e) => {
            setSlugEdited(true);
            setSlug(e.target.value);
          }}
        />
        <p className="field-help" id={ids.slugHelp}>
          Lowercase letters, digits and dashes; unique. Used as <code>accountSlug</code> when assigning numbers.
        </p>
      </div>
      <div className="field">
        <label htmlFor={ids.plan}>Plan</label>
        <select id={ids.plan} className="select" value={plan} onChange={(e) => setPlan(e.target.value as PlanName)}>
          {PLAN_NAMES.map((p) => (
            <option key={p} value={p}>
              {PLAN_TEXT[p]}
            </option>
          ))}
        </select>
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

function PlanForm({ team, onDone }: { team: Team; onDone: (message?: string) => void }) {
  const { client, reloadTeams } = useApp();
  const [plan, setPlan] = useState<PlanName>(team.plan);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { team: after } = await client.setPlan(team.id, { plan });
      await reloadTeams();
      onDone(`${after.name} is on the ${after.plan} plan now.`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <fieldset className="field radio-group radio-stack">
        <legend>Plan</legend>
        {PLAN_NAMES.map((p) => (
          <label key={p} className="radio">
            <input type="radio" name="plan" value={p} checked={plan === p} onChange={() => setPlan(p)} />
            {PLAN_TEXT[p]}
          </label>
        ))}
      </fieldset>
      {team.plan === 'free' && plan !== 'free' && <p className="muted small">Leaving the free plan makes the team's trial number permanent.</p>}
      {team.numberLimit !== null && plan !== team.plan && (
        <p className="muted small">
          The team holds {team.numbersHeld} number{team.numbersHeld === 1 ? '' : 's'}. A smaller plan is allowed, but no purchase succeeds until the team is
          under its limit.
        </p>
      )}
      <ErrorNotice error={error} />
      <div className="actions actions-end">
        <button type="button" className="button button-secondary" onClick={() => onDone()}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy || plan === team.plan}>
          {busy && <Spinner />} Change plan
        </button>
      </div>
    </form>
  );
}
