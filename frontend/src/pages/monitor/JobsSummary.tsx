import { useId } from 'react';
import { useDashboard } from '../../core/context';
import type { Jobs } from '../../core/protocol';
import { selectCluster } from '../../core/selectors';
import { zeroJobs } from '../../core/state';

type FigureKey = keyof Jobs | 'pending';

// Order and keys are part of the page's contract (data-testid="jobs-<key>").
const FIGURES: readonly (readonly [FigureKey, string])[] = [
  ['submitted', 'Submitted'],
  ['done', 'Done'],
  ['pending', 'Pending'],
  ['queued', 'Queued'],
  ['running', 'Running'],
  ['finished', 'Finished'],
  ['failed', 'Failed'],
  ['cancelled', 'Cancelled'],
  ['terminated', 'Terminated'],
  ['abandoned', 'Abandoned'],
];

// Counts that mean something went wrong: shown as an alarm only when not zero
// (a red 0 reads as a problem where there is none).
const ALARMS: ReadonlySet<FigureKey> = new Set<FigureKey>(['failed', 'abandoned']);

function figure(jobs: Jobs, key: FigureKey): number {
  // "pending" as dispy.httpd shows it: submitted but not done.
  return key === 'pending' ? jobs.submitted - jobs.done : jobs[key];
}

export function JobsSummary() {
  const headingId = useId();
  const jobs = useDashboard((s) => selectCluster(s, s.selectedCluster)?.jobs ?? zeroJobs);
  return (
    <section className="jobs" aria-labelledby={headingId}>
      <h3 id={headingId}>Jobs</h3>
      <dl>
        {FIGURES.map(([key, label]) => {
          const value = figure(jobs, key);
          const alarm = ALARMS.has(key) && value > 0;
          return (
            <div key={key} className={alarm ? `figure figure-${key} alarm` : `figure figure-${key}`}>
              <dt>{label}</dt>
              <dd data-testid={`jobs-${key}`}>{value}</dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}
