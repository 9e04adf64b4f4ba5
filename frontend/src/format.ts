// Display formatting shared by the tables and summaries.

export const DASH = '—';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time HH:MM:SS of a Unix time in seconds; — for 0 (never). */
export function formatClock(unixSeconds: number): string {
  if (!(unixSeconds > 0)) return DASH;
  const d = new Date(unixSeconds * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Seconds with millisecond precision (dispy.httpd's format). */
export function formatSeconds(seconds: number): string {
  return seconds.toFixed(3);
}

/** Average CPU seconds per finished job; null when no job is done. */
export function secPerJob(cpuTime: number, jobsDone: number): number | null {
  return jobsDone > 0 ? cpuTime / jobsDone : null;
}

/**
 * Parses the update-interval field: a finite number of seconds, or null for
 * anything else (empty, Infinity, NaN).
 */
export function parseInterval(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}
