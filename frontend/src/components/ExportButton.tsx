// "Export CSV": a plain same-origin link with `download`, so the browser
// streams the file itself (the session cookie goes with it; a viewer may
// export too) and no row passes through this page's memory.

export type ExportKind = 'history' | 'jobs' | 'nodes';

interface ExportButtonProps {
  kind: ExportKind;
  /** the view's filters, as the matching JSON route takes them */
  params: URLSearchParams;
}

/** The CSV route of a view with its filters. */
export function exportHref(kind: ExportKind, params: URLSearchParams): string {
  const query = params.toString();
  return `/api/${kind}.csv${query ? `?${query}` : ''}`;
}

export function ExportButton({ kind, params }: ExportButtonProps) {
  return (
    <a className="button-link" href={exportHref(kind, params)} download aria-label={`Export ${kind} as CSV`}>
      Export CSV
    </a>
  );
}
