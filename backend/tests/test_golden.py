"""Golden frames: the protocol's executable spec, shared with the frontend.

The frames here are built by the real server code (protocol.py's
constructors, the State/ClientView path the connection's pump takes, the
command registry, the codec) and written, as the bytes a browser receives,
to frontend/src/test/golden/. Vitest (frontend/src/core/golden.test.ts)
decodes every file with the browser's codec, checks it with the type guards
the socket uses and replays the sequences through the browser's reducers.
So a change of the protocol on one side that the other does not follow
fails one of the two test suites.

This test rebuilds every frame in memory and fails if the committed files
differ; `DISPYMON_UPDATE_GOLDEN=1` rewrites them (then commit them, and run
`npm test -w frontend`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import weakref
from pathlib import Path
from typing import Any

from dispymon import __version__
from dispymon.adapters import simulated
from dispymon.adapters.simulated import SimulatedCluster
from dispymon.commands.registry import Commands
from dispymon.features.bulk import BulkRunner
from dispymon.features.history import History
from dispymon.features.jobs import JobsFeature
from dispymon.features.insight import Insight
from dispymon.features.metrics import DurationHistogram
from dispymon.features.series import Series
from dispymon.model import events as ev
from dispymon.model.events import (AuditAdded, AuditUpdated, AvailInfo, BulkChanged, ClusterAttached, ClusterDetached,
                                   JobEnd, JobInfo, NodeChanged, NodeInfo, SettingChanged, StatusEvent)  # fmt: skip
from dispymon.model.jobkeys import JobKeys
from dispymon.model.state import State
from dispymon.model.views import ClientView
from dispymon.fleet.broker import parse
from dispymon.fleet.central import FleetSource, Follower
from dispymon.fleet.wire import Translator, snapshot_value
from dispymon.runtime.guard import Guard
from dispymon.runtime.hub import Hub
from dispymon.transport import protocol
from dispymon.transport.codec import decode, encode, encode_shared
from dispymon.transport.security import OPERATOR, VIEWER
from jobcontrol import JobControl

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "frontend" / "src" / "test" / "golden"
MANIFEST = "manifest.json"
REFRESH = "DISPYMON_UPDATE_GOLDEN=1 .venv/bin/python -m pytest backend/tests/test_golden.py"

T0 = 1_700_000_000.0  # every time in the frames: fixed, so the bytes are too


class Recorder:
    """The files being made (name -> bytes) and the manifest's entries."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.frames: list[dict[str, Any]] = []
        self.sequences: list[dict[str, Any]] = []

    def frame(self, name: str, frame: bytes, what: str) -> str:
        """One frame, as sent; `what` says what it shows."""
        file = f"{name}.msgpack"
        assert file not in self.files, file
        self.files[file] = frame
        self.frames.append({"file": file, "type": decode(frame)["type"], "what": what})
        return file


def node_info(ip: str, busy: int = 0, jobs_done: int = 0, avail: AvailInfo | None = None, cpus: int = 4) -> NodeInfo:
    return NodeInfo(ip, f"host-{ip.rsplit('.', 1)[1]}", cpus, cpus, busy, jobs_done, 1.5 * jobs_done, 1000, 2000,
                    T0 + jobs_done, avail)  # fmt: skip


def job_info(uid: int, ip: str | None, end: float | None = None, exception: str | None = None) -> JobInfo:
    return JobInfo(uid, f"job-{uid}", ip, T0 + 1 if ip else None, end, (uid, "x"), {"k": uid}, exception)


