"""Time series for the live charts: jobs done and busy CPUs, per cluster and per node.

Pure: fed job ends (`job_done`) and clock ticks with the busy CPUs sampled
from the state (`tick`), with explicit times, so it tests without waiting.
Two resolutions, each a fixed ring of buckets, so memory is bounded by the
number of clusters and nodes, never by the event rate:

- one-second buckets for the last `seconds` (600: ten minutes), so a browser
  opened now sees the recent past;
- one-minute aggregates (jobs done in the minute, mean busy CPUs over its
  ticks): `minutes` of them per cluster (1440: a day), `node_minutes` per
  node (180: three hours). Each closed minute goes to `listeners`
  (persistence) and earlier ones can be `load`ed back.

A series key is (cluster, node); node "" is the cluster as a whole.
"""

from __future__ import annotations

import collections
import time
from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

TOTAL = ""  # the node part of a cluster-wide key

# Array type codes of the rings: a cluster's totals in 8-byte numbers; a
# node's seconds hold whole busy CPUs (2 bytes, signed: dispy's busy count
# goes below zero when replies come for jobs it had written off, and the
# chart shows what dispy says; see `fit`) and its minutes their mean
# (4-byte float). Both rings of a node are made together
# when the node is first seen, so the memory per node is taken at once, not
# when its first minute closes.
CLUSTER_TYPES = ("q", "d")
NODE_SECONDS = ("I", "h")
_LIMITS = {"h": (-(2**15), 2**15 - 1), "H": (0, 2**16 - 1), "I": (0, 2**32 - 1), "q": (-(2**63), 2**63 - 1)}


def fit(typecode: str, value: float) -> float:
    """`value` as a bucket of type `typecode` can hold it: whole numbers for
    integer arrays, cut to their range (a node with 40,000 busy CPUs is not
    worth a wider array for every node); None counts as 0."""
    if value is None:
        return 0
    limits = _LIMITS.get(typecode)
    if limits is None:  # a float array holds any number
        return float(value)
    low, high = limits
    return min(max(int(value), low), high)


NODE_MINUTES = ("I", "f")


class MinutePoint(NamedTuple):
    minute: int  # Unix time of the minute's start (a multiple of 60)
    cluster: str
    node: str  # "" for the cluster as a whole
    done: int
    busy: float  # mean busy CPUs over the minute's ticks


class Ring:
    """`size` consecutive buckets ending at bucket number `end` (seconds or minutes)."""

    __slots__ = ("size", "end", "done", "busy", "carry", "start")

    def __init__(self, size: int, end: int, carry: bool, types: tuple[str, str] = ("q", "d")) -> None:
        self.size = size
        self.end = end
        # array type codes: a node's rings use 4-byte counts and 2-byte or
        # 4-byte busy values (see NODE_SECONDS), so 10,000 nodes fit in ~50 MB
        self.done: array[int] = array(types[0], [0]) * size
        self.busy: array[Any] = array(types[1], [0]) * size  # int or float, by type code
        self.carry = carry  # busy holds its last sample in buckets not sampled yet
        # The first bucket with data: the ring is made when its key is first
        # seen (server start, cluster attach, node join), and the buckets
        # before that are not idle but unknown, so `query` leaves them out.
        self.start = end

    def advance(self, t: int) -> None:
        if t <= self.end:
            return
        size = self.size
        busy = self.busy[self.end % size] if self.carry else 0
        if t - self.end >= size:
            self.done = array(self.done.typecode, [0]) * size
            self.busy = array(self.busy.typecode, [busy]) * size
        else:
            for s in range(self.end + 1, t + 1):
                i = s % size
                self.done[i] = 0
                self.busy[i] = busy
        self.end = t

    def holds(self, t: int) -> bool:
        return self.end - self.size < t <= self.end

    def add_done(self, t: int, n: int = 1) -> None:
        self.advance(t)
        if self.holds(t):
            self.done[t % self.size] += n

    def put(self, t: int, done: int | None = None, busy: float | None = None) -> None:
        self.advance(t)
        if self.holds(t):
            if done is not None:
                self.done[t % self.size] = done
            if busy is not None:
                self.busy[t % self.size] = busy

    def merge(self, t: int, done: int, busy: float) -> None:
        """Add to a bucket that may already hold part of it (a minute split by a restart)."""
        self.advance(t)
        if self.holds(t):
            # an earlier run's minute (load) is known: the span reaches back to it
            self.start = min(self.start, t)
            i = t % self.size
            self.done[i] += done
            self.busy[i] = max(self.busy[i], busy)

    def window(self, end: int, count: int) -> tuple[list[int], list[float]]:
        """The `count` buckets ending at `end` (after advancing to it), oldest first."""
        self.advance(end)
        done: list[int] = []
        busy: list[float] = []
        for t in range(end - count + 1, end + 1):
            if self.holds(t):
                done.append(self.done[t % self.size])
                busy.append(self.busy[t % self.size])
            else:
                done.append(0)
                busy.append(0.0)
        return done, busy


