// Shared by the Manage page's parts: what they act on and how they report.
import type { Cluster } from '../../core/protocol';

/** The clusters a management action applies to, from the global cluster choice. */
export interface Target {
  /** a cluster name or '* Combined' */
  name: string;
  /** the clusters acted on: the chosen one, or all for '* Combined' */
  clusters: Cluster[];
  /** the commands' `cluster` argument: omitted for '* Combined' (= every cluster) */
  arg: { cluster?: string };
}

export interface ActionReport {
  text: string;
  error: boolean;
  /** CPUs set below the node's busy count: the running jobs stay */
  busyWarning?: { ip: string; text: string };
  /**
   * An action that completes later (add_node): its audit entry, whose state
   * replaces "pending" in the text once known.
   */
  audit?: { id: number; prefix: string };
}

export type Report = (report: ActionReport) => void;

/** dispy ignores CPUs for a SharedJobCluster (the scheduler decides). */
export const isShared = (c: Cluster) => c.kind === 'SharedJobCluster';