def canonical(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its maps keyed by name, address or uid in sorted order.

    Their order carries no meaning (a delta lists changed records in the
    order the state's change log settled them, which follows set iteration),
    but the files must be the same bytes every run; field order is kept."""
    if message.get("clusters"):
        message["clusters"] = {
            name: c if c is None or "nodes" not in c else {**c, "nodes": dict(sorted(c["nodes"].items()))}
            for name, c in sorted(message["clusters"].items())
        }
    if message.get("node_jobs"):
        message["node_jobs"] = {**message["node_jobs"], "jobs": dict(sorted(message["node_jobs"]["jobs"].items()))}
    return message


class Pump:
    """One browser's frames, made as `server.Connection.pump` makes them:
    the hub read first (what was fed is applied), then the view's snapshot
    or delta, encoded with the view's shared part (`encode_shared`); only
    the order of its unordered maps is made canonical."""

    def __init__(self, hub: Hub, interval: float, node: str | None = None, jobs: JobsFeature | None = None,
                 job: tuple[str, int] | None = None) -> None:  # fmt: skip
        self.hub = hub
        self.view = ClientView(hub.read(), interval, jobs.job_source if jobs is not None else None)
        self.view.watch(node)
        self.view.follow(job)

    def snapshot(self) -> bytes:
        self.hub.read()
        message = canonical(self.view.snapshot())
        return encode_shared(message, self.view.frame_key)

    def delta(self) -> bytes | None:
        self.hub.read()
        message = self.view.delta()
        return None if message is None else encode_shared(canonical(message), self.view.frame_key)


def hellos(rec: Recorder) -> None:
    for role in (OPERATOR, VIEWER):
        frame = encode(protocol.hello(server=f"dispymon {__version__}", poll_sec=10.0, show_job_args=True, role=role))
        rec.frame(f"hello-{role}", frame, f"hello to an {role}" if role == OPERATOR else f"hello to a {role}")


def snapshot_and_deltas(rec: Recorder, loop: asyncio.AbstractEventLoop) -> None:
    """A snapshot with every record, then one delta of each kind (one browser, in order:
    also a sequence, ending with a fresh snapshot)."""
    hub = Hub(loop)
    a, b, c = "10.0.0.1", "10.0.0.2", "10.0.0.3"
    hub.feed(ClusterAttached("alpha", "JobCluster",
                             ((node_info(a, busy=1, avail=AvailInfo(75.5, 8 << 30, 100 << 30, 99.0)), ev.NODE_INITIALIZED),
                              (node_info(b), ev.NODE_INITIALIZED)),
                             (job_info(11, a),), pending=3, done=5))  # fmt: skip
    hub.feed(ClusterAttached("beta", "SharedJobCluster", ((node_info(a, cpus=2), ev.NODE_INITIALIZED),), (), 0))
    hub.feed(AuditAdded(1, T0, "set_node_cpus", a, "alpha", "ok", "node 10.0.0.1 now uses 4 CPUs", "operator@127.0.0.1"))
    hub.feed(AuditAdded(2, T0 + 1, "add_node", "10.0.0.9", None, "pending", "waiting for 10.0.0.9", None))
    pump = Pump(hub, 1.0, node=a)
    frames = [rec.frame("snapshot", pump.snapshot(),
                        "a snapshot: two clusters (nodes with and without avail_info), audit entries, settings, "
                        "the jobs running on the watched node")]  # fmt: skip

    def step(name: str, what: str, *events: Any) -> None:
        for event in events:
            hub.feed(event)
        frame = pump.delta()
        assert frame is not None, name
        frames.append(rec.frame(name, frame, what))

    step("delta-settings", "settings changed (job arguments hidden: the watched node's jobs are sent again)",
         SettingChanged("show_job_args", False))
    step("delta-audit", "the audit log changed (an entry resolved)", AuditUpdated(2, "failed", "no answer from 10.0.0.9"))
    step("delta-cluster-added", "a cluster added: whole, its nodes complete",
         ClusterAttached("gamma", "JobCluster", ((node_info(c), ev.NODE_INITIALIZED),), (), 0))
    step("delta-cluster-removed", "a cluster removed (null)", ClusterDetached("gamma"))
    step("delta-jobs", "job counters only (jobs submitted)",
         StatusEvent("alpha", ev.JOB_CREATED, None, job_info(12, None)),
         StatusEvent("alpha", ev.JOB_CREATED, None, job_info(13, None)))
    step("delta-node-fields", "a node's changed fields only (busy, avail_info)",
         StatusEvent("alpha", ev.NODE_AVAIL_INFO, node_info(b, busy=1, avail=AvailInfo(40.0, 2 << 30, 50 << 30, 80.5)), None))
    step("delta-node-status", "a node's status changed (deallocated by a command)", NodeChanged("alpha", b, status="deallocated"))
    step("delta-node-new", "a node new to the browser: whole", StatusEvent("beta", ev.NODE_INITIALIZED, node_info(c, cpus=2), None))
    step("delta-node-jobs-added", "a job started on the watched node (node_jobs: added), counters and node fields",
         StatusEvent("alpha", ev.JOB_RUNNING, node_info(a, busy=2), job_info(12, a)))
    step("delta-node-jobs-removed", "jobs left the watched node (node_jobs: null), counters and node fields",
         StatusEvent("alpha", ev.JOB_FINISHED, node_info(a, busy=1, jobs_done=1), job_info(11, a, T0 + 5)),
         StatusEvent("alpha", ev.JOB_TERMINATED, node_info(a, busy=0, jobs_done=2), job_info(12, a, T0 + 6, "ValueError: boom")))
    final = rec.frame("snapshot-final", pump.snapshot(), "a fresh snapshot after the deltas")
    rec.sequences.append({"name": "every-delta", "interval": pump.view.interval, "node": a, "frames": frames,
                          "final": final})  # fmt: skip


def fleet_central(rec: Recorder, loop: asyncio.AbstractEventLoop) -> None:
    """A fleet central (docs/fleet.md): clusters with their program, the `fleet` part; a
    program going offline, another's cluster arriving. Made by the central's own code
    (FleetSource's record, the wire's Translator) from a program's state, with no broker."""
    hub = Hub(loop)
    source = FleetSource(parse("redis://default:secret@127.0.0.1:6379/0"))
    source(hub, JobKeys())
    source.reachable, source._reachable_since = True, T0
    a, b = "10.0.1.1", "10.0.2.1"

    def program(name: str, cluster: str, ip: str) -> Follower:
        own = State()
        own.apply(ClusterAttached(cluster, "JobCluster", ((node_info(ip, busy=1), ev.NODE_INITIALIZED),),
                                  (job_info(11, ip),), pending=3, done=2))  # fmt: skip
        f = source.followers[name] = Follower(name, Translator(name, source.keys))  # type: ignore[arg-type]
        f.last_seen, f.host, f.pid = T0, "lab", 100
        for event in f.translator.snapshot(snapshot_value(own)):
            hub.feed(event)
        return f

    lab_a = program("lab-A", "compute", a)
    source._report()
    pump = Pump(hub, 1.0)
    frames = [rec.frame("snapshot-fleet", pump.snapshot(), "a fleet central: a program's cluster, the fleet part")]
    lab_a.online, lab_a.offline_since = False, T0 + 30
    source._report()
    frames.append(rec.frame("delta-fleet", pump.delta() or b"", "the fleet part, whole: a program went offline"))
    program("lab-B", "render", b)
    source._report()
    frames.append(rec.frame("delta-fleet-cluster", pump.delta() or b"",
                            "another program's cluster arrives whole, with its program; the fleet part"))  # fmt: skip
    final = rec.frame("snapshot-fleet-final", pump.snapshot(), "a fresh snapshot after the fleet's deltas")
    rec.sequences.append({"name": "fleet", "interval": pump.view.interval, "node": None, "frames": frames,
                          "final": final})  # fmt: skip


def simulated_run(rec: Recorder, loop: asyncio.AbstractEventLoop) -> None:
    """A seeded simulated cluster seen by three browsers with different
    intervals (in ticks) and watched nodes: snapshot, deltas at each one's
    ticks, and a fresh snapshot at the end."""
    hub = Hub(loop)
    clock = lambda: T0  # noqa: E731
    simulated._uids = itertools.count(1)  # uids from 1 whatever ran before (restored by the caller)
    sim = SimulatedCluster(hub.feed, 6, 2, name="sim", seed=7, clock=clock)
    other = SimulatedCluster(hub.feed, 2, [1, 3], name="sim2", seed=8, clock=clock)
    sim.attach()
    browsers = [(1, None), (2, "10.0.0.1"), (5, "10.0.0.2")]
    pumps = [Pump(hub, float(every), node) for every, node in browsers]
    frames: list[list[str]] = [[] for _ in pumps]
    for i, pump in enumerate(pumps):
        frames[i].append(rec.frame(f"sim-{i}-000-snapshot", pump.snapshot(), f"simulated run, browser {i}: its snapshot"))
    for tick in range(1, 21):
        sim.emit(25)
        if tick == 4:
            other.attach()
        if tick > 4:
            other.emit(5)
        if tick == 8:
            hub.feed(SettingChanged("show_job_args", False))
        if tick == 11:
            hub.feed(NodeChanged("sim", "10.0.0.3", status="deallocated"))
        if tick == 16:
            hub.feed(ClusterDetached("sim2"))
        for i, ((every, _), pump) in enumerate(zip(browsers, pumps)):
            if tick == 12 and i == 1:  # a resync: the reducer takes a snapshot in the middle
                frame, kind = pump.snapshot(), "snapshot"
            elif tick % every == 0:
                frame, kind = pump.delta(), "delta"
            else:
                continue
            if frame is not None:
                frames[i].append(rec.frame(f"sim-{i}-{tick:03d}-{kind}", frame, f"simulated run, browser {i}, tick {tick}"))
    for i, ((every, node), pump) in enumerate(zip(browsers, pumps)):
        frame = pump.delta()
        if frame is not None:
            frames[i].append(rec.frame(f"sim-{i}-099-delta", frame, f"simulated run, browser {i}: its last delta"))
        final = rec.frame(f"sim-{i}-100-snapshot-final", pump.snapshot(), f"simulated run, browser {i}: a fresh snapshot")
        rec.sequences.append({"name": f"simulated-{i}", "interval": float(every), "node": node, "frames": frames[i],
                              "final": final})  # fmt: skip


async def results(rec: Recorder) -> None:
    """Results of commands, made by the command registry, and failures of every code."""
    hub = Hub(asyncio.get_running_loop())
    commands = Commands(hub, None)
    insight = Insight(hub, History(100), Series(), DurationHistogram(), None, weakref.WeakSet(), clock=lambda: T0 + 10)
    hub.subscribe(insight.take)
    commands.insight = insight
    hub.feed(ClusterAttached("alpha", "JobCluster", ((node_info("10.0.0.1"), ev.NODE_INITIALIZED),), (), 0))
    for uid, status, exc in ((21, ev.JOB_FINISHED, None), (22, ev.JOB_TERMINATED, "ValueError: boom"),
                             (23, ev.JOB_CANCELLED, None)):  # fmt: skip
        hub.feed(StatusEvent("alpha", ev.JOB_CREATED, None, job_info(uid, None)))
        hub.feed(StatusEvent("alpha", status, node_info("10.0.0.1", jobs_done=1), job_info(uid, "10.0.0.1", T0 + uid, exc)))
    hub.read()

    async def run(name: str, what: str, message: dict[str, Any], role: str = OPERATOR) -> None:
        rec.frame(name, encode(await commands.execute(message, role=role)), what)

    await run("result-action", "an action's result (ok)",
              {"type": "command", "id": 1, "name": "set_show_job_args", "args": {"value": False}})
    await run("result-query", "a query's result (ok; its value spliced in already encoded)",
              {"type": "command", "id": "q2", "name": "history", "args": {"limit": 10}})
    await run("result-summary", "a query's result (history_summary)",
              {"type": "command", "id": 3, "name": "history_summary", "args": {}})
    await run("result-failed-unknown", "a failed result, from the registry",
              {"type": "command", "id": 4, "name": "no_such_command", "args": {}})
    await run("result-failed-viewer", "a viewer's action refused",
              {"type": "command", "id": 5, "name": "set_show_job_args", "args": {"value": True}}, role=VIEWER)
    await run("error-bad-id", "an error: a command whose id is unusable",
              {"type": "command", "id": None, "name": "history", "args": {}})
    for code in sorted(protocol.ERROR_CODES):
        rec.frame(f"result-failed-{code}", encode(protocol.failed(100, code, f"a {code} failure")), f"a failed result: {code}")
        rec.frame(f"error-{code}", encode(protocol.error(code, f"a {code} error")), f"an error message: {code}")


# -- jobs: job pages, the Jobs view, resubmit, bulk actions (issue 18) ------------------

OUTPUT = "step 1 done\nstep 2: ünïcode\n"
TRACEBACK = 'Traceback (most recent call last):\n  File "job.py", line 3, in compute\nValueError: bad input 7\n'


def keyed(key: int, ip: str | None, start: float | None = None, end: float | None = None, exception: str | None = None,
          job_id: str | None = None, extra: JobEnd | None = None, pinned: str | None = None) -> JobInfo:  # fmt: skip
    """A job as the dispy adapter makes it (issue 18): with its key, created time and, once ended, its JobEnd."""
    job = JobInfo(key, job_id or f"job-{key}", ip, start, end, (key, "x"), {"k": key}, exception, key=key,
                  created=T0 - 10 + key / 100, pinned=pinned)  # fmt: skip
    return job._replace(handle=job, extra=extra)  # the handle: what the recording control's cancel reports ended


def outputs(result: Any = None, traceback: str | None = None) -> JobEnd:
    out = OUTPUT.encode()
    return JobEnd(out, len(OUTPUT), b"warning: slow\n", 14, traceback, len(traceback or ""), result)


class JobsHub:
    """A hub with the history and the jobs feature subscribed as rest.install does, and the job commands."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = Hub(loop)
        self.guard = Guard(self.hub.feed)
        self.insight = Insight(self.hub, History(100), Series(), DurationHistogram(), None, weakref.WeakSet(),
                               clock=lambda: T0 + 10)  # fmt: skip
        self.jobs = JobsFeature(2**20, 2**20, self.guard, history=self.insight.history)
        self.insight.history.links = self.jobs.links
        self.insight.jobs = self.jobs
        self.hub.subscribe(self.insight.take)
        self.hub.subscribe(self.jobs.take)
        self.jobs.want_left(self.hub.read())
        self.control = JobControl(self.hub.feed, self.hub)
        self.commands = Commands(self.hub, self.control)
        self.commands.insight = self.insight
        self.commands.jobs = self.jobs
        self.commands.bulk = BulkRunner(self.commands, clock=lambda: T0 + 20)

    def feed_jobs(self) -> None:
        """Cluster alpha: job 31 queued, 32 running, 33 finished with outputs and a result, 34 failed with a
        traceback, 35 and 36 share an id."""
        hub, a = self.hub, "10.0.0.1"
        hub.feed(ClusterAttached("alpha", "JobCluster", ((node_info(a), ev.NODE_INITIALIZED),), (), 0))
        for key in range(31, 37):
            hub.feed(StatusEvent("alpha", ev.JOB_CREATED, None, keyed(key, None, job_id="twin" if key > 34 else None)))
        for key in range(32, 37):
            hub.feed(StatusEvent("alpha", ev.JOB_RUNNING, node_info(a, busy=1),
                                 keyed(key, a, T0 + key, job_id="twin" if key > 34 else None)))  # fmt: skip
        hub.feed(StatusEvent("alpha", ev.JOB_FINISHED, node_info(a, jobs_done=1),
                             keyed(33, a, T0 + 33, T0 + 40, extra=outputs(result="r" * 5000))))  # fmt: skip
        hub.feed(StatusEvent("alpha", ev.JOB_TERMINATED, node_info(a, jobs_done=2),
                             keyed(34, a, T0 + 34, T0 + 41, "ValueError: bad input 7", extra=outputs(traceback=TRACEBACK))))  # fmt: skip
        for key in (35, 36):
            hub.feed(StatusEvent("alpha", ev.JOB_FINISHED, node_info(a, jobs_done=key - 32),
                                 keyed(key, a, T0 + key, T0 + 42 + key / 100, job_id="twin")))  # fmt: skip
        hub.read()

    def close(self) -> None:
        self.guard.close()
        self.commands.bulk.close()


async def job_results(rec: Recorder) -> None:
    """Results of the job and bulk commands, made by the command registry over the real jobs feature."""
    jh = JobsHub(asyncio.get_running_loop())
    try:
        jh.feed_jobs()
        commands = jh.commands

        async def run(name: str, what: str, message: dict[str, Any], role: str = OPERATOR) -> dict[str, Any]:
            answer = await commands.execute(message, role=role)
            rec.frame(name, encode(answer), what)
            return answer

        await run("result-job", "a job page: the detail of an ended job (outputs, result)",
                  {"type": "command", "id": 40, "name": "job", "args": {"cluster": "alpha", "key": 33}})
        await run("result-job-failed", "a job page: a failed job's traceback",
                  {"type": "command", "id": 41, "name": "job", "args": {"cluster": "alpha", "id": "job-34"}})
        await run("result-job-choices", "a job page: an id that is not unique (choices)",
                  {"type": "command", "id": 42, "name": "job", "args": {"cluster": "alpha", "id": "twin"}})
        await run("result-jobs", "a page of the Jobs view (a frozen selection)",
                  {"type": "command", "id": 43, "name": "jobs", "args": {"limit": 10}})
        await run("result-resubmit-viewer", "a viewer's resubmit refused",
                  {"type": "command", "id": 44, "name": "resubmit", "args": {"cluster": "alpha", "key": 34}}, role=VIEWER)
        await run("result-resubmit", "resubmit: the new job's key and id",
                  {"type": "command", "id": 45, "name": "resubmit", "args": {"cluster": "alpha", "key": 34}})
        await run("result-bulk-preview", "a bulk action's preview",
                  {"type": "command", "id": 46, "name": "bulk_preview",
                   "args": {"action": "terminate", "filter": {"cluster": "alpha"}}})  # fmt: skip
        await run("result-bulk-start", "a bulk action started",
                  {"type": "command", "id": 47, "name": "bulk_start",
                   "args": {"action": "terminate", "filter": {"cluster": "alpha"}}})  # fmt: skip
        act = commands.bulk.get(1)
        await act.task
        await run("result-bulk-outcomes", "a page of a bulk action's outcomes",
                  {"type": "command", "id": 48, "name": "bulk_outcomes", "args": {"action_id": 1}})
        await run("result-bulk-cancel", "a bulk action cancelled (it had ended: its state)",
                  {"type": "command", "id": 49, "name": "bulk_cancel", "args": {"action_id": 1}})
    finally:
        jh.close()


def following_a_job(rec: Recorder, loop: asyncio.AbstractEventLoop) -> None:
    """A browser following a job from queued to ended, with a bulk action's progress (`actions`) meanwhile."""
    jh = JobsHub(loop)
    try:
        hub, a = jh.hub, "10.0.0.1"
        hub.feed(ClusterAttached("alpha", "JobCluster", ((node_info(a), ev.NODE_INITIALIZED),), (), 0))
        hub.feed(StatusEvent("alpha", ev.JOB_CREATED, None, keyed(51, None)))
        hub.feed(StatusEvent("alpha", ev.JOB_RUNNING, node_info(a, busy=1), keyed(51, a, T0 + 51)))
        action = protocol.bulk_action(1, "terminate", "operator@127.0.0.1", {"cluster": "alpha", "states": ["running"]},
                                      100, 0, "running", {}, T0 + 50, None, 7)  # fmt: skip
        hub.feed(BulkChanged(action))
        pump = Pump(hub, 1.0, jobs=jh.jobs, job=("alpha", 51))
        frames = [rec.frame("job-snapshot", pump.snapshot(), "a snapshot of a browser following a running job, "
                            "with a bulk action running (actions)")]  # fmt: skip

        def step(name: str, what: str, *events: Any) -> None:
            for event in events:
                hub.feed(event)
            frame = pump.delta()
            assert frame is not None, name
            frames.append(rec.frame(name, frame, what))

        step("delta-actions", "a bulk action's progress (actions, whole)",
             BulkChanged({**action, "done": 50, "counts": {"terminated": 48, "already_finished": 2}}))
        step("delta-job-ended", "the followed job ended: its detail with outputs and traceback (job), counters, node",
             StatusEvent("alpha", ev.JOB_TERMINATED, node_info(a, jobs_done=1),
                         keyed(51, a, T0 + 51, T0 + 60, "ValueError: bad input 7", extra=outputs(traceback=TRACEBACK))))  # fmt: skip
        step("delta-actions-done", "the bulk action ended",
             BulkChanged({**action, "done": 100, "state": "done", "ended": T0 + 61,
                          "counts": {"terminated": 97, "already_finished": 3}}))  # fmt: skip
        final = rec.frame("job-snapshot-final", pump.snapshot(), "a fresh snapshot of the browser following the job")
        rec.sequences.append({"name": "following-a-job", "interval": pump.view.interval, "node": None,
                              "job": {"cluster": "alpha", "key": 51}, "frames": frames, "final": final})  # fmt: skip
    finally:
        jh.close()


def constants() -> dict[str, Any]:
    closes = {name: {"code": close.code, "reason": close.reason.decode()}
              for name, close in sorted(vars(protocol).items()) if isinstance(close, protocol.Close)}  # fmt: skip
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "min_interval": protocol.MIN_INTERVAL,
        "error_codes": sorted(protocol.ERROR_CODES),
        "refused": sorted(protocol.REFUSED),
        "closes": closes,
        "bad_frame_code": protocol.bad_frame("x").code,
        "output_tail": protocol.OUTPUT_TAIL,
        "result_limit": protocol.RESULT_LIMIT,
        "bulk_max": protocol.BULK_MAX,
        "bulk_preview_rows": protocol.BULK_PREVIEW_ROWS,
        "actions_kept": protocol.ACTIONS_KEPT,
        "jobs_page_max": protocol.JOBS_PAGE_MAX,
        "job_states": list(protocol.JOB_STATES),
        "bulk_actions": list(protocol.BULK_ACTIONS),
        "bulk_outcomes": {k: list(v) for k, v in protocol.BULK_OUTCOMES.items()},
    }


async def build() -> dict[str, bytes]:
    """Every golden file: name -> bytes."""
    rec = Recorder()
    hellos(rec)
    loop = asyncio.get_running_loop()
    uids = simulated._uids
    try:
        snapshot_and_deltas(rec, loop)
        simulated_run(rec, loop)
    finally:
        simulated._uids = uids
    following_a_job(rec, loop)
    fleet_central(rec, loop)
    await results(rec)
    await job_results(rec)
    manifest = {
        "about": f"Golden frames written by backend/tests/test_golden.py; refresh: {REFRESH}",
        "constants": constants(),
        "frames": rec.frames,
        "sequences": rec.sequences,
    }
    rec.files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    return rec.files


async def test_golden_frames_are_what_the_server_sends():
    files = await build()
    if os.environ.get("DISPYMON_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.iterdir():
            if old.name not in files:
                old.unlink()
        for name, data in files.items():
            (GOLDEN / name).write_bytes(data)
    committed = {p.name: p.read_bytes() for p in GOLDEN.iterdir()} if GOLDEN.is_dir() else {}
    stale = sorted(n for n in files.keys() | committed.keys() if files.get(n) != committed.get(n))
    assert not stale, (
        f"the golden frames in {GOLDEN.relative_to(REPO)} differ from what the server sends now: {stale[:8]}"
        f"{' …' if len(stale) > 8 else ''}. If the protocol change is meant, run `{REFRESH}`, "
        "follow it in frontend/src/core (npm test -w frontend) and commit both."
    )


async def test_golden_frames_are_deterministic():
    """Two builds give the same bytes (fixed times, seeds and uids)."""
    assert await build() == await build()


def test_every_error_code_and_close_is_in_the_manifest():
    manifest = json.loads((GOLDEN / MANIFEST).read_text())
    assert set(manifest["constants"]["error_codes"]) == protocol.ERROR_CODES
    assert {f["file"] for f in manifest["frames"]} >= {f"error-{c}.msgpack" for c in protocol.ERROR_CODES}
