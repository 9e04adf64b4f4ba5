// The nodes table's CPU sparklines: a node's CPU % free over the last 10
// minutes as a few SVG polylines (no chart library), and the query that feeds
// them. A module of its own, loaded once the column is on (NodesTable.tsx:
// its default export, which hands the table the answers and the line's
// component); a row draws its line only while it is on screen (the table is
// virtualised).
import { memo, useEffect } from 'react';
import { useDashboard, useSocket } from '../core/context';
import type { ResourceSparks } from '../core/protocol';
import { sparkLabel, sparkSegments } from './sparkPath';

const WIDTH = 80;
const HEIGHT = 18;
// inline: a stylesheet of its own would be one more file for the first page to list
const STYLE = { display: 'block', color: 'var(--accent)' } as const;

/** The sparklines' buckets are 10 s (features/resources.py SPARK_STEP): asking more often shows nothing new. */
export const SPARK_REFRESH_MS = 10_000;

export type Sparks = ResourceSparks['nodes'];

export interface SparklineProps {
  /** CPU % free per bucket, oldest first (null: no pulse); null: no series for the node;
   *  undefined: not in the answer yet (a node newer than it): nothing drawn */
  values: readonly (number | null)[] | null | undefined;
}

export const Sparkline = memo(function Sparkline({ values }: SparklineProps) {
  if (values === undefined) return null;
  const segments = values ? sparkSegments(values, WIDTH, HEIGHT) : [];
  return (
    <svg
      className="sparkline"
      style={STYLE}
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={sparkLabel(values)}
    >
      {segments.map((points, i) => (
        <polyline key={i} points={points} fill="none" stroke="currentColor" strokeWidth={1.25} />
      ))}
    </svg>
  );
});

/** What the table gets: the latest answer, and the component that draws a line. */
export interface SparkAnswer {
  nodes: Sparks;
  Line: typeof Sparkline;
}

export interface SparkFetcherProps {
  /** the nodes to ask for, by address (at most 300) */
  nodes: Readonly<Record<string, unknown>>;
  /** each answer; null when it stops (the column turned off): the lines go */
  onSparks(answer: SparkAnswer | null): void;
}

/**
 * Asks `node_resources` for the nodes' sparklines (one query for them all):
 * now, at the page's interval but no more often than a bucket fills, and on
 * Update. Draws nothing. A failed refresh keeps the last lines.
 */
export default function SparkFetcher({ nodes, onSparks }: SparkFetcherProps) {
  const socket = useSocket();
  const interval = useDashboard((s) => s.interval);
  const updateRequests = useDashboard((s) => s.updateRequests);
  // by value: a delta that changes no node's address asks nothing
  const key = Object.keys(nodes).sort().join(',');
  useEffect(() => {
    if (!key) return; // no nodes: nothing to ask
    let live = true;
    let latest = 0;
    const ask = () => {
      const request = ++latest;
      socket.command('node_resources', { nodes: key.split(','), span: '10m' }).then(
        (answer) => {
          if (live && request === latest && 'nodes' in answer && !('times' in answer)) onSparks({ nodes: answer.nodes, Line: Sparkline });
        },
        () => {}, // the next refresh tries again
      );
    };
    ask();
    const period = interval === null || interval <= 0 ? null : Math.max(interval * 1000, SPARK_REFRESH_MS);
    const timer = period === null ? null : window.setInterval(ask, period);
    return () => {
      live = false;
      if (timer !== null) window.clearInterval(timer);
    };
  }, [socket, key, interval, updateRequests, onSparks]);
  useEffect(() => () => onSparks(null), [onSparks]);
  return null;
}
