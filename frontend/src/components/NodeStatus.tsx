import type { Node } from '../core/protocol';
import { FLAG_HELP, healthFlags, statusText } from '../lib/format';

/** A node's status with its health flags (stuck, stale) as labelled badges. */
export function NodeStatus({ node }: { node: Pick<Node, 'status' | 'stuck' | 'stale'> }) {
  return (
    <>
      {statusText(node.status)}
      {healthFlags(node).map((flag) => (
        <span key={flag} className={`flag flag-${flag}`} title={FLAG_HELP[flag]}>
          {' '}
          {flag}
        </span>
      ))}
    </>
  );
}
