// Pure helpers of the nodes table's CPU sparklines (Sparkline.tsx), tested without a DOM.

/**
 * SVG polyline segments of a sparkline: `values` (0–100, null: no pulse) on
 * a `width` × `height` box, 100 % at the top. A null breaks the line (no
 * pulse is not 0 % free); a lone point becomes a short dash so it shows.
 */
export function sparkSegments(values: readonly (number | null)[], width: number, height: number): string[] {
  const n = values.length;
  if (n === 0) return [];
  const dx = n > 1 ? width / (n - 1) : 0;
  const y = (v: number) => (height - (Math.min(100, Math.max(0, v)) / 100) * height).toFixed(1);
  const segments: string[] = [];
  let points: string[] = [];
  const flush = () => {
    if (points.length === 1) {
      const [x, yy] = points[0]!.split(',');
      points = [`${Math.max(0, Number(x) - 1).toFixed(1)},${yy}`, `${Math.min(width, Number(x) + 1).toFixed(1)},${yy}`];
    }
    if (points.length) segments.push(points.join(' '));
    points = [];
  };
  values.forEach((v, i) => {
    if (v === null) flush();
    else points.push(`${(i * dx).toFixed(1)},${y(v)}`);
  });
  flush();
  return segments;
}

/** The sparkline's accessible name: the latest value and the range over the window. */
export function sparkLabel(values: readonly (number | null)[] | null | undefined): string {
  const known = (values ?? []).filter((v): v is number => v !== null);
  if (known.length === 0) return 'CPU free, last 10 minutes: no pulses';
  const last = known[known.length - 1]!;
  return `CPU free, last 10 minutes: latest ${last} %, lowest ${Math.min(...known)} %, highest ${Math.max(...known)} %`;
}
