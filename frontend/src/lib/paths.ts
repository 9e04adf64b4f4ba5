// In-app addresses, built in one place so links and routes agree.

/** The Node page of one node. */
export function nodePath(ip: string): string {
  return `/node/${encodeURIComponent(ip)}`;
}

export const MANAGE_PATH = '/manage';

export const HISTORY_PATH = '/history';

export const JOBS_PATH = '/jobs';

export const TIMELINE_PATH = '/timeline';

/** The timeline of one node (issue 19). */
export function nodeTimelinePath(ip: string): string {
  return `${TIMELINE_PATH}?node=${encodeURIComponent(ip)}`;
}

/** The Jobs view with these query-string filters (see pages/jobs/jobsFilter.ts). */
export function jobsPath(params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return query ? `${JOBS_PATH}?${query}` : JOBS_PATH;
}

/** The page of one job: by its id (a choice when not unique), or exactly by its key. */
export function jobPath(cluster: string, id: string, key?: number): string {
  const path = `/job/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}`;
  return key === undefined ? path : `${path}?key=${key}`;
}

export const ALERTS_PATH = '/alerts';
