"""`dispymon scheduler [dashboard options] -- [dispyscheduler options]`: dispy's own
`dispyscheduler`, with dispymon in place of its `--httpd` server.

dispyscheduler (dispy 4.15.2) serves every `SharedJobCluster` client: each
client's computation becomes a `_Cluster` of the scheduler's own, and with
`--httpd` the scheduler makes one `dispy.httpd.DispyHTTPServer(None)` and
hands it each computation as it is scheduled (`add_cluster`) and as it ends
(`del_cluster`), on its pycos thread. This entry starts dispymon's drop-in
server first (so a port in use stops the start before any client is taken),
puts a factory returning it where dispyscheduler looks for
`dispy.httpd.DispyHTTPServer`, and runs dispyscheduler's own `__main__`
(`python -m dispy.dispyscheduler`) with the options given after `--`, plus
`--httpd`. The operator then sees every client's computation as a cluster,
and the shared nodes once in '* Combined'.

What the scheduler can report, and what it cannot (its job objects carry no
arguments, results or exceptions; a queued job a client cancels is never
reported), is in docs/dispy-notes.md.
"""

from __future__ import annotations

import argparse
import configparser
import logging
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from dispymon.adapters.dispy.clusters import register_scheduler_cluster
from dispymon.adapters.dispy.scheduler import give_worker_queue, on_pycos_thread, run_dispyscheduler
from dispymon.entry.httpd import DispyHTTPServer
from dispymon.runtime.settings import Settings

log = logging.getLogger(__name__)


class SchedulerServer(DispyHTTPServer):
    """The drop-in server as dispyscheduler uses it: from its pycos thread.

    dispyscheduler calls `add_cluster`/`del_cluster` inside a pycos task: the
    drop-in's wait for the dashboard to take the change in (`_settle`) would
    hold dispyscheduler's one thread, so it is skipped there (the change
    reaches browsers with the next delta). Its computations are registered
    as clusters (`register_scheduler_cluster`) as they come, and the
    scheduler gets the `worker_Q` it lacks (`give_worker_queue`).
    """

    def add_cluster(self, cluster: Any) -> None:
        register_scheduler_cluster(type(cluster))
        give_worker_queue(getattr(cluster, "scheduler", None))
        super().add_cluster(cluster)

    def del_cluster(self, cluster: Any) -> None:
        if self._closing:  # dispyscheduler's atexit shutdown, after ours: nothing left to show
            return
        super().del_cluster(cluster)

    def _settle(self) -> None:
        if on_pycos_thread():  # dispyscheduler's: never wait on it
            return
        super()._settle()


class SchedulerArgsError(ValueError):
    pass


def scheduler_argv(args: list[str], tmpdir: Path, stdin_is_tty: bool) -> list[str]:
    """dispyscheduler's command line: the user's options (after `--`), with `--httpd`.

    `--daemon` is added when stdin is not a terminal: dispyscheduler would
    otherwise read commands from it, and on a closed stdin it loops on the
    EOFError for ever. A `--config` file (dispyscheduler then ignores every
    other option) is copied into `tmpdir` with `http_server = True`.
    """
    if args[:1] == ["--"]:
        args = args[1:]
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--config", default="")
    probe.add_argument("--daemon", action="store_true")
    known, _ = probe.parse_known_args(args)
    out = [*args, "--httpd"]
    if not known.daemon and not stdin_is_tty:
        out.append("--daemon")
    if known.config:
        cfg = configparser.ConfigParser()
        if not cfg.read(known.config):
            raise SchedulerArgsError(f"cannot read dispyscheduler's config file {known.config!r}")
        if cfg["DEFAULT"].get("http_server") != "True":
            cfg["DEFAULT"]["http_server"] = "True"
            copy = tmpdir / "dispyscheduler.conf"
            with open(copy, "w") as fd:
                cfg.write(fd)
            out = [str(copy) if a == known.config else a for a in out]
    return out


def run(settings: Settings, args: list[str]) -> int:
    """Serve the dashboard, then run dispyscheduler with `args` until it ends (or Ctrl-C / SIGTERM).

    Exit code: dispyscheduler's (0 after "quit", 2 for a bad option), 130 when interrupted.
    """
    with tempfile.TemporaryDirectory(prefix="dispymon-scheduler-") as tmp:
        try:
            argv = scheduler_argv(args, Path(tmp), sys.stdin.isatty())
        except SchedulerArgsError as exc:
            print(f"dispymon: {exc}", file=sys.stderr)
            return 2
        server = SchedulerServer(None, settings=settings)
        made = threading.Event()

        def factory(cluster: Any = None, *_args: Any, **_kwargs: Any) -> SchedulerServer:
            # dispyscheduler makes its server once: DispyHTTPServer(None)
            if made.is_set():
                raise RuntimeError("dispyscheduler asked for a second HTTP server")
            made.set()
            if cluster is not None:
                server.add_cluster(cluster)
            return server

        code = 0
        try:
            run_dispyscheduler(argv, factory)
        except SystemExit as exc:  # dispyscheduler's exit(0) after "quit", argparse's exit(2)
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (the CLI's handler) in --daemon mode
            code = 130
        finally:
            server.shutdown(wait=True)
        if not made.is_set() and code == 0:
            log.warning("dispymon: dispyscheduler never asked for its HTTP server")
        return code
