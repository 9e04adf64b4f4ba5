// In-app addresses, built in one place so links and routes agree.

/** The Node page of one node. */
export function nodePath(ip: string): string {
  return `/node/${encodeURIComponent(ip)}`;
}

export const MANAGE_PATH = '/manage';

export const HISTORY_PATH = '/history';
