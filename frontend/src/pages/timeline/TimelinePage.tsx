// The job timeline (issue 19): a lane per node × CPU slot, each job a bar from
// its start to its end coloured by outcome, queued jobs marked, live at the
// browser's update interval. Loaded on first visit (a canvas page: nothing of
// it in the first page's bundle). Zoom and pan with the wheel, a drag (or two
// fingers), the buttons or the keyboard; hovering a bar names the job, a click
// opens its page. The jobs in view are also listed in a table (screen readers,
// keyboards, and the end-to-end tests read what the canvas drew from it).
import { memo, useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { KeyboardEvent as ReactKeyboardEvent, PointerEvent as ReactPointerEvent } from 'react';
import { ClusterSelect } from '../../components/ClusterSelect';
import { useDashboard, useSocket } from '../../core/context';
import { COMBINED } from '../../core/protocol';
import type { CommandArgs } from '../../core/protocol';
import { clustersOf, useClusterChoice } from '../../core/selectors';
import { errorMessage } from '../../core/useCommands';
import { formatClock, formatDateTime, formatSeconds } from '../../lib/format';
import { jobPath, nodePath } from '../../lib/paths';
import { Link, navigate, useSearch } from '../../router';
import { ALPHAS, draw, plotTop, readPalette } from './draw';
import type { Layout } from './draw';
import { keepFrom } from './data';
import { barsInView, fetchWindow, hitTest, pan, shift, zoom } from './model';
import type { Packed, View } from './model';
import { Packer, barId, barKey, toWire } from './packer';
import type { Known, Meta, PackerReply, PackerRequest, Shown } from './packer';
import '../pages.css';
import './timeline.css';

/** The window first shown: the last ten minutes. */
export const DEFAULT_SPAN = 600;
/** Bars asked for at most (the protocol's limit): what the page holds is bounded by it. */
export const BAR_LIMIT = 100_000;
/** Rows of the "Jobs in view" table. */
export const LISTED = 100;
/** The page asks again no more often than this, whatever the update interval. */
export const MIN_REFRESH_MS = 1000;
/** After a zoom or a pan settles this long, the table and the question follow the view. */
const SETTLE_MS = 150;

const LEGEND: { outcome: string; label: string; index: number }[] = [
  { outcome: 'finished', label: 'Finished', index: 0 },
  { outcome: 'failed', label: 'Failed (raised)', index: 1 },
  { outcome: 'terminated', label: 'Terminated', index: 3 },
  { outcome: 'cancelled', label: 'Cancelled', index: 2 },
  { outcome: 'abandoned', label: 'Abandoned (node lost)', index: 4 },
  { outcome: 'running', label: 'Running', index: 5 },
];

/** How often to ask again: the update interval (never faster than MIN_REFRESH_MS); null while updates are stopped. */
export function refreshMs(interval: number | null): number | null {
  if (interval === null || interval <= 0) return null;
  return Math.max(interval * 1000, MIN_REFRESH_MS);
}

const nowSeconds = () => Date.now() / 1000;

/** A following view: its right edge at `now` (a little room after it). */
function following(span: number, now: number): View {
  return { start: now - span * 0.98, end: now + span * 0.02 };
}

/** What hovering a bar says (the tooltip and the live line): stable while the pointer rests. */
function describe(shown: Shown, at: number): string {
  const p = shown.packed;
  const node = p.nodes[p.laneNode[p.lane[at]!]!]!;
  const outcome = p.outcomes[p.outcome[at]!] ?? 'unknown';
  const end = p.end[at]!;
  const took = Number.isFinite(end) ? `${formatSeconds(end - p.start[at]!)} s` : `since ${formatClock(p.start[at]!)}`;
  return `${barId(shown, at)} on ${node.ip}, CPU slot ${p.laneSlot[p.lane[at]!]! + 1}: ${outcome}, ${took}`;
}

/** Seconds before the last answer's `now` that a refresh asks again (end times a little behind the server's clock). */
export function liveOverlap(periodMs: number | null): number {
  return 10 + (2 * (periodMs ?? 1000)) / 1000;
}

type Distribute<T> = T extends unknown ? Omit<T, 'seq'> : never;

/**
 * The page's Packer (packer.ts): in a Web Worker (packer.worker.ts, its own file of the build,
 * loaded with this page), or on the main thread where there are no workers.
 */
class PackerClient {
  private worker: Worker | null = null;
  private inline: Packer | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (reply: PackerReply) => void; reject: (err: Error) => void }>();

  constructor() {
    if (typeof Worker === 'undefined') {
      this.inline = new Packer();
      return;
    }
    this.worker = new Worker(new URL('./packer.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<PackerReply>) => {
      const reply = event.data;
      const waiter = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      if (reply.error !== undefined) waiter?.reject(new Error(`the timeline could not be packed: ${reply.error}`));
      else waiter?.resolve(reply);
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new Error(`the timeline's worker failed: ${event.message || 'not loaded'}`));
    };
  }

  request(body: Distribute<PackerRequest>): Promise<PackerReply> {
    const request = { ...body, seq: ++this.seq } as PackerRequest;
    if (this.inline !== null) {
      try {
        return Promise.resolve(this.inline.handle(request));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    // the answer's bars go as typed arrays, moved (packer.ts WireAnswer): cloned as they are, 50,000 bars were a long task
    let message = request;
    let transfer: ArrayBuffer[] = [];
    if (request.kind === 'full' && !('wire' in request.answer)) {
      const w = toWire(request.answer);
      message = { ...request, answer: w.wire };
      transfer = w.transfer;
    } else if (request.kind === 'fresh' && !('wire' in request.fresh)) {
      const w = toWire(request.fresh);
      message = { ...request, fresh: w.wire };
      transfer = w.transfer;
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(request.seq, { resolve, reject });
      this.worker!.postMessage(message, transfer);
    });
  }

  private fail(err: Error) {
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }

  close() {
    this.worker?.terminate();
    this.fail(new Error('closed'));
  }
}

/**
 * The timeline's answer for the view: a full answer for the window around it
 * (fetchWindow) when the view leaves what the page has, or the cluster or node
 * changes; at the update interval (and on Update) only what can have changed
 * since (data.ts `merge`). One question at a time; a view that moves meanwhile
 * is asked for when the answer is in.
 */
function useTimeline(cluster: string, node: string | null, known: Known, view: View, viewRef: { current: View }, period: number | null, updateRequests: number) {
  const socket = useSocket();
  const [state, setState] = useState<{ shown: Shown | null; error: string | null; key: string }>({ shown: null, error: null, key: '' });
  const key = `${cluster}\n${node ?? ''}`;
  // what the Packer holds (its bars stay there): the window, clock and counts the next question needs
  const held = useRef<{ answer: Meta; key: string } | null>(null);
  // the length of the window the last full answer covered: what the page keeps while it refreshes (data.ts keepFrom)
  const heldSpan = useRef(0);
  // made on first use, closed when the page goes (with what it held: the next answer is a full one)
  const packerRef = useRef<PackerClient | null>(null);
  const packer = useCallback(() => (packerRef.current ??= new PackerClient()), []);
  useEffect(
    () => () => {
      packerRef.current?.close();
      packerRef.current = null;
      held.current = null;
    },
    [],
  );
  const knownRef = useRef(known);
  useLayoutEffect(() => {
    knownRef.current = known;
  });
  const busy = useRef(false);
  const again = useRef<boolean | null>(null); // asked while busy: a tick (true) or a view change (false)
  const askAgain = useRef<(tick: boolean) => void>(() => {});

  const ask = useCallback(
    (tick: boolean) => {
      if (busy.current) {
        again.current = again.current === true || tick;
        return;
      }
      const v = viewRef.current;
      const want = fetchWindow(v);
      const span = v.end - v.start;
      const have = held.current?.key === key ? held.current.answer : null;
      const full = have === null || want.start < have.start || (have.more && span < (have.end - have.start) / 8);
      let start = want.start;
      let end = want.end;
      if (!full) {
        if (!tick && want.end <= have.end) return; // the view is within what the page has
        start = Math.max(have.start, Math.min((have.now ?? nowSeconds()) - liveOverlap(period), have.end - 1));
        end = Math.max(want.end, have.end);
      }
      const args: CommandArgs<'timeline'> = { cluster, start, end, limit: BAR_LIMIT };
      if (node !== null) args.node = node;
      busy.current = true;
      socket
        .command('timeline', args)
        .then((value) => {
          const base = held.current?.key === key ? held.current.answer : null;
          if (full || base === null) {
            heldSpan.current = end - start;
            // merged (data.ts) and packed (model.ts) in the worker: the main thread only draws
            return packer().request({ kind: 'full', answer: value, known: knownRef.current });
          }
          // what the full answer had stays while the view zooms in or pans (data.ts keepFrom)
          const keep = keepFrom(want.start, end, heldSpan.current);
          return packer().request({ kind: 'fresh', fresh: value, since: start, keepFrom: keep, known: knownRef.current });
        })
        .then(
          (reply) => {
            if (reply.meta !== null) held.current = { answer: reply.meta, key };
            if (reply.shown !== null) setState({ shown: reply.shown, error: null, key }); // (null: nothing to draw anew)
          },
          (err: unknown) => setState((s) => ({ ...s, error: errorMessage(err) })),
        )
        .finally(() => {
        busy.current = false;
        const pending = again.current;
        again.current = null;
        if (pending !== null) askAgain.current(pending);
      });
    },
    [socket, packer, cluster, node, key, viewRef, period],
  );
  // other nodes known (idle ones get lanes): the bars held packed again
  const packedWith = useRef(known);
  useEffect(() => {
    if (known === packedWith.current) return;
    packedWith.current = known;
    if (held.current?.key !== key) return;
    packer().request({ kind: 'nodes', known }).then(
      (reply) => {
        if (reply.shown !== null && held.current?.key === key) setState({ shown: reply.shown, error: null, key });
      },
      (err: unknown) => setState((s) => ({ ...s, error: errorMessage(err) })),
    );
  }, [known, key, packer]);

  useEffect(() => {
    askAgain.current = ask;
  }, [ask]);
  // a new cluster or node: a full answer; a settled view: what it lacks, if anything
  useEffect(() => ask(false), [ask, view]);
  useEffect(() => {
    if (period === null) return;
    const timer = window.setInterval(() => ask(true), period);
    return () => window.clearInterval(timer);
  }, [period, ask]);
  const seenUpdates = useRef(updateRequests);
  useEffect(() => {
    if (updateRequests === seenUpdates.current) return;
    seenUpdates.current = updateRequests;
    ask(true);
  }, [updateRequests, ask]);
  // another cluster's or node's answer is not shown while this one's comes
  return state.key === key ? state : { shown: null, error: state.error };
}

export default function TimelinePage() {
  const search = useSearch();
  const node = new URLSearchParams(search).get('node')?.trim() || null;
  useEffect(() => {
    document.title = node ? `Timeline of ${node} · dispymon` : 'Timeline · dispymon';
  }, [node]);
  const { name: chosen } = useClusterChoice();
  const cluster = chosen === null || chosen === COMBINED ? '*' : chosen;
  // the chosen clusters' nodes (idle ones get their lanes too): "ip:cpus,…", a stable string
  const known = useDashboard((s) =>
    chosen === null
      ? ''
      : clustersOf(s.clusters, chosen)
          .flatMap((c) => Object.values(c.nodes))
          .filter((n) => node === null || n.ip_addr === node)
          .map((n) => `${n.ip_addr} ${n.cpus}`)
          .join(','),
  );
  const interval = useDashboard((s) => s.interval);
  const updateRequests = useDashboard((s) => s.updateRequests);

  // The view: `viewRef` moves with every wheel step and drag (drawn at the next frame);
  // `view` (React state) follows once it settles, for the table and the question.
  const [view, setView] = useState<View>(() => following(DEFAULT_SPAN, nowSeconds()));
  const viewRef = useRef<View>(view);
  const [live, setLive] = useState(true);
  const liveRef = useRef(true);
  const settleTimer = useRef<number | null>(null);
  const drawRef = useRef<() => void>(() => {});

  const { shown, error } = useTimeline(cluster, node, known, view, viewRef, refreshMs(interval), updateRequests);
  const packed = shown?.packed ?? null;
  const answer = shown?.meta ?? null;

  const moveView = useCallback((next: View, byUser = true) => {
    viewRef.current = next;
    if (byUser) {
      // a view whose right edge reaches now keeps following it
      const keep = next.end >= nowSeconds();
      liveRef.current = keep;
      setLive(keep);
    }
    drawRef.current();
    if (settleTimer.current !== null) window.clearTimeout(settleTimer.current);
    settleTimer.current = window.setTimeout(() => {
      settleTimer.current = null;
      setView(viewRef.current);
    }, SETTLE_MS);
  }, []);
  useEffect(() => () => {
    if (settleTimer.current !== null) window.clearTimeout(settleTimer.current);
  }, []);

  // following: the view slides with the clock, a step a second
  useEffect(() => {
    if (!live) return;
    const tick = () => {
      const v = viewRef.current;
      moveView(following(v.end - v.start, nowSeconds()), false);
    };
    tick();
    const timer = window.setInterval(tick, 1000);
    return () => window.clearInterval(timer);
  }, [live, moveView]);

  const goLive = () => {
    liveRef.current = true;
    setLive(true);
  };
  const zoomBy = (factor: number) => {
    const v = viewRef.current;
    moveView(zoom(v, factor, liveRef.current ? 0.98 : 0.5), !liveRef.current);
  };
  const panBy = (fraction: number) => moveView(pan(viewRef.current, fraction));

  const [hover, setHover] = useState(-1);
  const [tip, setTip] = useState<{ x: number; y: number } | null>(null);
  // a hovered bar is a position in the packed bars: new bars, new positions (the pointer's next move finds it again)
  const [hoveredIn, setHoveredIn] = useState(packed);
  if (hoveredIn !== packed) {
    setHoveredIn(packed);
    if (hover >= 0) {
      setHover(-1);
      setTip(null);
    }
  }
  const hoverText = shown !== null && hover >= 0 && hover < shown.packed.count ? describe(shown, hover) : '';
  const open = useCallback(
    (at: number) => {
      if (shown === null) return;
      const name = shown.meta.clusters[shown.cluster[at]!] ?? '';
      navigate(jobPath(name, barId(shown, at), barKey(shown, at)));
    },
    [shown],
  );

  const listed = useMemo(() => (packed === null ? { positions: [], total: 0 } : barsInView(packed, view, LISTED)), [packed, view]);
  const rows = useMemo(() => (shown === null ? [] : listed.positions.map((at) => tableRow(shown, at))), [shown, listed]);
  const queuedMarks = answer?.queued.created ?? [];

  const headingId = useId();
  const helpId = useId();
  return (
    <>
      <h2 id={headingId}>{node ? <>Timeline of node <Link to={nodePath(node)}>{node}</Link></> : 'Timeline'}</h2>
      <div className="toolbar timeline-toolbar">
        {node === null && <ClusterSelect />}
        <div className="timeline-buttons" role="group" aria-label="Zoom and pan">
          <button type="button" onClick={() => panBy(-0.25)} aria-label="Earlier" title="Earlier (←)">
            ←
          </button>
          <button type="button" onClick={() => zoomBy(1 / 1.5)} aria-label="Zoom in" title="Zoom in (+)">
            +
          </button>
          <button type="button" onClick={() => zoomBy(1.5)} aria-label="Zoom out" title="Zoom out (−)">
            −
          </button>
          <button type="button" onClick={() => panBy(0.25)} aria-label="Later" title="Later (→)">
            →
          </button>
          <button type="button" onClick={goLive} aria-pressed={live} title="Follow now (End)">
            Now
          </button>
        </div>
        {node !== null && <Link to="/timeline">Every node</Link>}
      </div>
      <ul className="timeline-legend" aria-label="Legend">
        {LEGEND.map((item) => (
          <li key={item.outcome}>
            <span className={`timeline-swatch swatch-${item.outcome}`} style={{ opacity: ALPHAS[item.index] }} aria-hidden="true" />
            {item.label}
          </li>
        ))}
        <li>
          <span className="timeline-swatch timeline-queued-mark" aria-hidden="true" />
          Queued (submit time)
        </li>
      </ul>
      {error !== null && (
        <p className="notice" role="alert">
          Could not load the timeline: {error}
        </p>
      )}
      <p className="muted timeline-status" role="status">
        {answer === null
          ? 'Loading…'
          : `${listed.total.toLocaleString('en-US')} ${listed.total === 1 ? 'job' : 'jobs'} in view · ${answer.queued.count.toLocaleString('en-US')} queued${
              answer.more ? ` · only the ${answer.held.toLocaleString('en-US')} that ended last of ${answer.total.toLocaleString('en-US')} jobs are drawn: zoom in` : ''
            }${answer.unplaced > 0 ? ` · ${answer.unplaced.toLocaleString('en-US')} never reached a node (not drawn)` : ''}`}
      </p>
      <TimelineCanvas
        packed={packed}
        queued={queuedMarks}
        viewRef={viewRef}
        drawRef={drawRef}
        hover={hover}
        onHover={(at, where) => {
          setHover(at);
          setTip(at >= 0 ? where : null);
        }}
        onOpen={open}
        onView={moveView}
        onLive={goLive}
        onZoom={zoomBy}
        describedBy={helpId}
        tip={tip && hoverText ? { ...tip, text: hoverText } : null}
      />
      <p id={helpId} className="muted timeline-help">
        Wheel or +/− to zoom, drag or ←/→ to move, End to follow now; point at a bar to name its job, click it to open it.
      </p>
      <p className="visually-hidden" aria-live="polite">
        {hoverText}
      </p>
      <InViewTable rows={rows} total={listed.total} loading={answer === null} signature={rows.map((r) => r.signature).join('\n')} />
    </>
  );
}

interface Row {
  id: string;
  href: string;
  node: string;
  slot: number;
  outcome: string;
  started: string;
  ended: string;
  /** what the row shows, as one text: the table renders again only when a row's changes */
  signature: string;
}

function tableRow(shown: Shown, at: number): Row {
  const p = shown.packed;
  const end = p.end[at]!;
  const cluster = shown.meta.clusters[shown.cluster[at]!] ?? '';
  const id = barId(shown, at);
  const row = {
    id,
    href: jobPath(cluster, id, barKey(shown, at)),
    node: p.nodes[p.laneNode[p.lane[at]!]!]!.ip,
    slot: p.laneSlot[p.lane[at]!]! + 1,
    outcome: p.outcomes[p.outcome[at]!] ?? '',
    started: formatDateTime(p.start[at]!),
    ended: Number.isFinite(end) ? formatDateTime(end) : 'running',
  };
  return { ...row, signature: `${row.href} ${row.node} ${row.slot} ${row.outcome} ${row.started} ${row.ended}` };
}

interface TableProps {
  rows: Row[];
  total: number;
  loading: boolean;
  signature: string;
}

/** What the canvas draws, as a table (screen readers, keyboards, tests): the first LISTED jobs in view, lane by lane. */
const InViewTable = memo(
  function InViewTable({ rows, total, loading }: TableProps) {
    const tableId = useId();
    return (
      <table className="timeline-table" aria-labelledby={tableId}>
        <caption id={tableId}>Jobs in view{total > LISTED ? ` (the first ${LISTED} of ${total.toLocaleString('en-US')})` : ''}</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Node</th>
            <th scope="col">CPU slot</th>
            <th scope="col">Outcome</th>
            <th scope="col">Started</th>
            <th scope="col">Ended</th>
          </tr>
        </thead>
        <tbody>
          {rows.length > 0 ? (
            rows.map((row) => (
              <tr key={`${row.href} ${row.node} ${row.started}`}>
                <td>
                  <Link to={row.href}>{row.id}</Link>
                </td>
                <td>{row.node}</td>
                <td>{row.slot}</td>
                <td className={`history-outcome outcome-${row.outcome}`}>{row.outcome}</td>
                <td>{row.started}</td>
                <td>{row.ended}</td>
              </tr>
            ))
          ) : (
            <tr>
              <td colSpan={6} className="muted">
                {loading ? 'Loading…' : 'No job ran in this window.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    );
  },
  (a, b) => a.signature === b.signature && a.total === b.total && a.loading === b.loading,
);

interface CanvasProps {
  packed: Packed | null;
  queued: readonly number[];
  viewRef: { current: View };
  drawRef: { current: () => void };
  hover: number;
  onHover: (at: number, where: { x: number; y: number }) => void;
  onOpen: (at: number) => void;
  onView: (view: View) => void;
  onLive: () => void;
  onZoom: (factor: number) => void;
  describedBy: string;
  tip: { x: number; y: number; text: string } | null;
}

const AXIS = 22;
const QUEUED_STRIP = 14;
/** The plot's height at most (CSS px): lanes get thinner to fit (down to 1 px), and past that the last are cut (said under the plot). */
export const MAX_PLOT = 2400;
/** Device pixels of the canvas at most: a phone's 3× screen would otherwise make a 60 MB canvas of a tall plot. */
const MAX_CANVAS_PIXELS = 8_000_000;

/** The canvas: drawn in requestAnimationFrame when something changed, never more than once a frame. */
function TimelineCanvas(props: CanvasProps) {
  const { packed, queued, viewRef, drawRef, hover, onHover, onOpen, onView, onLive, onZoom, describedBy, tip } = props;
  const wrapRef = useRef<HTMLDivElement>(null);
  const areaRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(800);
  const [windowHeight, setWindowHeight] = useState(() => window.innerHeight);
  const frame = useRef<number | null>(null);
  const latest = useRef({ packed, queued, hover });

  const narrow = width < 520;
  const lanes = packed?.lanes ?? 0;
  const fit = Math.max(2, Math.min(18, Math.floor(480 / Math.max(lanes, 1))));
  const laneHeight = lanes * fit <= MAX_PLOT ? fit : Math.max(1, Math.floor(MAX_PLOT / lanes));
  const layout: Layout = {
    width,
    height: Math.max(120, AXIS + QUEUED_STRIP + Math.min(lanes * laneHeight, MAX_PLOT) + 2),
    gutter: narrow ? 84 : 120,
    axis: AXIS,
    queuedStrip: QUEUED_STRIP,
    laneHeight,
  };
  // the canvas is the window's height at most (draw.ts Frame.offset), and sticks to the window's top
  // while the plot (the area, as tall as all the lanes) scrolls by
  const canvasHeight = Math.max(1, Math.min(layout.height, windowHeight));
  const layoutRef = useRef(layout);
  const canvasHeightRef = useRef(canvasHeight);
  // what the next frame draws: the latest props (the frame and the handlers read these refs)
  useLayoutEffect(() => {
    latest.current = { packed, queued, hover };
    layoutRef.current = layout;
    canvasHeightRef.current = canvasHeight;
  });

  const paint = useCallback(() => {
    frame.current = null;
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const l = layoutRef.current;
    const canvasH = canvasHeightRef.current;
    const dpr = Math.max(1, Math.min(window.devicePixelRatio || 1, 2, Math.sqrt(MAX_CANVAS_PIXELS / (l.width * canvasH))));
    if (canvas.width !== Math.round(l.width * dpr) || canvas.height !== Math.round(canvasH * dpr)) {
      canvas.width = Math.round(l.width * dpr);
      canvas.height = Math.round(canvasH * dpr);
    }
    const { packed: p, queued: q, hover: h } = latest.current;
    const plot = areaRef.current?.getBoundingClientRect() ?? canvas.getBoundingClientRect();
    const offset = Math.max(0, Math.min(l.height - canvasH, canvas.getBoundingClientRect().top - plot.top));
    const visible: [number, number] = [Math.max(0, -plot.top), Math.min(l.height, window.innerHeight - plot.top)];
    const next = { packed: p, view: viewRef.current, now: nowSeconds(), queued: q, hover: h, visible, offset, canvasHeight: canvasH };
    draw(ctx, l, next, readPalette(canvas), dpr);
  }, [viewRef]);
  const schedule = useCallback(() => {
    if (frame.current === null) frame.current = requestAnimationFrame(paint);
  }, [paint]);
  useLayoutEffect(() => {
    drawRef.current = schedule;
  }, [drawRef, schedule]);
  useEffect(schedule, [schedule, packed, queued, hover, width, layout.height, canvasHeight]);
  useEffect(() => () => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
  }, []);
  // the plot draws only its rows on screen: scrolling shows others; the window's height is the canvas'
  useEffect(() => {
    const onResize = () => {
      setWindowHeight(window.innerHeight);
      schedule();
    };
    window.addEventListener('scroll', schedule, { passive: true });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('scroll', schedule);
      window.removeEventListener('resize', onResize);
    };
  }, [schedule]);
  // the theme toggle changes the colours: redraw
  useEffect(() => {
    const observer = new MutationObserver(schedule);
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => observer.disconnect();
  }, [schedule]);

  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(200, Math.floor(wrap.clientWidth))));
    observer.observe(wrap);
    setWidth(Math.max(200, Math.floor(wrap.clientWidth)));
    return () => observer.disconnect();
  }, []);

  // the wheel zooms (around the pointer), a sideways wheel pans: a listener that may preventDefault
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (e: WheelEvent) => {
      const l = layoutRef.current;
      const plotW = l.width - l.gutter;
      const x = e.offsetX - l.gutter;
      if (x < 0) return;
      e.preventDefault();
      const scale = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      const dx = (e.shiftKey ? e.deltaY : e.deltaX) * scale;
      const dy = e.shiftKey ? 0 : e.deltaY * scale;
      let v = viewRef.current;
      if (Math.abs(dx) > Math.abs(dy)) v = pan(v, dx / plotW);
      else v = zoom(v, Math.exp(dy * 0.002), Math.min(1, Math.max(0, x / plotW)));
      onView(v);
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => canvas.removeEventListener('wheel', onWheel);
  }, [onView, viewRef]);

  // drag to pan (mouse, pen, one finger); two fingers pinch to zoom
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const drag = useRef<{ x: number; y: number; moved: boolean; view: View; pinch: number | null } | null>(null);
  /** The pointer in the plot's coordinates (the canvas shows a part of it: its area is the whole) */
  const plotPoint = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const rect = (areaRef.current ?? e.currentTarget).getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const onPointerDown = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    e.currentTarget.setPointerCapture?.(e.pointerId);
    const at = plotPoint(e);
    pointers.current.set(e.pointerId, at);
    const pinch = pointers.current.size === 2 ? spread(pointers.current) : null;
    drag.current = { ...at, moved: pinch !== null, view: viewRef.current, pinch };
  };
  const onPointerMove = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const at = plotPoint(e);
    const l = layoutRef.current;
    const plotW = l.width - l.gutter;
    const d = drag.current;
    if (d !== null && pointers.current.has(e.pointerId)) {
      pointers.current.set(e.pointerId, at);
      if (d.pinch !== null && pointers.current.size === 2) {
        const [a, b] = [...pointers.current.values()];
        const mid = ((a!.x + b!.x) / 2 - l.gutter) / plotW;
        onView(zoom(d.view, d.pinch / Math.max(spread(pointers.current), 1), Math.min(1, Math.max(0, mid))));
        return;
      }
      const dx = at.x - d.x;
      if (Math.abs(dx) > 4 || Math.abs(at.y - d.y) > 4) d.moved = true;
      if (d.moved) onView(shift(d.view, (-dx / plotW) * (d.view.end - d.view.start)));
      if (d.moved) return;
    }
    const p = latest.current.packed;
    const found = p === null ? -1 : hitTest(p, viewRef.current, plotW, l.laneHeight, at.x - l.gutter, at.y - plotTop(l), nowSeconds());
    if (found !== latest.current.hover) onHover(found, at);
  };
  const onPointerUp = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const d = drag.current;
    pointers.current.delete(e.pointerId);
    if (pointers.current.size > 0) {
      // one finger of a pinch lifted: the other drags on from here
      const [rest] = [...pointers.current.values()];
      drag.current = { ...rest!, moved: true, view: viewRef.current, pinch: null };
      return;
    }
    drag.current = null;
    if (d === null || d.moved || e.type === 'pointercancel') return;
    const l = layoutRef.current;
    const at = plotPoint(e);
    const p = latest.current.packed;
    const found = p === null ? -1 : hitTest(p, viewRef.current, l.width - l.gutter, l.laneHeight, at.x - l.gutter, at.y - plotTop(l), nowSeconds());
    if (found >= 0) onOpen(found);
  };
  const onKeyDown = (e: ReactKeyboardEvent<HTMLCanvasElement>) => {
    const v = viewRef.current;
    const actions: Record<string, () => void> = {
      ArrowLeft: () => onView(pan(v, -0.1)),
      ArrowRight: () => onView(pan(v, 0.1)),
      '+': () => onZoom(1 / 1.5),
      '=': () => onZoom(1 / 1.5),
      '-': () => onZoom(1.5),
      _: () => onZoom(1.5),
      End: onLive,
    };
    const act = actions[e.key];
    if (act && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      act();
    }
  };

  return (
    <div className="timeline-plot" ref={wrapRef}>
      <div className="timeline-area" ref={areaRef} style={{ height: `${layout.height}px` }}>
        <canvas
          ref={canvasRef}
          className="timeline-canvas"
          style={{ width: `${layout.width}px`, height: `${canvasHeight}px` }}
          tabIndex={0}
          role="img"
          aria-label="Job timeline: a lane per node and CPU slot, a bar per job (listed in the table below)"
          aria-describedby={describedBy}
          data-testid="timeline-canvas"
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onPointerLeave={(e) => {
            if (drag.current === null && latest.current.hover >= 0) onHover(-1, plotPoint(e));
          }}
          onKeyDown={onKeyDown}
        />
      </div>
      {lanes > MAX_PLOT && (
        <p className="notice" role="note">
          Only the first {MAX_PLOT.toLocaleString('en-US')} of {lanes.toLocaleString('en-US')} lanes are drawn: choose a cluster or a node (the table lists every job in view).
        </p>
      )}
      {tip && (
        <div
          className="timeline-tip"
          role="tooltip"
          style={{ left: `${Math.min(tip.x + 12, Math.max(0, layout.width - 260))}px`, top: `${tip.y + 14}px` }}
        >
          {tip.text}
        </div>
      )}
    </div>
  );
}

function spread(points: Map<number, { x: number; y: number }>): number {
  const [a, b] = [...points.values()];
  return a && b ? Math.abs(a.x - b.x) : 1;
}
