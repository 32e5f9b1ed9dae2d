/** The frame around every page: left navigation, the team in view, sign out. */
import { useEffect, useId, useRef, type MouseEvent, type ReactNode } from 'react';
import { ErrorBoundary } from './components/error-boundary';
import { EmptyState } from './components/notices';
import { useApp } from './context';
import { match, navigate } from './router';
import { AssistantPage } from './pages/assistant';
import { AssistantsPage } from './pages/assistants';
import { CallsPage } from './pages/calls';
import { NumbersPage } from './pages/numbers';
import { TeamsPage } from './pages/teams';
import { TokensPage } from './pages/tokens';

/** A real link that the router follows without a page load. */
export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string; 'aria-current'?: 'page' }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} className={className} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

const ICONS: Record<string, ReactNode> = {
  numbers: <path d="M6.6 3.5h2.2l1.2 3.4-1.7 1.2a9.6 9.6 0 004.1 4.1l1.2-1.7 3.4 1.2v2.2a1.6 1.6 0 01-1.7 1.6A13.3 13.3 0 015 5.2a1.6 1.6 0 011.6-1.7z" />,
  assistants: <path d="M10 3.5a3 3 0 013 3v3a3 3 0 01-6 0v-3a3 3 0 013-3zM5 9.5a5 5 0 0010 0M10 14.5v2.5" />,
  calls: <path d="M3.5 10h3l2-5 3 10 2-5h3" />,
  tokens: <path d="M12.5 3.5a4 4 0 11-3.6 5.7L3.5 14.6v2h2.5v-1.5h1.5v-1.5H9l1.1-1.1A4 4 0 0112.5 3.5zM13.5 6.5h.01" />,
  teams: <path d="M7 9a2.5 2.5 0 100-5 2.5 2.5 0 000 5zM2.5 16c0-2.5 2-4.5 4.5-4.5s4.5 2 4.5 4.5M13.5 9a2 2 0 100-4M14.5 11.6c1.8.4 3 2 3 4.4" />,
};

function NavItem({ to, icon, label, path }: { to: string; icon: string; label: string; path: string }) {
  const current = path === to || path.startsWith(to + '/');
  return (
    <li>
      <Link to={to} className={current ? 'nav-link current' : 'nav-link'} {...(current ? { 'aria-current': 'page' as const } : {})}>
        <svg
          viewBox="0 0 20 20"
          width="18"
          height="18"
          aria-hidden="true"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.6"
          strokeLinecap="round"
          strokeLinejoin="round"
        >
          {ICONS[icon]}
        </svg>
        {label}
      </Link>
    </li>
  );
}

function TeamSwitcher() {
  const { teams, team, selectTeam } = useApp();
  const id = useId();
  if (teams.length === 0) return <span className="team-name muted">No teams yet</span>;
  return (
    <div className="team-switcher">
      <label htmlFor={id}>Team</label>
      <select id={id} className="select" value={team?.id ?? ''} onChange={(e) => selectTeam(e.target.value)}>
        {teams.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name} ({t.slug})
          </option>
        ))}
      </select>
    </div>
  );
}

function Page({ path }: { path: string }) {
  const { team, admin } = useApp();
  const needsTeam = (page: ReactNode) =>
    team ? (
      page
    ) : (
      <section className="card">
        <h1 tabIndex={-1}>No team yet</h1>
        <EmptyState title="Create a team first">
          <p>Numbers, assistants and calls belong to a team. {admin ? <Link to="/teams">Create a team</Link> : null}</p>
        </EmptyState>
      </section>
    );
  if (path === '/numbers') return needsTeam(<NumbersPage />);
  if (path === '/assistants') return needsTeam(<AssistantsPage />);
  const a = match('/assistants/:id', path);
  if (a) return needsTeam(<AssistantPage id={a.id!} />);
  if (path === '/calls') return needsTeam(<CallsPage />);
  if (path === '/tokens') return needsTeam(<TokensPage />);
  if (path === '/teams') return <TeamsPage />;
  if (path === '/' || path === '/sign-in') return null; // redirecting
  return (
    <section className="card">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is no console page at <code>{path}</code>. <Link to="/numbers">Go to Phone Numbers</Link>.
      </p>
    </section>
  );
}

export function Shell({ path }: { path: string }) {
  const { admin, team, signOut } = useApp();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // After a navigation, focus goes to the new page's heading, as a page load would put it at the top.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const t = window.setTimeout(() => main.current?.querySelector<HTMLElement>('h1')?.focus(), 0);
    return () => window.clearTimeout(t);
  }, [path]);

  return (
    <div className="layout">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#4f46e5" />
            <path d="M9 11h14M9 16h9M9 21h14" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
            <circle cx="22" cy="16" r="2.2" fill="#a5f3fc" />
          </svg>
          <span>Switchboard</span>
        </div>
        <nav aria-label="Main">
          <ul className="nav">
            <NavItem to="/numbers" icon="numbers" label="Phone Numbers" path={path} />
            <NavItem to="/assistants" icon="assistants" label="Assistants" path={path} />
            <NavItem to="/calls" icon="calls" label="Calls" path={path} />
            <NavItem to="/tokens" icon="tokens" label="API Tokens" path={path} />
            {admin && <NavItem to="/teams" icon="teams" label="Teams" path={path} />}
          </ul>
        </nav>
      </aside>
      <div className="content">
        <header className="topbar">
          {admin ? <TeamSwitcher /> : <span className="team-name">{team?.name}</span>}
          {team && (
            <span className="plan-chip" title="The team's plan">
              {team.plan} plan · {team.numbersHeld}
              {team.numberLimit === null ? '' : ` of ${team.numberLimit}`} number{team.numberLimit === 1 ? '' : 's'}
            </span>
          )}
          <span className="spacer" />
          {admin && <span className="badge badge-admin">Admin</span>}
          <button type="button" className="button button-secondary" onClick={signOut}>
            Sign out
          </button>
        </header>
        <main id="main" ref={main} tabIndex={-1}>
          <ErrorBoundary resetKey={path}>
            <Page path={path} />
          </ErrorBoundary>
        </main>
      </div>
    </div>
  );
}
