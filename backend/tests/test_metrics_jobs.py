"""/metrics: what ended jobs leave in memory and the guard, as the jobs feature counts them (a real app)."""

from __future__ import annotations

import asyncio

from test_metrics import parse

from dispymon.features.metrics import DurationHistogram, render
from dispymon.features.rest import JOBS
from dispymon.model import events as ev
from dispymon.model.details import detail_cost
from dispymon.model.events import ClusterAttached, JobEnd, JobInfo, StatusEvent
from dispymon.model.state import State
from dispymon.runtime.hub import Hub
from dispymon.transport.server import COMMANDS, ServerConfig, Stats, create_app


class Slow:
    def __repr__(self) -> str:
        return "Slow()"


async def test_kept_outputs_and_arguments_and_the_guard_in_metrics(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop())
    app = create_app(hub, ServerConfig(static_dir=static_dir, outputs_budget=10_000_000, resubmit_budget=1_000_000))
    client = await aiohttp_client(app)
    jobs = app[JOBS]
    assert app[COMMANDS].jobs is jobs
    hub.feed(ClusterAttached("c", "JobCluster", (), (), 0))
    running = JobInfo(1, "j1", "127.0.0.2", 10.0, None, (Slow(),), {}, None, None, 7, 9.0)
    hub.feed(StatusEvent("c", ev.JOB_CREATED, None, running._replace(ip_addr=None, start_time=None)))
    hub.feed(StatusEvent("c", ev.JOB_RUNNING, None, running))
    end = JobEnd(b"out" * 1000, 3000, None, 0, None, 0, result=Slow())
    hub.feed(StatusEvent("c", ev.JOB_FINISHED, None, running._replace(end_time=11.0, args=(), extra=end)))
    await hub.settle()
    # the result's repr comes back from the guard's worker through the hub
    for _ in range(600):
        hub.read()
        held = jobs.details.get(7)
        if held is not None and held.result is not None and jobs.payload(7) is not None:
            break
        await asyncio.sleep(0.05)
    assert jobs.details.get(7).result == "Slow()"
    assert jobs.args.used > 0  # the arguments, pickled on the guard's worker from State.left
    assert end.stdout is None and end.result is None  # the history's event holds no outputs
    r = await client.get("/metrics")
    m = parse(await r.text())

    def value(family, sample=None):
        return m[family]["samples"][(sample or family, ())]

    assert value("dispymon_outputs_bytes") == jobs.details.used == detail_cost(jobs.details.get(7)) > 3000
    assert value("dispymon_resubmit_args_bytes") == jobs.args.used
    assert value("dispymon_job_details_kept") == 1
    assert value("dispymon_guard_stuck_threads") == 0
    assert value("dispymon_job_details_evicted", "dispymon_job_details_evicted_total") == 0
    assert m["dispymon_outputs_bytes"]["type"] == "gauge"
    detail = jobs.detail(hub.read(), "c", 7)
    assert (detail["stdout_len"], detail["result"], detail["state"]) == (3000, "Slow()", "finished")


def test_the_history_databases_new_families_when_the_store_reports_them():
    store = {"healthy": True, "rows_written": 1, "errors": 0, "dropped": 0, "reopened": 0, "queued": 0,
             "bytes": 123456, "details_kept": 4, "details_dropped": 2}  # fmt: skip
    m = parse(render(State(), DurationHistogram(), Stats(), 0, 0, store))
    assert m["dispymon_history_db_bytes"]["samples"][("dispymon_history_db_bytes", ())] == 123456
    assert m["dispymon_history_db_details_kept"]["samples"][("dispymon_history_db_details_kept", ())] == 4
    dropped = m["dispymon_history_db_details_dropped"]["samples"]
    assert dropped[("dispymon_history_db_details_dropped_total", ())] == 2
