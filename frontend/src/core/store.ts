// The dashboard's single store: a zustand *vanilla* store, fed by the socket
// (outside React) and read by components through selectors.
import { createStore } from 'zustand/vanilla';
import type { StoreApi } from 'zustand/vanilla';
import type { Delta, ErrorMessage, Hello, Settings, Snapshot, WatchedJob } from './protocol';
import { applyDelta, applySnapshot, emptyData } from './state';
import type { ServerData } from './state';

/**
 * `stopped`: the server closed the connection on purpose (shutdown, close code
 * 1001); the socket keeps trying, and a new server makes it `live` again.
 */
export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'closed';

/** What the socket should do after a delta was handed to the store. */
export type DeltaOutcome = 'applied' | 'ignored' | 'gap';

export interface DashboardState extends ServerData {
  connection: ConnectionStatus;
  /** from the last `hello`; kept while reconnecting */
  hello: Hello | null;
  /** true from (re)connect or a gap until the next snapshot */
  awaitingSnapshot: boolean;
  /** the user's cluster choice; null = default (see resolveClusterName) */
  selectedCluster: string | null;
  /** this browser's update interval in seconds; null until the first hello */
  interval: number | null;
  /** the user changed the interval: keep it across reconnects */
  intervalChosen: boolean;
  /** the node whose jobs this browser asked to watch (its Node page is open); kept across reconnects */
  watchedNode: string | null;
  /** the job this browser follows (its job page is open); kept across reconnects */
  watchedJob: WatchedJob | null;
  /** last `error` message from the server, for display/debugging */
  lastError: ErrorMessage | null;
  /** how many times this browser asked for an update (Update): what is not pushed, such as the chart, follows it */
  updateRequests: number;
}

export interface DashboardActions {
  setConnection(connection: ConnectionStatus): void;
  /** A (re)opened socket: the server will send hello + snapshot. */
  connectionOpened(): void;
  receiveHello(hello: Hello): void;
  receiveSnapshot(snap: Snapshot): void;
  receiveDelta(delta: Delta): DeltaOutcome;
  receiveError(error: ErrorMessage): void;
  selectCluster(name: string): void;
  chooseInterval(seconds: number): void;
  watchNode(ip: string | null): void;
  watchJob(job: WatchedJob | null): void;
  /**
   * Settings a command result confirmed: shown at once instead of after the
   * next delta (up to a whole update interval later), which carries the same.
   */
  confirmSettings(settings: Settings): void;
  /** "Update" was pressed: count it (see updateRequests). */
  requestUpdate(): void;
}

export type Dashboard = DashboardState & DashboardActions;
export type DashboardStore = StoreApi<Dashboard>;

export const initialState: DashboardState = {
  ...emptyData,
  connection: 'connecting',
  hello: null,
  awaitingSnapshot: true,
  selectedCluster: null,
  interval: null,
  intervalChosen: false,
  watchedNode: null,
  watchedJob: null,
  lastError: null,
  updateRequests: 0,
};

export function createDashboardStore(init: Partial<DashboardState> = {}): DashboardStore {
  return createStore<Dashboard>()((set, get) => ({
    ...initialState,
    ...init,

    setConnection: (connection) => set({ connection }),

    // Old clusters stay on screen until the fresh snapshot replaces them.
    connectionOpened: () => set({ awaitingSnapshot: true }),

    receiveHello: (hello) =>
      set((s) => ({ hello, interval: s.intervalChosen ? s.interval : hello.poll_sec })),

    receiveSnapshot: (snap) =>
      set((s) => ({ ...applySnapshot(s, snap), awaitingSnapshot: false })),

    receiveDelta: (delta) => {
      const s = get();
      // After a gap, deltas keep coming until the server handles `resync`;
      // they cannot be applied and must not trigger another resync.
      if (s.awaitingSnapshot) return 'ignored';
      const { state, gap } = applyDelta(s, delta);
      if (gap) {
        set({ awaitingSnapshot: true });
        return 'gap';
      }
      set(state);
      return 'applied';
    },

    receiveError: (lastError) => set({ lastError }),

    selectCluster: (selectedCluster) => set({ selectedCluster }),

    chooseInterval: (interval) => set({ interval, intervalChosen: true }),

    watchNode: (watchedNode) => set({ watchedNode }),

    // The job held for the previous one is dropped at once: a page must not show it as this one's.
    watchJob: (watchedJob) => set({ watchedJob, job: null }),

    confirmSettings: (settings) => set({ settings }),

    requestUpdate: () => set((s) => ({ updateRequests: s.updateRequests + 1 })),
  }));
}
