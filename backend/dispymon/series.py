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

import time
from array import array
from typing import Any, Callable, Iterable, NamedTuple

TOTAL = ""  # the node part of a cluster-wide key


class MinutePoint(NamedTuple):
    minute: int  # Unix time of the minute's start (a multiple of 60)
    cluster: str
    node: str  # "" for the cluster as a whole
    done: int
    busy: float  # mean busy CPUs over the minute's ticks


class Ring:
    """`size` consecutive buckets ending at bucket number `end` (seconds or minutes)."""

    __slots__ = ("size", "end", "done", "busy", "carry")

    def __init__(self, size: int, end: int, carry: bool) -> None:
        self.size = size
        self.end = end
        self.done = array("q", [0]) * size
        self.busy = array("d", [0.0]) * size
        self.carry = carry  # busy holds its last sample in buckets not sampled yet

    def advance(self, t: int) -> None:
        if t <= self.end:
            return
        size = self.size
        busy = self.busy[self.end % size] if self.carry else 0.0
        if t - self.end >= size:
            self.done = array("q", [0]) * size
            self.busy = array("d", [busy]) * size
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
    def __init__(self, seconds: int = 600, minutes: int = 1440, node_minutes: int = 180,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.seconds = seconds
        self.minutes = minutes
        self.node_minutes = node_minutes
        self.clock = clock
        self._sec: dict[tuple[str, str], Ring] = {}
        self._min: dict[tuple[str, str], Ring] = {}
        # the minute being built: key -> [done, busy sum, busy samples]
        self._acc: dict[tuple[str, str], list[float]] = {}
        self.minute: int | None = None  # its number (Unix minutes)
        self.listeners: list[Callable[[MinutePoint], None]] = []

    # -- feeding ---------------------------------------------------------------

    def _ring(self, table: dict, key: tuple[str, str], size: int, t: int, carry: bool) -> Ring:
        ring = table.get(key)
        if ring is None:
            ring = table[key] = Ring(size, t, carry)
        return ring

    def _at_minute(self, m: int) -> None:
        if self.minute is None:
            self.minute = m
        elif m > self.minute:
            self.close_minute()
            self.minute = m

    def job_done(self, cluster: str, node: str | None, now: float) -> None:
        t = int(now)
        if self.minute != t // 60:
            self._at_minute(t // 60)
        self._done((cluster, TOTAL), t)
        if node:
            self._done((cluster, node), t)

    def _done(self, key: tuple[str, str], t: int) -> None:
        ring = self._sec.get(key)
        if ring is None:
            ring = self._sec[key] = Ring(self.seconds, t, True)
        if t != ring.end:
            ring.advance(t)
        if t == ring.end:
            ring.done[t % ring.size] += 1
        else:
            ring.add_done(t)
        acc = self._acc.get(key)
        if acc is None:
            acc = self._acc[key] = [0, 0.0, 0]
        acc[0] += 1

    def tick(self, now: float, busy: dict[tuple[str, str], int]) -> None:
        """A sample of busy CPUs at `now`: (cluster, node) -> busy, with (cluster, "") totals."""
        t = int(now)
        self._at_minute(t // 60)
        for key, value in busy.items():
            self._ring(self._sec, key, self.seconds, t, True).put(t, busy=value)
            acc = self._acc.get(key)
            if acc is None:
                acc = self._acc[key] = [0, 0.0, 0]
            acc[1] += value
            acc[2] += 1

    def close_minute(self) -> list[MinutePoint]:
        """Turn the minute being built into points (also at shutdown, for what it has)."""
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
            size = self.node_minutes if node else self.minutes
            self._ring(self._min, (cluster, node), size, self.minute, False).merge(self.minute, int(done), busy)
        self._acc = {}
        for point in points:
            for listener in self.listeners:
                listener(point)
        return points

    def load(self, points: Iterable[MinutePoint]) -> None:
        """Minutes of an earlier run (any order); listeners are not told."""
        for p in sorted(points, key=lambda p: p.minute):
            m = p.minute // 60
            size = self.node_minutes if p.node else self.minutes
            ring = self._ring(self._min, (p.cluster, p.node), size, m, False)
            ring.merge(m, p.done, p.busy)

    def forget(self, cluster: str) -> None:
        """A detached cluster's one-second series go (its minutes stay, for the record)."""
        for key in [k for k in self._sec if k[0] == cluster]:
            del self._sec[key]
        for key in [k for k in self._acc if k[0] == cluster]:
            del self._acc[key]

    # -- reading ---------------------------------------------------------------

    def _keys(self, table: dict, cluster: str | None, node: str | None) -> list[tuple[str, str]]:
        want = node or TOTAL
        return [k for k in table if (cluster is None or k[0] == cluster) and k[1] == want]

    def query(self, cluster: str | None = None, node: str | None = None, step: int = 1,
              now: float | None = None) -> dict[str, Any]:  # fmt: skip
        """{step, end, done: [...], busy: [...]}, oldest first; the last bucket starts at `end`.

        step 1: the last `seconds` seconds up to now (the current second
        included, as far as it has gone); step 60: the last minutes, the
        current one included as far as it has gone.
        cluster None adds up every cluster ('* Combined'); node None: the
        cluster(s) as a whole.
        """
        if step == 1:
            end = int(self.clock() if now is None else now)
            table, count = self._sec, self.seconds
        elif step == 60:
            end = self.minute if self.minute is not None else int((self.clock() if now is None else now) // 60)
            table, count = self._min, self.node_minutes if node else self.minutes
        else:
            raise ValueError("step must be 1 or 60")
        done = [0] * count
        busy = [0.0] * count
        keys = set(self._keys(table, cluster, node))
        if step == 60:
            keys.update(self._keys(self._acc, cluster, node))
        for key in keys:
            ring = table.get(key)
            if ring is not None:
                d, b = ring.window(end, count)
            else:
                d, b = [0] * count, [0.0] * count
            acc = self._acc.get(key) if step == 60 else None
            if acc is not None:  # the minute being built
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
