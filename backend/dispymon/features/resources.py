"""Each node's resources over time: the avail info dispynode sends with its pulses.

dispynode (with `psutil`) puts a `DispyNodeAvailInfo(cpu, memory, disk, swap)`
in every pulse: `cpu` is 100 - psutil.cpu_percent() (% of CPU free since its
previous reading), `memory` virtual_memory().available (bytes), `disk`
disk_usage(its dest_path_prefix).free (bytes), `swap` 100 -
swap_memory().percent (% free). The client reports each pulse as a
`DispyNode.AvailInfo` status event (docs/dispy-notes.md says how often). The
state keeps only the latest; this module keeps them over time, per node (an
IP: the same machine in every cluster that uses it), like the activity series
(series.py):

- per second for the last `seconds` (600: ten minutes): the sample of that
  second (the latest, if two came in one), and "none" for a second without one
  (a node pulses every `pulse_interval`, not every second);
- per minute for the last `minutes` (1440: a day): the mean of the minute's
  samples, read from the seconds ring (a whole number of minutes) when the
  minute closes: at the node's first sample of a later minute, or at the
  tick after a minute the node was silent through; so a sample costs a few
  array stores, and the closes are spread over the pulses. The minutes closed
  since the last tick go to `listeners` (the history database) as one batch
  at each minute's tick, and earlier ones can be `load`ed back.

Compact: each ring is a pair of typed arrays, quantised (QUANTA): CPU and
swap in hundredths of a percent (2 bytes), memory in KiB and disk in MiB
(4 bytes), so a node costs `NODE_BYTES` (about 24 KB), taken at once when its
first sample comes. A node is timed by when dispy received the pulse (the
node object's `update_time`), so the points are the pulses' own.

The byte budget (`budget`, default 64 MiB, ~2,700 nodes): a node first seen
when the kept nodes' rings fill the budget is not kept (its page and the
nodes table say so, and `/metrics` counts it), unless a kept node has been
silent for a whole day (nothing of it is left in either window): that node's
rings go to the new one. Nodes already kept are never dropped for a newer
one, so what a chart shows does not vanish as nodes come and go.

Pure apart from the clock: fed samples with explicit times, it tests without
waiting; `absorb` takes what the state collected (State.avail_log).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from dispymon.model.events import HealthCheck

# -- quantisation ------------------------------------------------------------------------

PERCENT_STEP = 0.01  # % per unit: CPU and swap, 0..10000 in 2 bytes
MEMORY_STEP = 1024  # bytes per unit: memory in KiB (4 bytes: up to 4 TiB)
DISK_STEP = 2**20  # bytes per unit: disk in MiB (4 bytes: up to 4 PiB)
NONE16 = 0xFFFF  # "no sample" in a 2-byte bucket
NONE32 = 0xFFFFFFFF  # in a 4-byte bucket
_MAX32 = NONE32 - 1
_EMPTY = (NONE16, NONE32, NONE32, NONE16)  # a minute with no value at all
QUANTA = {"cpu": PERCENT_STEP, "memory": MEMORY_STEP, "disk": DISK_STEP, "swap": PERCENT_STEP}

SECONDS = 600
MINUTES = 1440
# Bytes of one node's rings: per bucket 2 x 2 (cpu, swap) + 2 x 4 (memory, disk)
BUCKET_BYTES = 12
DEFAULT_BUDGET = 64 * 2**20
# A sample's time is dispy's receipt of the pulse (update_time) unless that is
# further than this from when the event was applied (another path set it).
TRUST_UPDATE_TIME = 10.0
SPARK_STEP = 10  # seconds per sparkline bucket: 60 numbers for ten minutes
MAX_SPARK_NODES = 300


def node_bytes(seconds: int = SECONDS, minutes: int = MINUTES) -> int:
    return (seconds + minutes) * BUCKET_BYTES


NODE_BYTES = node_bytes()


def _percent(value: Any) -> int:
    try:
        q = round(float(value) / PERCENT_STEP)
    except (TypeError, ValueError, OverflowError):  # NaN, None, not a number: no sample
        return NONE16
    return min(max(q, 0), 10000)  # a percent: 0..100


def _bytes(value: Any, step: int) -> int:
    try:
        q = round(float(value) / step)
    except (TypeError, ValueError, OverflowError):
        return NONE32
    return min(max(q, 0), _MAX32)


def quantise(cpu: Any, memory: Any, disk: Any, swap: Any) -> tuple[int, int, int, int]:
    """The buckets' numbers for one sample (a value that is not a number: none)."""
    return _percent(cpu), _bytes(memory, MEMORY_STEP), _bytes(disk, DISK_STEP), _percent(swap)


