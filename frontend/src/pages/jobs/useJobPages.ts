// The rows of the Jobs view, fetched in pages of 500 from a selection the
// server froze (`jobs` with `selection`): scrolling reads a stable list, and
// only the pages in view are asked for. At most 10 pages are held (the least
// recently wanted go first). Latest wins: one request in flight, one page
// waiting; a newer wish replaces the waiting one, so fast scrolling past
// pages asks only for where it stops.
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { useSocket } from '../../core/context';
import type { SocketControls } from '../../core/context';
import { isJobsPage } from '../../core/protocol';
import type { JobFilter, JobRow, JobState, JobsPage } from '../../core/protocol';
import { errorMessage } from '../../core/useCommands';

export const PAGE_ROWS = 500;
export const PAGES_KEPT = 10;

export interface JobPagesView {
  /** rows in the selection; null before the first answer */
  total: number | null;
  counts: Partial<Record<JobState, number>>;
  /** queued jobs dispy counts that the server does not list (`unlisted`) */
  unlisted: number;
  /** the last failure; null once a page arrives */
  error: string | null;
  /** bumps on every change: rows read through `row()` may have changed */
  version: number;
}

type Ask = (args: JobFilter & { offset: number; limit: number; selection?: number }) => Promise<JobsPage>;

export class JobPager {
  private selection: number | null = null;
  private readonly pages = new Map<number, JobRow[]>();
  private inFlight: number | null = null;
  private waiting: number | null = null;
  /** answers of an older generation (before a Refresh) are dropped */
  private generation = 0;
  private closed = false;
  /** the request in flight (0: none, or its answer is no longer wanted) */
  private current = 0;
  private requests = 0;
  private view: JobPagesView = { total: null, counts: {}, unlisted: 0, error: null, version: 0 };
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly ask: Ask,
    private readonly filter: JobFilter,
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getView = (): JobPagesView => this.view;

  /** The row at `index`, or null while its page is not here. */
  row(index: number): JobRow | null {
    return this.pages.get(Math.floor(index / PAGE_ROWS))?.[index % PAGE_ROWS] ?? null;
  }

  /** The page is wanted (a row of it is in view). */
  want(page: number): void {
    if (this.closed) return;
    const rows = this.pages.get(page);
    if (rows) {
      // most recently wanted last: eviction takes the first
      this.pages.delete(page);
      this.pages.set(page, rows);
      return;
    }
    if (this.inFlight === page) return;
    if (this.inFlight !== null) {
      this.waiting = page;
      return;
    }
    this.fetch(page);
  }

  /** A new selection (the server freezes the matching jobs anew); what is shown stays until its pages arrive. */
  refresh(page: number): void {
    this.generation++;
    this.selection = null;
    this.pages.clear();
    if (this.inFlight !== null) this.waiting = page;
    else this.fetch(page);
  }

  /** Answers arriving while closed (the page left) are dropped; open() again (StrictMode remounts) asks anew. */
  open(): void {
    this.closed = false;
  }

  close(): void {
    this.closed = true;
    this.current = 0;
    this.inFlight = null;
    this.waiting = null;
  }

  private fetch(page: number): void {
    this.inFlight = page;
    this.waiting = null;
    const generation = this.generation;
    const request = (this.current = ++this.requests);
    const args: Parameters<Ask>[0] = { ...this.filter, offset: page * PAGE_ROWS, limit: PAGE_ROWS };
    if (this.selection !== null) args.selection = this.selection;
    this.ask(args).then(
      (answer) => {
        if (request !== this.current) return;
        if (generation === this.generation && !isJobsPage(answer)) {
          this.view = { ...this.view, error: 'the server sent a page of jobs this page cannot read' };
        } else if (generation === this.generation) {
          // an expired selection comes back as a new one: the rows held are of the old list
          if (answer.selection !== this.selection) this.pages.clear();
          this.selection = answer.selection;
          this.pages.set(page, answer.jobs);
          while (this.pages.size > PAGES_KEPT) this.pages.delete(this.pages.keys().next().value as number);
          this.view = { ...this.view, total: answer.total, counts: answer.counts, unlisted: answer.unlisted, error: null };
        }
        this.next();
      },
      (err: unknown) => {
        if (request !== this.current) return;
        if (generation === this.generation) this.view = { ...this.view, error: errorMessage(err) };
        this.next();
      },
    );
  }

  private next(): void {
    this.current = 0;
    this.inFlight = null;
    const page = this.waiting;
    this.waiting = null;
    if (page !== null) this.want(page);
    // every answer is one change; rows still in view whose page was not asked for ask again on it
    this.publish({});
  }

  private publish(change: Partial<JobPagesView>): void {
    this.view = { ...this.view, ...change, version: this.view.version + 1 };
    for (const listener of this.listeners) listener();
  }
}

/** A pager for this filter (a new one when the filter changes), and its view. */
export function useJobPages(filter: JobFilter): { pager: JobPager; view: JobPagesView } {
  const socket: SocketControls = useSocket();
  const key = JSON.stringify(filter);
  const pager = useMemo(
    () => new JobPager((args) => socket.command('jobs', args), JSON.parse(key) as JobFilter),
    [socket, key],
  );
  useEffect(() => {
    pager.open();
    pager.want(0);
    return () => pager.close();
  }, [pager]);
  const view = useSyncExternalStore(pager.subscribe, pager.getView);
  return { pager, view };
}
