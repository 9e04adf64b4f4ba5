import { useDashboard } from '../context';
import type { ConnectionStatus } from '../store';

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
  return (
    <span role="status" aria-label="Connection" className={`connection connection-${connection}`}>
      {LABELS[connection]}
    </span>
  );
}
