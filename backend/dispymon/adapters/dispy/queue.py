"""The opt-in patch of dispy's scheduler queue (`Settings.patch_dispy_queue`, `DispyAdapter(patch_queue=True)`).

Off unless asked: it replaces `worker_Q.put` on dispy's scheduler, a private
attribute of dispy 4.15.2. `dispymon serve`, `demo` and the drop-in server
opt in (benchmark 2 measures why: docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any


def direct_queue(scheduler: Any) -> bool:
    """Let dispy's scheduler hand dispymon's deferred taps their events at once.

    dispy queues every `cluster_status` call for its worker thread, and that
    hop costs the cluster itself: waking the worker thread and handing it the
    GIL for each event slowed a real 2-node cluster by 3-6 % (benchmark 2),
    with a callback that did nothing as with dispymon's. A deferred tap only
    appends to the hub's inbox (O(1), no lock held, no I/O), so it can run on
    the thread that queues it, as the put happens. Items for any other
    callback, and a user's callback chained behind our tap, still go to the
    worker thread, in order. Idempotent; the queue keeps the wrapper for
    as long as the scheduler lives (a tap no longer installed is never put).
    False: the scheduler has no queue to wrap.
    """
    queue = getattr(scheduler, "worker_Q", None)
    if queue is None:
        return False
    if getattr(queue, "__dispymon_direct__", False):
        return True
    put = queue.put

    def direct_put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            func = item[0]
            record = getattr(func, "__dispymon_direct__", None)
            if record is not None:
                record(*item[1])  # never raises
                chained = func.__dispymon_chained__
                if chained is None:
                    return
                item = (chained, item[1])
        put(item, block, timeout)

    queue.put = direct_put
    queue.__dispymon_direct__ = True
    return True