def _p(q: int) -> float | None:
    return None if q == NONE16 else q / 100  # exact to the hundredth (q * 0.01 is not)


def _b(q: int, step: int) -> int | None:
    return None if q == NONE32 else q * step


class ResourceMinute(NamedTuple):
    """A node's minute, quantised as in the rings (what the history database keeps)."""

    minute: int  # Unix time of the minute's start
    node: str
    cpu: int
    memory: int
    disk: int
    swap: int


class NodeRings:
    """One node's two rings: `pct` holds (cpu, swap) and `size` (memory, disk) per bucket, interleaved."""

    __slots__ = ("sec_pct", "sec_size", "sec_end", "min_pct", "min_size", "min_end", "min_start", "open", "last")

    def __init__(self, seconds: int, minutes: int, t: int) -> None:
        self.sec_pct = array("H", [NONE16]) * (2 * seconds)
        self.sec_size = array("I", [NONE32]) * (2 * seconds)
        self.sec_end = t  # the last second written (buckets after it are stale until advanced)
        self.min_pct = array("H", [NONE16]) * (2 * minutes)
        self.min_size = array("I", [NONE32]) * (2 * minutes)
        self.min_end = t // 60  # the last minute (number) in the ring
        self.min_start = t // 60  # the first minute with data (earlier: unknown)
        # The minute being built (its number; -1: none). Its figures are not summed per sample:
        # they are its seconds in the seconds ring (SECONDS is a whole number of minutes), read
        # when it closes (C-speed slices), so a sample costs a few array stores.
        self.open = -1
        self.last = float(t)  # when its latest sample came


def _lane(ring: array, lane: int, first: int, count: int) -> array:
    """`count` buckets of one lane (0 or 1) of an interleaved ring, from bucket index `first`
    (no wrap: the callers' spans are whole minutes or 10-second buckets of a ring of whole minutes)."""
    return ring[2 * first + lane : 2 * (first + count) : 2]


def _mean(values: array, none: int) -> int:
    """The mean of the buckets that have a value (C-speed: count and sum), or `none`."""
    missing = values.count(none)
    have = len(values) - missing
    return none if not have else round((sum(values) - missing * none) / have)


def _clear(pct: array, size: array, start: int, stop: int, buckets: int) -> None:
    """Buckets `start`..`stop` (bucket numbers, inclusive) to none."""
    if stop - start + 1 >= buckets:
        pct[:] = array("H", [NONE16]) * (2 * buckets)
        size[:] = array("I", [NONE32]) * (2 * buckets)
        return
    for b in range(start, stop + 1):
        i = 2 * (b % buckets)
        pct[i] = pct[i + 1] = NONE16
        size[i] = size[i + 1] = NONE32


