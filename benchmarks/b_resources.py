"""Issue 19 (node resources): what each node's resource history costs, with 10,000 simulated nodes.

- per avail-info event, on the event loop: the hub's drain of AvailInfo
  StatusEvents (the events a pulse makes, as both adapters build them) with
  the resource history subscribed, against the same drain without it
  (alternating runs, medians);
- the parts: the state's append (State.avail_log), `Resources.absorb` per
  sample, the minute's close (at each node's first pulse of the next minute,
  and the tick that hands them on), and the queries the
  pages ask (a node's 10 minutes and day, 300 sparklines);
- memory per node: tracemalloc's count of what `Resources` holds for 10,000
  nodes once each has reported, against its rings' own bytes (NODE_BYTES), and
  how many nodes the default budget keeps.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc

from dispymon.features.resources import DEFAULT_BUDGET, NODE_BYTES, Resources
from dispymon.model.events import NODE_AVAIL_INFO, NODE_INITIALIZED, AvailInfo, ClusterAttached, NodeInfo, StatusEvent
from dispymon.model.state import State
from dispymon.runtime.hub import Hub

from .common import Result, Row, median, say

NODES = 10_000
GiB = 2**30


def ip(i: int) -> str:
    return f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"


def node(i: int, t: float) -> NodeInfo:
    avail = AvailInfo(50.0 + (i * 7 + int(t)) % 50, 8 * GiB - i * 4096, 100 * GiB - i * 2**20, 99.5)
    return NodeInfo(ip(i), f"n{i}", 8, 8, 0, 0, 0.0, 0, 0, t, avail)


def pulses(start: float, seconds: int) -> list[StatusEvent]:
    """Every node's pulse each second for `seconds` (10,000 events a second)."""
    return [StatusEvent("c", NODE_AVAIL_INFO, node(i, start + s), None) for s in range(seconds) for i in range(NODES)]


async def drain_seconds(
    with_resources: bool, events: list[StatusEvent], start: float
) -> tuple[float, Resources | None]:
    """Seconds the hub takes to apply `events` (one read: the drain, slices and subscribers)."""
    hub = Hub(asyncio.get_running_loop(), State())
    hub.subscribe(lambda batch, state: None)  # a subscriber either way: the batch list is kept alike
    resources = None
    if with_resources:
        resources = Resources(budget=NODES * NODE_BYTES, clock=lambda: start)
        hub.read().avail_log = []
        hub.subscribe(resources.take)
    seeded = [(node(i, start - 1), NODE_INITIALIZED) for i in range(NODES)]
    hub.feed(ClusterAttached("c", "JobCluster", tuple(seeded), (), 0))
    for i in range(NODES):  # a first pulse of each node, untimed: its rings are made then (steady state below)
        hub.feed(StatusEvent("c", NODE_AVAIL_INFO, node(i, start), None))
    state = hub.read()
    if resources is not None:
        resources.drain(state)
    for event in events:
        hub.feed(event)
    gc.collect()
    t0 = time.perf_counter()
    state = hub.read()
    if resources is not None:
        resources.drain(state)  # what the next tick's drain would take
    return time.perf_counter() - t0, resources


def loop_seconds() -> float:
    """A fixed pure-Python loop (a million additions): how loaded the machine was, next to the figures."""
    t0 = time.perf_counter()
    x = 0
    for i in range(1_000_000):
        x += i
    return time.perf_counter() - t0


