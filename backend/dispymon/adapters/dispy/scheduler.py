"""Running dispy's own `dispyscheduler` in this process, with a server of ours as its `--httpd`.

dispyscheduler 4.15.2 is a script (`dispy/dispyscheduler.py`, also installed
as `dispyscheduler.py`): its options are parsed, and its `_Scheduler` made,
in its `if __name__ == '__main__'` block, which `runpy` runs as
`python -m dispy.dispyscheduler` would. With `--httpd` the `_Scheduler` makes
`dispy.httpd.DispyHTTPServer(None)`, looked up on `dispy.httpd` at that moment,
so a factory put there for the run is what it gets.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from typing import Any

import dispy

SCHEDULER_MODULE = "dispy.dispyscheduler"


def run_dispyscheduler(argv: list[str], http_server: Callable[..., Any]) -> None:
    """Run dispyscheduler's `__main__` with `argv` (its options) until it ends.

    `http_server` stands in for `dispy.httpd.DispyHTTPServer` meanwhile.
    Raises what dispyscheduler raises: SystemExit (its `exit(0)`, argparse's
    exit 2), KeyboardInterrupt (in `--daemon` mode, where it does not catch it).
    """
    import dispy.httpd  # dispyscheduler imports it too (its `cgi` import warns on Python 3.11+)

    original, saved_argv = dispy.httpd.DispyHTTPServer, sys.argv
    dispy.httpd.DispyHTTPServer = http_server
    sys.argv = [SCHEDULER_MODULE, *argv]
    try:
        runpy.run_module(SCHEDULER_MODULE, run_name="__main__", alter_sys=True)
    finally:
        dispy.httpd.DispyHTTPServer, sys.argv = original, saved_argv


def on_pycos_thread() -> bool:
    """Whether the caller runs on a pycos scheduler's thread (dispyscheduler's, here)."""
    return dispy.Pycos.scheduler() is not None


class _RunAtOnce:
    """A `worker_Q` for dispyscheduler, which uses one it never makes.

    dispyscheduler 4.15.2's `delete_node` (a node that refused a job) hands
    the `Closed` event of every computation on that node, and the
    `Cancelled` event of each job pinned there, to `self.worker_Q.put`, as
    dispy's client does; the `_Scheduler` has no `worker_Q`, so with an HTTP
    server attached (the only way a computation there gets a callback) the
    AttributeError ends the task sending the job: the node stays, the job
    stays scheduled there, and its client never gets a result. Every other
    callback of dispyscheduler runs on its pycos thread, where `put` is
    called: this runs the item there too (dispymon's tap only appends).
    """

    def put(self, item: tuple[Any, tuple[Any, ...]], block: bool = True, timeout: float | None = None) -> None:
        func, args = item
        func(*args)


def give_worker_queue(scheduler: Any) -> None:
    """Give dispyscheduler's `_Scheduler` the `worker_Q` its `delete_node` uses (see _RunAtOnce)."""
    if scheduler is not None and not hasattr(scheduler, "worker_Q"):
        scheduler.worker_Q = _RunAtOnce()
