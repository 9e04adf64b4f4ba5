import { useDashboard } from '../core/context';
import type { ConnectionStatus } from '../core/store';

// Exact texts: the end-to-end tests read them.
const LABELS: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stopped: 'Server stopped: reconnecting when it is back',
  closed: 'Disconnected',
};

export function ConnectionIndicator() {
  const connection = useDashboard((s) => s.connection);
  // why the server closed the connection, when it said (socket.ts: a page that did not read)
  const reason = useDashboard((s) => s.lastError?.message);
  return (
    <span
      role="status"
      aria-label="Connection"
      className={`connection connection-${connection}`}
      title={connection === 'reconnecting' ? reason : undefined}
    >
      {LABELS[connection]}
    </span>
  );
}
