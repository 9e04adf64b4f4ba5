import { useId, useMemo } from 'react';
import { useDashboard } from '../../core/context';
import type { Cluster, Job } from '../../core/protocol';
import { programsByNode } from '../../core/selectors';

/** Job IDs named per program; the rest are counted (the Running jobs table lists them all). */
export const NAMED_JOBS = 5;

export interface ProgramUse {
  program: string;
  /** the program's clusters using the node, by the central's names */
  clusters: string[];
  /** what those clusters have running there (dispy's busy count, added up) */
  busy: number;
  /** the node's running jobs of those clusters, as the server listed them (null: not arrived yet) */
  running: number | null;
  /** the first NAMED_JOBS of them, by start time */
  named: Job[];
}

/**
 * A node on a fleet central, per program using it (docs/fleet.md): its
 * clusters there, their busy count, and their running jobs on the node. One
 * pass over the node's running jobs.
 */
export function programUses(
  clusters: Record<string, Cluster>,
  ip: string,
  jobs: ReadonlyMap<number, Job> | null,
): ProgramUse[] {
  const programs = programsByNode(clusters).get(ip) ?? [];
  const uses = new Map<string, ProgramUse>(
    programs.map((p) => [p, { program: p, clusters: [], busy: 0, running: jobs ? 0 : null, named: [] }]),
  );
  const owner = new Map<string, ProgramUse>();
  for (const [name, cluster] of Object.entries(clusters)) {
    const use = cluster?.program !== undefined ? uses.get(cluster.program) : undefined;
    const node = cluster?.nodes[ip];
    if (!use || !node) continue;
    use.clusters.push(name);
    use.busy += node.busy;
    owner.set(name, use);
  }
  for (const job of jobs?.values() ?? []) {
    const use = owner.get(job.cluster);
    if (!use) continue;
    use.running = (use.running ?? 0) + 1;
    use.named.push(job);
    if (use.named.length > NAMED_JOBS) {
      use.named.sort((a, b) => (a.start_time ?? Infinity) - (b.start_time ?? Infinity));
      use.named.length = NAMED_JOBS;
    }
  }
  for (const use of uses.values()) {
    use.clusters.sort();
    use.named.sort((a, b) => (a.start_time ?? Infinity) - (b.start_time ?? Infinity));
  }
  return [...uses.values()];
}

function runningText(use: ProgramUse): string {
  if (use.running === null) return '…';
  if (use.running === 0) return 'none';
  const ids = use.named.map((j) => j.id).join(', ');
  const more = use.running - use.named.length;
  return more > 0 ? `${use.running}: ${ids} and ${more} more` : `${use.running}: ${ids}`;
}

/**
 * On a fleet central, the programs using this node and each one's running
 * jobs there. A node several programs use is one node on the central (by its
 * address); nothing is shown on a dashboard that is not a central.
 */
export function NodePrograms({ ip, jobs }: { ip: string; jobs: ReadonlyMap<number, Job> | null }) {
  const headingId = useId();
  const central = useDashboard((s) => s.fleet?.role === 'central');
  const clusters = useDashboard((s) => s.clusters);
  const uses = useMemo(() => (central ? programUses(clusters, ip, jobs) : []), [central, clusters, ip, jobs]);
  if (uses.length === 0) return null;
  return (
    <section className="node-programs" aria-labelledby={headingId}>
      <h3 id={headingId}>Programs using this node</h3>
      <div className="table-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table aria-label="Programs using this node">
          <thead>
            <tr>
              <th scope="col">Program</th>
              <th scope="col">Clusters</th>
              <th scope="col" className="num">
                Busy
              </th>
              <th scope="col">Running jobs here</th>
            </tr>
          </thead>
          <tbody>
            {uses.map((use) => (
              <tr key={use.program}>
                <th scope="row">{use.program}</th>
                <td>{use.clusters.join(', ')}</td>
                <td className="num">{use.busy}</td>
                <td>{runningText(use)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
