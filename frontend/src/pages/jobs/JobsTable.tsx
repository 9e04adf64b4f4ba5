// The Jobs view's table: `total` rows, virtualised (only those in view are in
// the DOM), each read from its page; a row whose page is not here yet shows
// "Loading…" and asks for its page.
import { memo, useEffect, useState } from 'react';
import VirtualRows from '../../components/VirtualRows';
import { EmptyRow } from '../../components/EmptyRow';
import type { JobRow } from '../../core/protocol';
import { DASH, dashIfNull, formatDateTime, formatSeconds } from '../../lib/format';
import { jobPath, nodePath } from '../../lib/paths';
import { Link } from '../../router';
import { PAGE_ROWS } from './useJobPages';
import type { JobPager } from './useJobPages';

/** Fixed row height (px, matches the CSS of .jobs-table). */
const ROW_HEIGHT = 36;
const COLUMNS = 9;

const Row = memo(function Row({ job, rowIndex }: { job: JobRow; rowIndex: number }) {
  return (
    <tr aria-rowindex={rowIndex} className={`jobs-row state-${job.state}`}>
      <td title={job.id}>
        <Link to={jobPath(job.cluster, job.id, job.key)}>{job.id}</Link>
      </td>
      <td>{job.cluster}</td>
      <td>
        <span className={`history-outcome outcome-${job.state}`}>{job.state}</span>
      </td>
      <td>{job.node ? <Link to={nodePath(job.node)}>{job.node}</Link> : DASH}</td>
      <td title={job.exception_type ?? undefined}>{job.exception_type ?? ''}</td>
      <td>{formatDateTime(job.created)}</td>
      <td>{formatDateTime(job.start_time)}</td>
      <td>{formatDateTime(job.end_time)}</td>
      <td className="num">{dashIfNull(job.duration, formatSeconds)}</td>
    </tr>
  );
});

/** A row whose page has not arrived: it asks for it, again after every answer (another page may have gone first). */
function Pending({ pager, page, rowIndex, version }: { pager: JobPager; page: number; rowIndex: number; version: number }) {
  useEffect(() => pager.want(page), [pager, page, version]);
  return (
    <tr aria-rowindex={rowIndex} className="jobs-row pending">
      <td colSpan={COLUMNS} className="muted">
        Loading…
      </td>
    </tr>
  );
}

interface JobsTableProps {
  pager: JobPager;
  total: number;
  version: number;
  label: string;
}

export function JobsTable({ pager, total, version, label }: JobsTableProps) {
  const [scrollBox, setScrollBox] = useState<HTMLDivElement | null>(null);
  const row = (index: number) => {
    const job = pager.row(index);
    // keyed by position: a placeholder and its row take the same slot
    if (job === null) return <Pending key={index} pager={pager} page={Math.floor(index / PAGE_ROWS)} rowIndex={index + 2} version={version} />;
    return <Row key={index} job={job} rowIndex={index + 2} />;
  };
  return (
    <div ref={setScrollBox} className="table-scroll virtual-scroll" tabIndex={0} role="group" aria-label={label}>
      <table className="jobs-table jobs-view-table" aria-label={label} aria-rowcount={total + 1}>
        <colgroup>
          <col className="col-id" />
          <col className="col-cluster" />
          <col className="col-state" />
          <col className="col-node" />
          <col className="col-exception" />
          <col className="col-time" />
          <col className="col-time" />
          <col className="col-time" />
          <col className="col-duration" />
        </colgroup>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col">Job ID</th>
            <th scope="col">Cluster</th>
            <th scope="col">State</th>
            <th scope="col">Node</th>
            <th scope="col">Exception</th>
            <th scope="col">Created</th>
            <th scope="col">Started</th>
            <th scope="col">Ended</th>
            <th scope="col" className="num">
              Duration (s)
            </th>
          </tr>
        </thead>
        <tbody>
          {total === 0 ? (
            <EmptyRow columns={COLUMNS}>No jobs match these filters</EmptyRow>
          ) : (
            <VirtualRows count={total} scrollElement={scrollBox} rowHeight={ROW_HEIGHT} columns={COLUMNS} row={row} />
          )}
        </tbody>
      </table>
    </div>
  );
}
