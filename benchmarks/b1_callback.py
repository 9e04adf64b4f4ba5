"""Target 1: work on dispy's callback thread per event, dispymon's tap vs dispy.httpd's cluster_status.

The same stream of callback calls — real `dispy.DispyNode` / `DispyJob`
objects made from the simulated cluster's events (benchmarks/replay.py) —
is replayed through dispymon's tap (`adapter._make_tap` feeding a real `Hub`
whose asyncio loop runs in its own thread and drains as in the server) and
through `dispy.httpd.DispyHTTPServer.cluster_status` (a real server on a
loopback port). The figure is CPU time of the calling thread per call
(`time.thread_time_ns`): what the callback takes from dispy's thread.

Two patterns: a burst (a backlog of calls back to back, as dispy's worker
thread drains its queue) and paced calls (one every ~0.5 ms, the rate of
a busy small cluster, where the loop is idle between calls); paced figures
are timed around each call and net of the same timing of a no-op callback.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from typing import Any

from .common import Result, Row, median, say
from .replay import recorded_calls

EVENTS = 30_000
PACED = 3_000
PACE_SEC = 0.0005


def make_stream(events: int) -> list[tuple[int, Any, Any]]:
    from dispymon.adapters.simulated import SimulatedCluster

    return recorded_calls(lambda feed: SimulatedCluster(feed, 200, 8, rate=5000, seed=3), events)


def burst(cb, calls) -> float:
    t0 = time.thread_time_ns()
    for status, node, job in calls:
        cb(status, node, job)
    return (time.thread_time_ns() - t0) / len(calls)


def paced(cb, calls) -> float:
    # the clock is read around each call only (the sleeps' own cost would drown
    # it); the clock's overhead is taken off with a no-op callback's figure
    clock = time.thread_time_ns
    sleep = time.sleep
    total = 0
    for status, node, job in calls:
        t0 = clock()
        cb(status, node, job)
        total += clock() - t0
        sleep(PACE_SEC)
    return total / len(calls)


def noop(status, node, job) -> None:
    pass


def run(quick: bool = False) -> Result:
    import dispy.httpd

    from dispymon.adapters.dispy import _make_tap
    from dispymon.runtime.hub import Hub
    from dispymon.model.state import State

    repeats = 3 if quick else 7
    calls = make_stream(EVENTS // (5 if quick else 1))
    paced_calls = calls[: PACED // (3 if quick else 1)]
    say(f"callback: {len(calls)} calls, {repeats} repeats")

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="dispymon-loop").start()
    hub = Hub(loop, State())
    taps = {
        "dispymon": _make_tap(hub.feed, "simulated", None, None, True),  # as `dispymon serve` installs it
        "dispymon, copying on dispy's thread": _make_tap(hub.feed, "simulated", None, None, False),
    }

    class StandIn:  # what DispyHTTPServer reads of a cluster
        name = "simulated"
        cluster_status = None

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    standin = StandIn()
    httpd = dispy.httpd.DispyHTTPServer(standin, host="127.0.0.1", port=port, poll_sec=1)
    callbacks = {**taps, "dispy.httpd": standin.cluster_status}
    assert isinstance(callbacks["dispy.httpd"], functools.partial)

    figures: dict[str, dict[str, list[float]]] = {name: {"burst": [], "paced": []} for name in callbacks}
    noop_paced: list[float] = []
    try:
        for r in range(repeats):
            # alternate the order, so drift on a noisy machine falls on both
            order = list(callbacks.items()) if r % 2 == 0 else list(reversed(callbacks.items()))
            for name, cb in order:
                figures[name]["burst"].append(burst(cb, calls))
                asyncio.run_coroutine_threadsafe(hub.settle(), loop).result(60)
            for name, cb in order:
                figures[name]["paced"].append(paced(cb, paced_calls))
                asyncio.run_coroutine_threadsafe(hub.settle(), loop).result(60)
            noop_paced.append(paced(noop, paced_calls))
        # the loop's side of dispymon's deferred copy: converting and applying, per event
        items = []
        feed_list = items.append
        tap = _make_tap(feed_list, "simulated", None, None, True)
        for status, node, job in calls:
            tap(status, node, job)
        state = State()
        t0 = time.thread_time_ns()
        for item in items:
            event = item[0](*item[1:])  # a Deferred (make, *args), made as the hub's drain makes it
            if event is not None:
                state.apply(event)
        state.settle()  # once per drain in the hub; here once for the whole burst
        loop_side = (time.thread_time_ns() - t0) / len(items)
    finally:
        httpd.shutdown(wait=False)
        loop.call_soon_threadsafe(loop.stop)

    us = 1000.0
    base = median(noop_paced) / us
    med = {name: {"burst": median(f["burst"]) / us, "paced": median(f["paced"]) / us - base} for name, f in figures.items()}
    ours, theirs = med["dispymon"], med["dispy.httpd"]
    ratio_burst = ours["burst"] / theirs["burst"]
    ratio_paced = ours["paced"] / theirs["paced"]
    result = Result("callback", "1. Work on dispy's callback thread")
    result.rows.append(Row(
        "1. Callback work",
        f"dispymon {ours['burst']:.2f} µs vs dispy.httpd {theirs['burst']:.2f} µs per call in a burst "
        f"(×{ratio_burst:.2f}); paced {ours['paced']:.2f} vs {theirs['paced']:.2f} µs (×{ratio_paced:.2f})",
        "≤ 1.0× dispy.httpd's", max(ratio_burst, ratio_paced) <= 1.0,
    ))  # fmt: skip
    lines = ["| callback | burst, µs/call | paced, µs/call (net) | ratio to dispy.httpd (burst / paced) |",
             "|---|---|---|---|"]  # fmt: skip
    for name, f in med.items():
        lines.append(f"| {name} | {f['burst']:.2f} | {f['paced']:.2f} | "
                     f"×{f['burst'] / theirs['burst']:.2f} / ×{f['paced'] / theirs['paced']:.2f} |")  # fmt: skip
    spread = {name: (min(f["burst"]) / us, max(f["burst"]) / us) for name, f in figures.items()}
    result.details = "\n".join(lines) + (
        f"\n\nBurst spread over the {repeats} repeats (min–max, µs): "
        + "; ".join(f"{n} {a:.2f}–{b:.2f}" for n, (a, b) in spread.items())
        + f".\n\nWhat dispymon leaves to its loop instead (turning the objects into events and applying "
        f"them to the state): {loop_side / us:.2f} µs per call, on the asyncio thread, not dispy's."
    )
    result.method = (
        f"{len(calls):,} dispy callback calls (Created, Running, Finished/Terminated, AvailInfo; 200 nodes) made "
        f"from the simulator's events with real DispyNode/DispyJob objects, replayed {repeats} times through each "
        f"callback in alternating order; CPU time of the calling thread per call, median of the repeats. Paced: "
        f"{len(paced_calls):,} calls with a {PACE_SEC * 1000:g} ms sleep between them, each timed, minus the same "
        f"timing of a no-op callback ({base:.2f} µs/call). dispymon's tap feeds a real Hub whose loop runs in another "
        f"thread, as in `dispymon serve`."
    )
    result.data = {"median_us": med, "loop_side_us": loop_side / us, "noop_paced_us": base, "repeats": repeats,
                   "calls": len(calls), "burst_us": {n: [x / us for x in f["burst"]] for n, f in figures.items()},
                   "paced_us": {n: [x / us for x in f["paced"]] for n, f in figures.items()}}  # fmt: skip
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