class Resources:
    def __init__(
        self,
        seconds: int = SECONDS,
        minutes: int = MINUTES,
        budget: int = DEFAULT_BUDGET,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if seconds < 60 or seconds % 60:
            raise ValueError("seconds must be a whole number of minutes (the minutes are read from it)")
        self.seconds = seconds
        self.minutes = minutes
        self.budget = budget
        self.node_bytes = node_bytes(seconds, minutes)
        self.max_nodes = max(0, budget // self.node_bytes)
        self.clock = clock
        self.nodes: dict[str, NodeRings] = {}
        self.refused: set[str] = set()  # nodes seen past the budget (bounded: see _refuse)
        self.refused_total = 0  # samples not kept for them
        self.samples = 0  # samples kept
        # No kept node can have been silent a day before this time (the oldest's latest sample + a
        # day): past the budget, a refused node's samples do not each look through every kept node
        self._reuse_after = float("-inf")
        self.minute: int | None = None  # the minute (number) closed up to, at the latest tick
        self._closed: list[ResourceMinute] = []  # minutes closed since the last tick, for listeners
        self.listeners: list[Callable[[list[ResourceMinute]], None]] = []

    MAX_REFUSED_NAMES = 100_000  # IPs remembered as refused (a count goes on past it)

    # -- feeding ---------------------------------------------------------------------------

    def _rings(self, ip: str, t: int) -> NodeRings | None:
        rings = self.nodes.get(ip)
        if rings is not None:
            return rings
        if len(self.nodes) >= self.max_nodes and not self._reuse(t):
            if len(self.refused) < self.MAX_REFUSED_NAMES:
                self.refused.add(ip)
            self.refused_total += 1
            return None
        self.refused.discard(ip)
        rings = self.nodes[ip] = NodeRings(self.seconds, self.minutes, t)
        # a node's latest sample only moves forward, so only a new one can make the oldest older
        self._reuse_after = min(self._reuse_after, rings.last + self.minutes * 60)
        return rings

    def _reuse(self, t: int) -> bool:
        """Past the budget: drop the node silent longest if it has been silent a whole day."""
        if not self.nodes or t < self._reuse_after:
            return False
        ip, rings = min(self.nodes.items(), key=lambda kv: kv[1].last)
        if t - rings.last < self.minutes * 60:
            self._reuse_after = rings.last + self.minutes * 60
            return False
        self._close(ip, rings)
        del self.nodes[ip]
        self._reuse_after = float("-inf")  # the next oldest may have been silent a day too
        return True

    def add(self, ip: str, t: float, cpu: Any, memory: Any, disk: Any, swap: Any) -> bool:
        """One sample of node `ip` at Unix time `t`; False if the node is not kept (the budget).

        The hot path (every node's every pulse): plain numbers take the
        inlined quantisation; anything else goes through `quantise`."""
        s = int(t)
        rings = self.nodes.get(ip)
        if rings is None:
            rings = self._rings(ip, s)
            if rings is None:
                return False
        try:
            qc = round(cpu * 100)
            qs = round(swap * 100)
            qm = round(memory / MEMORY_STEP)
            qd = round(disk / DISK_STEP)
            if not (0 <= qc <= 10000 and 0 <= qs <= 10000 and 0 <= qm <= _MAX32 and 0 <= qd <= _MAX32):
                raise ValueError
        except (TypeError, ValueError, OverflowError):  # NaN, None, out of range: rare
            qc, qm, qd, qs = quantise(cpu, memory, disk, swap)
        # the minute: a new one closes the one being built (read from the seconds ring, so first)
        m = s // 60
        if m > rings.open:
            if rings.open >= 0:
                self._close(ip, rings)
            rings.open = m
        # seconds
        n = self.seconds
        end = rings.sec_end
        if s > end:
            if s > end + 1:  # seconds without a pulse between: none (the bucket of s is written below)
                _clear(rings.sec_pct, rings.sec_size, end + 1, s - 1, n)
            rings.sec_end = end = s
        if end - n < s:  # within the ring (a sample from the past beyond it is not kept)
            i = 2 * (s % n)
            pct, size = rings.sec_pct, rings.sec_size
            pct[i] = qc
            pct[i + 1] = qs
            size[i] = qm
            size[i + 1] = qd
        if t > rings.last:
            rings.last = t
        self.samples += 1
        return True

    def _minute(self, rings: NodeRings, m: int) -> tuple[int, int, int, int] | None:
        """Minute `m`'s means (cpu, memory, disk, swap, quantised) from the seconds ring, as far as
        the ring has it (None: none of its seconds there any more, or not yet)."""
        n = self.seconds
        lo = max(m * 60, rings.sec_end - n + 1)
        hi = min(m * 60 + 59, rings.sec_end)
        if lo > hi:
            return None
        first, count = lo % n, hi - lo + 1
        pct, size = rings.sec_pct, rings.sec_size
        return (
            _mean(_lane(pct, 0, first, count), NONE16),
            _mean(_lane(size, 0, first, count), NONE32),
            _mean(_lane(size, 1, first, count), NONE32),
            _mean(_lane(pct, 1, first, count), NONE16),
        )

    def _close(self, ip: str, rings: NodeRings) -> None:
        """The node's minute being built into its minute ring and the listeners' batch."""
        m = rings.open
        if m < 0:
            return
        values = self._minute(rings, m)
        if values is None or values == _EMPTY:
            return
        self._put_minute(rings, m, values)
        self._closed.append(ResourceMinute(m * 60, ip, *values))

    def _put_minute(self, rings: NodeRings, m: int, values: tuple[int, int, int, int]) -> None:
        n = self.minutes
        if m > rings.min_end:
            _clear(rings.min_pct, rings.min_size, rings.min_end + 1, m, n)
            rings.min_end = m
        if rings.min_end - n < m:
            rings.min_start = min(rings.min_start, m)
            i = 2 * (m % n)
            rings.min_pct[i], rings.min_pct[i + 1] = values[0], values[3]
            rings.min_size[i], rings.min_size[i + 1] = values[1], values[2]

    def absorb(self, infos: Sequence[Any], now: float | None = None) -> None:
        """Samples collected by the state (NodeInfo copies of AvailInfo events), in order."""
        if not infos:
            return
        now = self.clock() if now is None else now
        add = self.add
        for info in infos:
            avail = info.avail_info
            if avail is None:
                continue
            t = info.update_time
            if not t or abs(t - now) > TRUST_UPDATE_TIME:
                t = now
            add(info.ip_addr, t, avail.cpu, avail.memory, avail.disk, avail.swap)

    def tick(self, now: float) -> list[ResourceMinute]:
        """At each clock tick: once a minute, give the listeners the minutes closed since the last
        time, as one batch. A node's minute closes at its first sample of a later minute (spread
        over the pulses, not all at once); here only those of nodes silent for a whole minute."""
        m = int(now) // 60
        if self.minute is not None and m <= self.minute:
            return []
        self.minute = m
        for ip, rings in self.nodes.items():
            if 0 <= rings.open < m - 1:
                self._close(ip, rings)
                rings.open = -1  # closed (a late sample of it opens it again: its mean is read anew)
        closed, self._closed = self._closed, []
        if closed:
            for listener in self.listeners:
                listener(closed)
        return closed

    def close_all(self) -> list[ResourceMinute]:
        """At shutdown: every node's minute as far as it has gone, to the listeners."""
        for ip, rings in self.nodes.items():
            self._close(ip, rings)
        closed, self._closed = self._closed, []
        if closed:
            for listener in self.listeners:
                listener(closed)
        return closed

    def load(self, points: Iterable[ResourceMinute]) -> None:
        """Minutes of an earlier run (any order); listeners are not told; the budget holds."""
        for p in sorted(points, key=lambda p: p.minute):
            rings = self.nodes.get(p.node) or self._rings(p.node, p.minute)
            if rings is None:
                continue
            self._put_minute(rings, p.minute // 60, (p.cpu, p.memory, p.disk, p.swap))
            rings.last = max(rings.last, float(p.minute))

    def take(self, batch: Sequence[Any], state: Any) -> None:
        """The hub's subscriber: the samples the state collected, then each clock tick of the batch."""
        self.drain(state)
        for event in batch:
            if type(event) is HealthCheck:
                self.tick(event.now)

    def drain(self, state: Any) -> None:
        """Take the state's collected samples (also before a query: what was applied is in the answer)."""
        log = state.avail_log
        if log:
            state.avail_log = []
            self.absorb(log)

    # -- reading ---------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """The rings' bytes (the budget's measure)."""
        return len(self.nodes) * self.node_bytes

    def kept(self, ip: str) -> bool:
        return ip in self.nodes

    def _not_kept(self, ip: str) -> str:
        if ip in self.refused:
            return (
                f"not kept: the resource history's budget ({self.budget // 2**20} MiB, "
                f"{self.max_nodes} nodes) was full when this node first reported"
            )
        return "no avail info from this node yet (dispynode sends it with its pulses, and only with psutil)"

    def query(self, ip: str, span: str, now: float | None = None) -> dict[str, Any]:
        """One node's series, columnar: {node, span, step, end, times, cpu, memory, disk, swap, kept, note}.

        `span` "10m": each second of the last ten minutes that has a sample;
        "day": each minute of the last day that has one (the current minute as
        far as it has gone, its mean so far). Values as dispy reports them
        (CPU and swap % free, memory and disk bytes free), to the quantum
        (QUANTA); null where a sample lacked that value."""
        now = self.clock() if now is None else now
        out: dict[str, Any] = {"node": ip, "span": span, "times": [], "cpu": [], "memory": [], "disk": [], "swap": []}
        rings = self.nodes.get(ip)
        if span == "10m":
            step, end = 1, int(now)
        elif span == "day":
            step, end = 60, int(now) // 60 * 60
        else:
            raise ValueError("span must be 10m or day")
        out.update(step=step, end=end, kept=rings is not None, note=None if rings is not None else self._not_kept(ip))
        if rings is None:
            return out
        times, cpu, memory, disk, swap = out["times"], out["cpu"], out["memory"], out["disk"], out["swap"]

        def put(t: int, c: int, m: int, d: int, s: int) -> None:
            times.append(t)
            cpu.append(_p(c))
            memory.append(_b(m, MEMORY_STEP))
            disk.append(_b(d, DISK_STEP))
            swap.append(_p(s))

        if step == 1:
            n = self.seconds
            pct, size = rings.sec_pct, rings.sec_size
            for s in range(max(end - n + 1, rings.sec_end - n + 1), min(end, rings.sec_end) + 1):
                i = 2 * (s % n)
                if pct[i] != NONE16 or pct[i + 1] != NONE16 or size[i] != NONE32 or size[i + 1] != NONE32:
                    put(s, pct[i], size[i], size[i + 1], pct[i + 1])
            return out
        n = self.minutes
        m_end = end // 60
        pct, size = rings.min_pct, rings.min_size
        building = rings.open
        for m in range(max(m_end - n + 1, rings.min_end - n + 1, rings.min_start), min(m_end, rings.min_end) + 1):
            if m == building:
                continue  # the minute being built: below
            i = 2 * (m % n)
            if pct[i] != NONE16 or pct[i + 1] != NONE16 or size[i] != NONE32 or size[i + 1] != NONE32:
                put(m * 60, pct[i], size[i], size[i + 1], pct[i + 1])
        so_far = self._minute(rings, building) if m_end - n < building <= m_end else None
        if so_far is not None:
            put(building * 60, so_far[0], so_far[1], so_far[2], so_far[3])
            order = sorted(range(len(times)), key=times.__getitem__)  # a minute loaded after it: keep time order
            if order != list(range(len(times))):
                for key in ("times", "cpu", "memory", "disk", "swap"):
                    out[key] = [out[key][i] for i in order]
        return out

    def sparks(self, ips: Sequence[str], now: float | None = None) -> dict[str, Any]:
        """CPU % free over the last ten minutes for each of `ips`, in SPARK_STEP-second buckets
        (the mean of the samples in each, rounded to a whole percent; null: none):
        {span, step, end, nodes: {ip: [..] | null (not kept)}}; `end` starts the last bucket."""
        now = self.clock() if now is None else now
        step = SPARK_STEP
        count = self.seconds // step
        end = int(now) // step * step
        first = end - (count - 1) * step
        out: dict[str, list[int | None] | None] = {}
        n = self.seconds
        for ip in ips:
            rings = self.nodes.get(ip)
            if rings is None:
                out[ip] = None
                continue
            values: list[int | None] = [None] * count
            cpu = _lane(rings.sec_pct, 0, 0, n)  # by ring index; a bucket's seconds are contiguous in it
            low = max(first, rings.sec_end - n + 1, int(now) - n + 1)
            high = min(end + step - 1, rings.sec_end, int(now))
            for k in range(max(0, (low - first) // step), count):
                lo = max(first + k * step, low)
                hi = min(first + k * step + step - 1, high)
                if lo > hi:
                    continue
                i = lo % n
                mean = _mean(cpu[i : i + hi - lo + 1], NONE16)
                if mean != NONE16:
                    values[k] = round(mean / 100)
            out[ip] = values
        return {"span": "10m", "step": step, "end": end, "nodes": out}

    def status(self) -> dict[str, Any]:
        return {
            "nodes": len(self.nodes),
            "refused": len(self.refused),
            "refused_samples": self.refused_total,
            "bytes": self.memory_bytes(),
            "budget": self.budget,
            "samples": self.samples,
        }

    def metrics_text(self) -> str:
        """The resource history's /metrics families (appended to metrics.render's text)."""
        s = self.status()
        return (
            "# HELP dispymon_resource_nodes Nodes whose resources are kept over time, and those past the budget.\n"
            "# TYPE dispymon_resource_nodes gauge\n"
            f'dispymon_resource_nodes{{state="kept"}} {s["nodes"]}\n'
            f'dispymon_resource_nodes{{state="over_budget"}} {s["refused"]}\n'
            "# HELP dispymon_resource_bytes Bytes of the nodes' resource rings (at most the budget).\n"
            "# TYPE dispymon_resource_bytes gauge\n"
            f"dispymon_resource_bytes {s['bytes']}\n"
        )
