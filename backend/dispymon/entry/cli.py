"""The `dispymon` command: `serve` a user's cluster module, run the `demo`, or run dispy's `scheduler`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from dispymon import __version__

if TYPE_CHECKING:
    from dispymon.commands.control import ClusterControl
    from dispymon.entry.appmodule import AppModule
    from dispymon.model.jobkeys import JobKeys
    from dispymon.runtime.hub import Hub
    from dispymon.runtime.settings import Settings

_N = TypeVar("_N", int, float)


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def _number(kind: type[_N], check: Callable[[_N], bool], what: str) -> Callable[[str], _N]:
    """An argparse type: `kind(text)` that must pass `check`, else `what`."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str) -> _N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {noun}: {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(what)
        return value

    return parse


_poll_sec = _number(float, math.isfinite, "must be a finite number of seconds")
_port = _number(int, lambda v: 0 <= v <= 65535, "a port is between 0 and 65535 (0 picks a free one)")
_positive = _number(int, lambda v: v >= 1, "must be at least 1")
_rate = _number(float, lambda v: math.isfinite(v) and 0 <= v <= 1_000_000, "events per second, from 0 to 1000000")
_positive_seconds = _number(float, lambda v: math.isfinite(v) and v > 0, "must be a positive number of seconds")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 2**10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 2**20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 2**30,
}
_SIZE_MAX = 2**50  # a PiB: beyond any memory or disk budget (a typo, not a wish)


def size(text: str) -> int:
    """A byte size: plain bytes ("65536"), or a number with a unit ("64MiB", "1G", "1.5 GiB", "500kB").

    K/M/G alone and kB/MB/GB are powers of 1000; KiB/MiB/GiB of 1024."""
    raw = text.strip()
    number = raw.rstrip("bBiIkKmMgG ")
    unit = raw[len(number) :].strip().lower()
    factor = _SIZE_UNITS.get(unit)
    try:
        value = float(number) if factor is not None and number else math.nan
    except ValueError:
        value = math.nan
    if factor is None or not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (bytes, or a number with a unit: 64MiB, 1G)")
    result = int(value * factor)
    if result > _SIZE_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is too big (at most 1 PiB)")
    return result