class Series:
    def __init__(
        self, seconds: int = 600, minutes: int = 1440, node_minutes: int = 180, clock: Callable[[], float] = time.time
    ) -> None:
        self.seconds = seconds
        self.minutes = minutes
        self.node_minutes = node_minutes
        self.clock = clock
        self._sec: dict[tuple[str, str], Ring] = {}
        self._min: dict[tuple[str, str], Ring] = {}
        # the minute being built: key -> [done, busy sum, busy samples]
        self._acc: dict[tuple[str, str], list[float]] = {}
        self.minute: int | None = None  # its number (Unix minutes)
        # Jobs done in the second `_pending_t`, cluster -> node -> count, not
        # yet in the rings: with 10,000 nodes most drains end about one job
        # per node, so the rings are updated once per node and second rather
        # than per drain (the other methods put them in first: _put_pending).
        # Counted by Counter's C loop; keyed by plain strings, so the counts
        # hold nothing the garbage collector tracks (benchmarks/notes.md, 3).
        self._pending: dict[str, collections.Counter[str | None]] = {}
        self._pending_t = 0
        self.listeners: list[Callable[[MinutePoint], None]] = []

    # -- feeding ---------------------------------------------------------------

    def _seconds(self, key: tuple[str, str], t: int) -> Ring:
        """The key's one-second ring; its minute ring is made with it (if not loaded before),
        so both say from when the key has data, idle minutes included."""
        ring = self._sec.get(key)
        if ring is None:
            node = key[1]
            ring = self._sec[key] = Ring(self.seconds, t, True, NODE_SECONDS if node else CLUSTER_TYPES)
            if key not in self._min:
                self._minutes(key, t // 60)
        return ring

    def _minutes(self, key: tuple[str, str], m: int) -> Ring:
        ring = self._min.get(key)
        if ring is None:
            node = key[1]
            ring = self._min[key] = Ring(
                self.node_minutes if node else self.minutes, m, False, NODE_MINUTES if node else CLUSTER_TYPES
            )
        return ring

    def _at_minute(self, m: int) -> None:
        if self.minute is None:
            self.minute = m
        elif m > self.minute:
            self.close_minute()
            self.minute = m

    def job_done(self, cluster: str, node: str | None, now: float) -> None:
        self.jobs_done(cluster, (node,), now)

    def jobs_done(self, cluster: str, nodes: Iterable[str | None], now: float) -> None:
        """Jobs of `cluster` that ended at `now`, the node of each — a drain's worth at once
        (node "" or None: not on a node; the cluster totals are added here)."""
        t = int(now)
        if t != self._pending_t:
            self._put_pending()
            self._pending_t = t
        counts = self._pending.get(cluster)
        if counts is None:
            counts = self._pending[cluster] = collections.Counter()
        counts.update(nodes)

    def _put_pending(self) -> None:
        """The pending second's counts into the rings and the minute being built."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        t = self._pending_t
        if self.minute != t // 60:
            self._at_minute(t // 60)
        for cluster, nodes in pending.items():
            total = 0
            for node, n in nodes.items():
                total += n
                if node:
                    self._done((cluster, node), t, n)
            self._done((cluster, TOTAL), t, total)

    def _done(self, key: tuple[str, str], t: int, n: int = 1) -> None:
        ring = self._sec.get(key)
        if ring is None:
            ring = self._seconds(key, t)
        if t != ring.end:
            ring.advance(t)
        if t == ring.end:
            ring.done[t % ring.size] += n
        else:
            ring.add_done(t, n)
        acc = self._acc.get(key)
        if acc is None:
            acc = self._acc[key] = [0, 0.0, 0]
        acc[0] += n

    def tick(self, now: float, busy: Mapping[tuple[str, str], float]) -> None:
        """A sample of busy CPUs at `now`: (cluster, node) -> busy, with (cluster, "") totals."""
        self._put_pending()
        t = int(now)
        self._at_minute(t // 60)
        sec, accs = self._sec, self._acc
        for key, value in busy.items():  # every node, every second: Ring.put inlined
            ring = sec.get(key)
            if ring is None:
                ring = self._seconds(key, t)
            if t != ring.end:
                ring.advance(t)
            try:
                if t == ring.end:
                    ring.busy[t % ring.size] = value
                else:  # an older second (the clock went back)
                    ring.put(t, busy=value)
            except (OverflowError, TypeError):  # beyond the bucket's type: rare, so checked only then
                value = fit(ring.busy.typecode, value)
                ring.put(t, busy=value)
            acc = accs.get(key)
            if acc is None:
                acc = accs[key] = [0, 0.0, 0]
            acc[1] += value
            acc[2] += 1

    def close_minute(self) -> list[MinutePoint]:
        """Turn the minute being built into points (also at shutdown, for what it has)."""
        self._put_pending()
        if self.minute is None:
            return []
        start = self.minute * 60
        points = []
        for (cluster, node), (done, busy_sum, samples) in self._acc.items():
            busy = busy_sum / samples if samples else 0.0
            if not done and not busy:
                continue  # an idle minute is the ring's default: nothing to keep
            point = MinutePoint(start, cluster, node, int(done), busy)
            points.append(point)
            self._minutes((cluster, node), self.minute).merge(self.minute, int(done), busy)
        self._acc = {}
        for point in points:
            for listener in self.listeners:
                listener(point)
        return points

    def load(self, points: Iterable[MinutePoint]) -> None:
        """Minutes of an earlier run (any order); listeners are not told."""
        for p in sorted(points, key=lambda p: p.minute):
            m = p.minute // 60
            self._minutes((p.cluster, p.node), m).merge(m, p.done, p.busy)

    def forget(self, cluster: str) -> None:
        """A detached cluster's one-second series go (its minutes stay, for the record)."""
        self._put_pending()
        for key in [k for k in self._sec if k[0] == cluster]:
            del self._sec[key]
        for key in [k for k in self._acc if k[0] == cluster]:
            del self._acc[key]

    # -- reading ---------------------------------------------------------------

    def _keys(self, table: dict, cluster: str | None, node: str | None) -> list[tuple[str, str]]:
        want = node or TOTAL
        return [k for k in table if (cluster is None or k[0] == cluster) and k[1] == want]

    def query(
        self, cluster: str | None = None, node: str | None = None, step: int = 1, now: float | None = None
    ) -> dict[str, Any]:
        """{step, end, done: [...], busy: [...]}, oldest first; the last bucket starts at `end`.

        step 1: the last `seconds` seconds up to now (the current second
        included, as far as it has gone); step 60: the last minutes, the
        current one included as far as it has gone. Only the buckets since
        the series has data (the server's start, the cluster's attach, the
        node's first report, an earlier run's first kept minute): a bucket
        before that is unknown, not idle, so the lists may be shorter than
        the window, or empty.
        cluster None adds up every cluster ('* Combined'); node None: the
        cluster(s) as a whole.
        """
        self._put_pending()
        if step == 1:
            end = int(self.clock() if now is None else now)
            table, count = self._sec, self.seconds
        elif step == 60:
            end = self.minute if self.minute is not None else int((self.clock() if now is None else now) // 60)
            table, count = self._min, self.node_minutes if node else self.minutes
        else:
            raise ValueError("step must be 1 or 60")
        keys = set(self._keys(table, cluster, node))
        if step == 60:
            keys.update(self._keys(self._acc, cluster, node))
        # from the earliest key's first bucket (a key seen later adds nothing before it)
        first = min((ring.start if (ring := table.get(key)) is not None else end for key in keys), default=end + 1)
        count = max(0, min(count, end - first + 1))
        done = [0] * count
        busy = [0.0] * count
        for key in keys:
            ring = table.get(key)
            if ring is not None:
                d, b = ring.window(end, count)
            else:  # only the minute being built
                d, b = [0] * count, [0.0] * count
            acc = self._acc.get(key) if step == 60 else None
            if acc is not None and count:  # the minute being built
                d[-1] += int(acc[0])
                if acc[2]:
                    b[-1] = max(b[-1], acc[1] / acc[2])
            for i in range(count):
                done[i] += d[i]
                busy[i] += b[i]
        return {"step": step, "end": end * step, "done": done, "busy": busy}


def busy_sample(state: Any) -> dict[tuple[str, str], int]:
    """Busy CPUs now, per (cluster, node) and per (cluster, "") — from a State."""
    out: dict[tuple[str, str], int] = {}
    for name, c in state.clusters.items():
        total = 0
        for ip, (info, _status) in c.nodes.items():
            out[(name, ip)] = info.busy
            total += info.busy
        out[(name, TOTAL)] = total
    return out