def run(quick: bool = False) -> Result:
    seconds = 2 if quick else 6
    repeats = 3 if quick else 5
    start = float(int(time.time()) // 60 * 60)
    events = pulses(start, seconds)
    n = len(events)
    say(f"resources: {n:,} AvailInfo events of {NODES:,} nodes, {repeats} runs each way")
    base: list[float] = []
    with_res: list[float] = []
    kept = None
    calibration = [loop_seconds()]
    for _ in range(repeats):
        t, _r = asyncio.run(drain_seconds(False, events, start))
        base.append(t)
        t, kept = asyncio.run(drain_seconds(True, events, start))
        with_res.append(t)
    per_event_base = median(base) / n * 1e9
    per_event_with = median(with_res) / n * 1e9
    assert kept is not None and len(kept.nodes) == NODES and kept.samples == n + NODES

    # the parts on their own
    infos = [e.node for e in events]
    absorb: list[float] = []
    for _ in range(repeats):
        r = Resources(budget=NODES * NODE_BYTES, clock=lambda: start)
        r.absorb(infos[:NODES], now=start)  # every node's rings made first: the steady state is timed
        t0 = time.perf_counter()
        r.absorb(infos[NODES:], now=start + seconds)
        absorb.append((time.perf_counter() - t0) / (n - NODES))
    r = kept
    t0 = time.perf_counter()
    r.absorb([node(i, start + 60) for i in range(NODES)], now=start + 60)  # each node's first pulse of a minute
    closing = time.perf_counter() - t0
    t0 = time.perf_counter()
    closed = r.tick(start + 61)  # hands the closed minutes to the listeners
    tick = time.perf_counter() - t0
    assert len(closed) == NODES
    queries = {}
    for name, ask in (
        ("node 10m", lambda: r.query(ip(1), "10m", now=start + 61)),
        ("node day", lambda: r.query(ip(1), "day", now=start + 61)),
        ("300 sparklines", lambda: r.sparks([ip(i) for i in range(300)], now=start + 61)),
    ):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ask()
            times.append(time.perf_counter() - t0)
        queries[name] = median(times) * 1000

    calibration.append(loop_seconds())
    # memory: what Resources holds for 10,000 nodes that each reported once
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = Resources(budget=NODES * NODE_BYTES, clock=lambda: start)
    held.absorb(infos[:NODES], now=start)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    per_node = grown / NODES
    default_nodes = Resources().max_nodes
    del held

    result = Result("resources", "Issue 19: each node's resources over time (10,000 simulated nodes)")
    result.rows.append(Row(
        "19. Node resources: cost per avail-info event",
        f"{(per_event_with - per_event_base) / 1000:.2f} µs more per AvailInfo event on the event loop "
        f"({per_event_base / 1000:.2f} → {per_event_with / 1000:.2f} µs, the hub's drain with the resource "
        f"history subscribed or not); {median(absorb) * 1e9 / 1000:.2f} µs per sample kept; the minute's close "
        f"of {NODES:,} nodes {closing * 1000:.0f} ms a minute (at their first pulses), the tick {tick * 1000:.0f} ms",
        "small beside the event's own cost", None,
    ))  # fmt: skip
    result.rows.append(Row(
        "19. Node resources: memory per node",
        f"{per_node / 1000:.1f} KB per node (tracemalloc, {NODES:,} nodes: {grown / 2**20:.0f} MiB); its rings "
        f"{NODE_BYTES / 1000:.1f} KB; the default budget ({DEFAULT_BUDGET // 2**20} MiB) keeps {default_nodes:,} nodes",
        "bounded (the budget)", None,
    ))  # fmt: skip
    result.method = (
        f"In one process, no server: a `Hub` and `State` with one cluster of {NODES:,} nodes, fed {n:,} "
        f"`StatusEvent(NODE_AVAIL_INFO)` (every node's pulse each second for {seconds} s, the events the dispy and "
        "simulated adapters make), timed from the first `read()` (the drain, the state's apply, the subscribers) "
        f"to the resource history's own `drain`; {repeats} runs with the resource history subscribed "
        "(`State.avail_log`, `Resources.take`) alternating with runs without it, medians. The parts: "
        "`Resources.absorb` over the same samples once every node's rings exist; each node's first pulse of "
        "the next minute (which closes its minute: means read from the seconds ring) and the `tick` that "
        "hands the closed minutes to the listeners; the queries as the pages ask them. Memory: "
        f"tracemalloc's growth while {NODES:,} nodes report once (the rings are made then, whole)."
    )
    lines = ["| part | median |", "|---|---|"]
    drains = f"{per_event_base / 1000:.2f} / {per_event_with / 1000:.2f} µs"
    lines.append(f"| hub drain per AvailInfo event, without / with the resource history | {drains} |")
    lines.append(f"| `Resources.absorb` per sample | {median(absorb) * 1e6:.2f} µs |")
    lines.append(f"| first pulses of a minute, {NODES:,} nodes (each closes its minute) | {closing * 1000:.1f} ms |")
    lines.append(f"| the minute's `tick` (hands {NODES:,} minutes on) | {tick * 1000:.1f} ms |")
    for name, ms in queries.items():
        lines.append(f"| query: {name} | {ms:.2f} ms |")
    lines.append(f"| memory per node (tracemalloc) / its rings | {per_node:,.0f} / {NODE_BYTES:,} bytes |")
    lines.append(
        f"\nThe machine's load at the time: a million-addition Python loop took {median(calibration):.2f} s "
        "(from 0.04 s to 0.24 s on this shared machine the day these were measured): the figures scale with it."
    )
    result.details = "\n".join(lines)
    result.data = {
        "quick": quick,
        "events": n,
        "drain_base_s": base,
        "drain_with_s": with_res,
        "absorb_s_per_sample": absorb,
        "tick_s": tick,
        "closing_s": closing,
        "loop_1m_s": calibration,
        "queries_ms": queries,
        "bytes_per_node": per_node,
        "node_bytes": NODE_BYTES,
        "default_budget_nodes": default_nodes,
    }
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
