import type { ReactNode } from 'react';
import { ConnectionIndicator } from './components/ConnectionIndicator';
import { useDashboard } from './context';
import { MonitorPage } from './pages/MonitorPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { Link, usePathname } from './router';

interface Route {
  /** matched against location.pathname; capture groups become params */
  pattern: RegExp;
  render(params: string[]): ReactNode;
}

// Pages to come: /node/<ip> (Node page) and /manage (Manage page), e.g.
//   { pattern: /^\/node\/([^/]+)$/, render: ([ip]) => <NodePage ip={decodeURIComponent(ip!)} /> },
const routes: Route[] = [{ pattern: /^\/$/, render: () => <MonitorPage /> }];

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

export function App() {
  const pathname = usePathname();
  return (
    <>
      <header className="app-header">
        <h1>dispymon</h1>
        <nav aria-label="Main">
          <Link to="/">Monitor</Link>
        </nav>
        <ConnectionIndicator />
      </header>
      <main>{renderRoute(pathname)}</main>
      <ServerInfo />
    </>
  );
}
