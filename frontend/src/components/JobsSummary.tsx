import { useId } from 'react';
import { useDashboard } from '../context';
import type { Jobs } from '../protocol';
import { selectCluster, zeroJobs } from '../state';

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
        {FIGURES.map(([key, label]) => (
          <div key={key} className={`figure figure-${key}`}>
            <dt>{label}</dt>
            <dd data-testid={`jobs-${key}`}>{figure(jobs, key)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
