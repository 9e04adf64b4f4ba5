import { Suspense, lazy } from 'react';
import type { ReactNode } from 'react';
import { ConnectionIndicator } from './components/ConnectionIndicator';
import { useDashboard, useReadOnly } from './core/context';
import { MonitorPage } from './pages/monitor/MonitorPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ThemeToggle } from './components/ThemeToggle';
import { JobSearch } from './components/JobSearch';
import { ALERTS_PATH, HISTORY_PATH, JOBS_PATH, MANAGE_PATH, TIMELINE_PATH } from './lib/paths';
import { Link, usePathname } from './router';

// The Node and Manage pages load on first visit: what the Monitor page
// ships first stays within its budget (they bring the virtualised table,
// dialogs and forms).
const NodePage = lazy(() => import('./pages/node/NodePage'));
const ManagePage = lazy(() => import('./pages/manage/ManagePage'));
const HistoryPage = lazy(() => import('./pages/history/HistoryPage'));
const JobsPage = lazy(() => import('./pages/jobs/JobsPage'));
const JobPage = lazy(() => import('./pages/job/JobPage'));
const AlertsPage = lazy(() => import('./pages/alerts/AlertsPage'));
// The alerts banner (and notifications) load with the page, not in its first chunk: it shows only once something fires.
const AlertBanner = lazy(() => import('./components/AlertBanner'));
// issue 19: the job timeline (a canvas page)
const TimelinePage = lazy(() => import('./pages/timeline/TimelinePage'));
// The fleet's program chooser loads only on a dashboard with a broker (docs/fleet.md)
const ProgramSelect = lazy(() => import('./components/ProgramSelect').then((m) => ({ default: m.ProgramSelect })));

function Fleet() {
  const fleet = useDashboard((s) => s.fleet);
  if (fleet === null) return null;
  return (
    <Suspense fallback={null}>
      <ProgramSelect />
    </Suspense>
  );
}

interface Route {
  /** matched against location.pathname; capture groups become params */
  pattern: RegExp;
  render(params: string[]): ReactNode;
}

/** A path segment as typed; a malformed escape is kept literally rather than crashing. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const routes: Route[] = [
  { pattern: /^\/$/, render: () => <MonitorPage /> },
  {
    pattern: /^\/node\/([^/]+)\/?$/,
    // keyed by ip: another node's page starts afresh (selection, results)
    render: ([ip = '']) => <NodePage key={ip} ip={decodeSegment(ip)} />,
  },
  { pattern: /^\/manage\/?$/, render: () => <ManagePage /> },
  { pattern: /^\/history\/?$/, render: () => <HistoryPage /> },
  { pattern: /^\/jobs\/?$/, render: () => <JobsPage /> },
  { pattern: /^\/alerts\/?$/, render: () => <AlertsPage /> },
  { pattern: /^\/timeline\/?$/, render: () => <TimelinePage /> },
  {
    pattern: /^\/job\/([^/]+)\/([^/]+)\/?$/,
    // keyed by cluster and id: another job's page starts afresh (`?key=` is read inside)
    render: ([cluster = '', id = '']) => (
      <JobPage key={`${cluster}/${id}`} cluster={decodeSegment(cluster)} id={decodeSegment(id)} />
    ),
  },
];

export function renderRoute(pathname: string): ReactNode {
  for (const route of routes) {
    const m = route.pattern.exec(pathname);
    if (m) return route.render(m.slice(1));
  }
  return <NotFoundPage />;
}

function ServerInfo() {
  const server = useDashboard((s) => s.hello?.server);
  return server ? <footer className="app-footer">{server}</footer> : null;
}

/** Said on every page of a viewer's: why nothing here acts on the cluster. */
function ReadOnlyNote() {
  return useReadOnly() ? (
    <span className="muted read-only-note" role="note">
      Read-only: a viewer token can look, not command
    </span>
  ) : null;
}

export function App() {
  const pathname = usePathname();
  return (
    <>
      <header className="app-header">
        <h1>dispymon</h1>
        <nav aria-label="Main">
          <Link to="/">Monitor</Link>
          <Link to={MANAGE_PATH}>Manage</Link>
          <Link to={HISTORY_PATH}>History</Link>
          <Link to={JOBS_PATH}>Jobs</Link>
          <Link to={ALERTS_PATH}>Alerts</Link>
          <Link to={TIMELINE_PATH}>Timeline</Link>
        </nav>
        <Fleet />
        <JobSearch />
        <ReadOnlyNote />
        <ConnectionIndicator />
        <ThemeToggle />
      </header>
      <Suspense fallback={null}>
        <AlertBanner />
      </Suspense>
      <main>
        <Suspense fallback={<p className="loading">Loading…</p>}>{renderRoute(pathname)}</Suspense>
      </main>
      <ServerInfo />
    </>
  );
}
