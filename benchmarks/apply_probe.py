"""`python benchmarks/apply_probe.py TREE`: the loop's CPU per event in the hub's drain and the state's apply.

A probe for side-by-side comparisons (benchmarks/notes.md, "Issue 17: before and
after"): TREE is a checkout of dispymon (its `backend/` is imported, the old
layout before issue 17 or the new one). 500,000 simulated events of a 10,000-node
cluster are made first (untimed), then drained on the loop's thread; the figure
is `time.thread_time()` per event, which other processes' load does not add to.
Prints 3 runs after a warm-up. Run it for two trees alternately.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time

TREE = sys.argv[1]
sys.path.insert(0, TREE + "/backend")
try:  # the layout since issue 17
    from dispymon.adapters.simulated import SimulatedCluster
    from dispymon.model.state import State
    from dispymon.runtime.hub import Hub

    OLD = False
except ImportError:  # before it
    from dispymon.hub import Hub  # type: ignore[no-redef]
    from dispymon.simulate import SimulatedCluster  # type: ignore[no-redef]
    from dispymon.state import State  # type: ignore[no-redef]

    OLD = True

EVENTS = 500_000


async def main() -> None:
    hub = Hub(asyncio.get_running_loop(), State())
    if OLD:  # its history's hook: ended jobs collected, the list renewed after each drain
        hub.state.ended = []
        hub.after_drain.append(lambda: setattr(hub.state, "ended", []))
    else:
        hub.subscribe(lambda batch, state: None)
    runs = []
    for _ in range(4):
        made: list = []
        sim = SimulatedCluster(made.append, 10_000, 8, name="simulated", rate=1.0, seed=2)
        hub.feed(sim.attached_event())
        hub.drain() if OLD else hub.read()
        sim.emit(EVENTS)
        gc.collect()
        gc.freeze()
        c0 = time.thread_time()
        hub._inbox.extend(made)
        while hub._inbox:
            hub._drain()
        runs.append((time.thread_time() - c0) / len(made) * 1e6)
        gc.unfreeze()
    print(TREE, " ".join(f"{us:.3f}" for us in runs[1:]), "µs/event")


asyncio.run(main())
