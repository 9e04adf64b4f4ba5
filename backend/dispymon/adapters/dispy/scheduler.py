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
