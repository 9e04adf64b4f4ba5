// Display formatting shared by the tables and summaries.

export const DASH = '—';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A number through a formatter, or — when nothing was reported (null, undefined). */
export const dashIfNull = (v: number | null | undefined, fmt: (v: number) => string) => (v == null ? DASH : fmt(v));

const hms = (d: Date) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;

/** Local wall-clock time HH:MM:SS of a Unix time in seconds; — for 0 (never). */
export function formatClock(unixSeconds: number): string {
  return unixSeconds > 0 ? hms(new Date(unixSeconds * 1000)) : DASH;
}

/** Local date and time (YYYY-MM-DD HH:MM:SS) of a Unix time: for what spans days; — for none. */
export function formatDateTime(unixSeconds: number | null): string {
  if (unixSeconds == null || !(unixSeconds > 0)) return DASH;
  const d = new Date(unixSeconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hms(d)}`;
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

/** Bytes in decimal units, as disks are sold and psutil users expect: "1.2 GB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  // One decimal while it says something (1.2 GB), none for whole bytes or big values.
  const text = unit === 0 || Math.abs(value) >= 100 ? Math.round(value).toString() : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/** A percentage with one decimal: "93.5 %". */
export function formatPercent(value: number): string {
  return `${value.toFixed(1)} %`;
}

/** Whole seconds since a start: "12 s", "3 min 04 s", "2 h 05 min 09 s". */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad2(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${pad2(m % 60)} min ${pad2(s % 60)} s`;
}

/** Health flags of a node, as words (empty when healthy). */
export function healthFlags(node: { stuck?: boolean; stale?: boolean }): string[] {
  const flags: string[] = [];
  if (node.stuck) flags.push('stuck');
  if (node.stale) flags.push('stale');
  return flags;
}

/** Why a flag is shown (the title of its badge). */
export const FLAG_HELP: Record<string, string> = {
  stuck: 'Busy, but no job started or ended here for a long time: the node may have stopped returning results',
  stale: 'Its CPU, memory and disk figures stopped arriving: the node may be overloaded or unreachable',
};

/** Node status as the pages show it (the end-to-end tests read these texts). */
export function statusText(status: 'initialized' | 'deallocated' | 'closed'): string {
  return status === 'closed' ? 'Closed' : status === 'deallocated' ? 'Deallocated' : 'Initialized';
}