def _positive_size(text: str) -> int:
    value = size(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be more than 0 bytes")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dispymon", description="Live web dashboard for dispy clusters.")
    parser.add_argument("--version", action="version", version=f"dispymon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, poll_default: float) -> None:
        p.add_argument("--host", default="127.0.0.1", help="address to serve the dashboard on (default 127.0.0.1)")
        p.add_argument("--port", type=_port, default=8181, help="port (default 8181; 0 picks a free one)")
        p.add_argument(
            "--poll-sec",
            type=_poll_sec,
            default=poll_default,
            help=f"each browser's default update interval in seconds; 0 or less pauses (default {poll_default:g})",
        )
        p.add_argument("--hide-job-args", action="store_true", help="start with job arguments hidden")
        p.add_argument(
            "--token",
            default=os.environ.get("DISPYMON_TOKEN"),
            help="operator token (sees and commands); default $DISPYMON_TOKEN, generated when --host is not loopback",
        )
        p.add_argument(
            "--viewer-token",
            default=os.environ.get("DISPYMON_VIEWER_TOKEN"),
            help="viewer token (sees only); default $DISPYMON_VIEWER_TOKEN",
        )
        p.add_argument(
            "--allow-host",
            action="append",
            default=[],
            metavar="NAME",
            help="another host name or address browsers may use to reach the dashboard (repeatable; "
            "$DISPYMON_ALLOW_HOST adds more, separated by commas)",
        )
        p.add_argument(
            "--stuck-after",
            type=_positive_seconds,
            default=300.0,
            help="flag a node busy with no job starting or ending for this long (default 300 s)",
        )
        p.add_argument(
            "--stale-after",
            type=_positive_seconds,
            default=30.0,
            help="flag a node whose CPU/memory info stops arriving for this long (default 30 s)",
        )
        p.add_argument(
            "--history-size",
            type=_positive,
            default=10_000,
            help="finished jobs kept in memory for the history (default 10000)",
        )
        p.add_argument(
            "--history-db",
            metavar="PATH",
            help="keep the job history and per-minute charts in this SQLite file across restarts (default: off)",
        )
        p.add_argument(
            "--outputs-budget",
            type=_positive_size,
            default=64 * 2**20,
            metavar="SIZE",
            help="memory kept for ended jobs' outputs, tracebacks and result texts, oldest dropped first "
            "(bytes, or 64MiB, 1G; default 64MiB)",
        )
        p.add_argument(
            "--resubmit-budget",
            type=size,
            default=64 * 2**20,
            metavar="SIZE",
            help="memory kept for ended jobs' pickled arguments, to resubmit them; 0 turns resubmission off "
            "(default 64MiB)",
        )
        p.add_argument(
            "--history-bytes",
            type=_positive_size,
            default=None,
            metavar="SIZE",
            help="disk the --history-db file may take, job details dropped oldest first (default 256MiB)",
        )
        p.add_argument(
            "--alerts",
            metavar="FILE",
            help="alert webhooks and rule settings (TOML; see docs/using.md); without it every rule is on "
            "with its defaults and no webhook is called",
        )
        p.add_argument("-v", "--verbose", action="store_true", help="log dispymon's and dispy's details")

    serve = sub.add_parser("serve", help="serve the dashboard for the clusters a Python module builds")
    serve.add_argument(
        "--cluster-module",
        metavar="APP.PY",
        help="the module that builds the clusters (without it, with --broker: a central dashboard of the fleet)",
    )
    serve.add_argument("--exit-after-workload", action="store_true", help="stop once the module's workload() returns")
    # The fleet (docs/fleet.md)
    serve.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("DISPYMON_BROKER"),
        help="Redis broker of the fleet, redis://[user:password@]host[:port][/db] or rediss:// "
        "(default $DISPYMON_BROKER): with --cluster-module, publish there as --program; without, "
        "serve a central dashboard of every program publishing there",
    )
    serve.add_argument(
        "--program",
        metavar="NAME",
        help="this program's name in the fleet (with --broker; default: the module's name and this host's)",
    )
    serve.add_argument(
        "--fleet-retention",
        type=_positive,
        default=10_000,
        metavar="N",
        help="entries a program keeps in its stream (XADD MAXLEN ~ N; a central further behind resyncs from a "
        "snapshot; default 10000)",
    )
    serve.add_argument(
        "--no-http", action="store_true", help="with --broker: only publish, serve no dashboard (no inbound port)"
    )
    serve.add_argument(
        "--offline-after",
        type=_positive_seconds,
        default=10.0,
        help="a central shows a program offline after this long without a heartbeat (default 10 s)",
    )
    serve.add_argument(
        "--forget-after",
        type=_positive_seconds,
        default=86_400.0,
        help="a central forgets a program offline for this long (default 86400 s)",
    )
    common(serve, 10.0)

    demo = sub.add_parser("demo", help="start local dispynode processes and a sample workload, and serve the dashboard")
    demo.add_argument("--nodes", type=_positive, default=2, help="local nodes to start (default 2)")
    demo.add_argument("--cpus", type=_positive, default=2, help="CPUs each node offers (default 2)")
    demo.add_argument("--first-ip", type=_positive, default=2, help="nodes use 127.0.0.N from N = this (default 2)")
    demo.add_argument(
        "--simulate",
        type=_positive,
        metavar="N",
        help="no dispynode: a simulated cluster of N nodes (addresses 10.x.y.z are labels), for a look at scale",
    )
    demo.add_argument(
        "--rate",
        type=_rate,
        default=1000.0,
        help="events per second of the simulated cluster (default 1000; with --simulate)",
    )
    common(demo, 1.0)

    scheduler = sub.add_parser(
        "scheduler",
        help="run dispy's dispyscheduler with this dashboard as its --httpd (every client's computation, shared nodes)",
        description="Run dispy's dispyscheduler with the dashboard in place of its --httpd server. "
        "dispymon's options come first; dispyscheduler's own options follow '--' "
        "(e.g. dispymon scheduler --port 8181 -- -i 10.0.0.5 -n 10.0.0.6 -n 10.0.0.7).",
    )
    scheduler.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("DISPYMON_BROKER"),
        help="also publish every computation to this fleet broker (redis:// or rediss://; default $DISPYMON_BROKER)",
    )
    scheduler.add_argument(
        "--program",
        metavar="NAME",
        help="the scheduler's name in the fleet (with --broker; default: dispyscheduler and this host's name)",
    )
    common(scheduler, 10.0)
    scheduler.add_argument(
        "scheduler_args",
        nargs=argparse.REMAINDER,
        metavar="-- DISPYSCHEDULER-OPTIONS",
        help="dispyscheduler's options (see dispyscheduler.py --help); --httpd is implied",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.history_bytes is not None and not args.history_db:
        parser.error("--history-bytes needs --history-db (it bounds that file)")
    from dispymon.transport.security import TokenError, check_tokens

    try:  # before the module builds its clusters
        check_tokens(
            args.token or None,
            args.viewer_token or None,
            (
                "the operator token (--token or $DISPYMON_TOKEN)",
                "the viewer token (--viewer-token or $DISPYMON_VIEWER_TOKEN)",
            ),
        )
    except TokenError as exc:
        return _fail(str(exc))
    args.alerts_config = None
    if args.alerts:  # read and checked before the module builds its clusters: a bad file stops the start
        from dispymon.features.alerts.config import AlertsConfigError
        from dispymon.features.alerts.config import load as load_alerts

        try:
            args.alerts_config = load_alerts(args.alerts)
        except AlertsConfigError as exc:
            return _fail(str(exc))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # SIGTERM before the server's own handlers are in place (while nodes start,
    # say) must still run our clean-up, never leave orphaned processes.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "scheduler":
            return _scheduler(args)
        return _demo(args)
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    from dispymon.runtime.settings import Settings
    from dispymon.transport.security import hosts_from_env

    return Settings(
        host=args.host,
        port=args.port,
        poll_sec=args.poll_sec,
        show_job_args=not args.hide_job_args,
        exit_after_workload=getattr(args, "exit_after_workload", False),
        token=args.token or None,
        viewer_token=args.viewer_token or None,
        allow_hosts=tuple(args.allow_host) + hosts_from_env(os.environ),
        stuck_after=args.stuck_after,
        stale_after=args.stale_after,
        history_size=args.history_size,
        history_db=args.history_db,
        outputs_budget=args.outputs_budget,
        resubmit_budget=args.resubmit_budget,
        history_bytes=args.history_bytes if args.history_bytes is not None else 256 * 2**20,
        patch_dispy_queue=True,  # dispy's worker_Q hop skipped for dispymon's own events (adapters/dispy/queue.py)
        access_log=True,  # shown with -v; tokens redacted
        alerts=getattr(args, "alerts_config", None),
        broker=getattr(args, "broker", None) or None,
        program=getattr(args, "program", None),
        serve_http=not getattr(args, "no_http", False),
        fleet_retention=getattr(args, "fleet_retention", 10_000),
        offline_after=getattr(args, "offline_after", 10.0),
        forget_after=getattr(args, "forget_after", 86_400.0),
    )


def _run(
    app_module: AppModule, args: argparse.Namespace, source: Callable[[Hub, JobKeys], ClusterControl] | None = None
) -> int:
    from dispymon.runtime.runtime import DashboardError, run

    try:
        code = asyncio.run(run(app_module, _settings(args), say=lambda s: print(s, flush=True), source=source))
    except DashboardError as exc:
        print(f"dispymon: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, _interrupt)  # asyncio reset it on the way out
    return code


def _fail(message: str) -> int:
    print(f"dispymon: {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from dispymon.entry.appmodule import AppModuleError, load
    from dispymon.transport.server import MissingFrontendError, ServerConfig, check_frontend

    try:
        check_frontend(ServerConfig().static_dir)
    except MissingFrontendError as exc:
        return _fail(str(exc))
    if args.broker or args.program:  # the fleet (docs/fleet.md): checked before the module builds its clusters
        from dispymon.fleet.broker import BrokerError, check_program, default_program, parse

        try:
            broker = parse(args.broker)
            if args.cluster_module:
                if args.program is None:
                    args.program = default_program(Path(args.cluster_module).stem)
                check_program(args.program)
            elif args.program or args.no_http:
                raise BrokerError("--program and --no-http are for a program that publishes: give its --cluster-module")
        except BrokerError as exc:
            return _fail(str(exc))
        if not args.cluster_module:
            return _central(args, broker)
    elif not args.cluster_module:
        return _fail("give --cluster-module APP.PY (or --broker URL for a central dashboard of a fleet)")
    elif args.no_http:
        return _fail("--no-http needs --broker (a program that serves no dashboard must publish)")
    try:
        app_module = load(args.cluster_module)
    except AppModuleError as exc:
        return _fail(str(exc))
    return _run(app_module, args)


def _scheduler(args: argparse.Namespace) -> int:
    from dispymon.entry.scheduler import run
    from dispymon.transport.server import MissingFrontendError, ServerConfig, check_frontend

    try:
        check_frontend(ServerConfig().static_dir)
    except MissingFrontendError as exc:
        return _fail(str(exc))
    rest = args.scheduler_args
    if rest and rest[0] != "--":
        return _fail(f"dispyscheduler's options go after '--' (got {rest[0]!r})")
    from dispymon.fleet.broker import BrokerError, check_program, default_program, parse

    try:
        if args.broker or args.program:  # the fleet (docs/fleet.md): checked before dispyscheduler starts
            parse(args.broker)
            args.program = check_program(args.program or default_program("dispyscheduler"))
        return run(_settings(args), rest)
    except OSError as exc:  # the dashboard's port (the drop-in server's message starts "dispymon ")
        return _fail((exc.strerror or str(exc)).removeprefix("dispymon "))
    except BrokerError as exc:  # a broker that cannot be reached or refuses the login
        return _fail(str(exc))


def _central(args: argparse.Namespace, broker: Any) -> int:
    """`serve --broker URL` with no module: every program publishing there (fleet/central.py)."""
    import types

    from dispymon.entry.appmodule import AppModule
    from dispymon.fleet.central import FleetSource

    source = FleetSource(
        broker, offline_after=args.offline_after, forget_after=args.forget_after, heartbeat=1.0, command_timeout=10.0
    )
    print(f"dispymon: central dashboard of the fleet at {broker.shown}", flush=True)
    nothing = AppModule(Path("<fleet>"), types.ModuleType("fleet"), [], None)
    return _run(nothing, args, source=source)


def _demo(args: argparse.Namespace) -> int:
    from dispymon.adapters.localnodes import LocalCluster, NodeStartError, loopback_ips
    from dispymon.entry.appmodule import AppModuleError, load
    from dispymon.transport.server import MissingFrontendError, ServerConfig, check_frontend

    try:
        check_frontend(ServerConfig().static_dir)
    except MissingFrontendError as exc:
        return _fail(str(exc))
    if args.simulate:
        return _simulate(args)
    if args.first_ip + args.nodes > 255:
        return _fail("--first-ip plus --nodes must stay within 127.0.0.2-127.0.0.254")
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-demo-"))
    local = LocalCluster(workdir, loopback_ips(args.nodes, args.first_ip), cpus=args.cpus)
    try:
        try:
            local.start()
        except NodeStartError as exc:
            return _fail(f"cannot start the demo's nodes: {exc}")
        for node in local.nodes:
            print(f"dispymon: dispynode {node.ip} ({node.cpus} CPUs) running as PID {node.pid}", flush=True)
        os.environ["DISPYMON_DEMO_NODES"] = ",".join(n.ip for n in local.nodes)
        os.environ["DISPYMON_DEMO_PORT"] = str(local.port_base)
        os.environ["DISPYMON_DEMO_RECOVER"] = str(workdir / "dispy-recover")
        os.environ.setdefault("DISPYMON_DEMO_IN_FLIGHT", str(2 * args.cpus * args.nodes))
        try:
            app_module = load(Path(__file__).with_name("demo_app.py"))
        except AppModuleError as exc:
            return _fail(str(exc))
        return _run(app_module, args)
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _simulate(args: argparse.Namespace) -> int:
    """`demo --simulate N`: the dashboard of a simulated cluster (see simulate.py)."""
    import types

    from dispymon.adapters.simulated import SimulatedCluster, SimulatedControl
    from dispymon.entry.appmodule import AppModule

    clusters: list[SimulatedCluster] = []
    # Each simulated node reports its avail info once per cycle through all
    # of them; a long cycle (many nodes, a low rate) must not read as "stale".
    if args.rate > 0:
        cycle = args.simulate / (args.rate * SimulatedCluster.AVAIL_SHARE)
        args.stale_after = max(args.stale_after, 3 * cycle)

    def source(hub, keys):
        sim = SimulatedCluster(hub.feed, args.simulate, args.cpus, rate=args.rate, seed=None, keys=keys)
        clusters.append(sim.start())
        print(
            f"dispymon: simulated cluster of {args.simulate} nodes ({args.cpus} CPUs each), "
            f"{args.rate:g} events/s; no dispynode runs",
            flush=True,
        )
        return SimulatedControl(clusters)

    nothing = AppModule(Path("<simulated>"), types.ModuleType("simulated"), [], None)
    try:
        return _run(nothing, args, source=source)
    finally:
        for sim in clusters:
            sim.stop()


if __name__ == "__main__":
    sys.exit(main())
