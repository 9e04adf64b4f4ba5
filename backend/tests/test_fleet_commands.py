"""Commands from a central reach the owning program through Redis, and are answered exactly once."""

from __future__ import annotations

import os
import signal

import dispy
import pytest

from conftest import WSClient
from fleettools import central_factory, dispy_jobs_record, jobs_of, programs, redis_server  # noqa: F401

pytestmark = pytest.mark.cluster


async def long_jobs_running(ws: WSClient, program, count: int) -> dict[int, str]:
    """uid -> id of the program's long jobs, as the central shows them running on its nodes (views of each node)."""
    found: dict[int, str] = {}
    ips = [n.ip for n in program.nodes.nodes]

    def seen(ws: WSClient) -> bool:
        jobs = (ws.node_jobs or {}).get("jobs") or {}
        for job in jobs.values():
            if str(job["id"]).startswith("long-"):
                found[job["uid"]] = job["id"]
        return len(found) >= count

    for turn in range(40):
        await ws.send({"type": "view", "node": ips[turn % len(ips)]})
        try:
            await ws.until(seen, 3, "long jobs running")
            return found
        except AssertionError:
            continue
    raise AssertionError(f"long jobs not seen running: {found}")


async def test_terminate_from_the_central(redis_server, programs, central_factory) -> None:  # noqa: F811
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    lab = programs("lab-A", first=2, jobs=6, fail_every=0, long_jobs=2)
    long = await long_jobs_running(ws, lab, 2)
    await ws.send({"type": "command", "id": 1, "name": "terminate_jobs", "args": {"uids": sorted(long)}})
    await ws.until(lambda w: 1 in w.results, 60, "the terminate result", fresh=False)
    result = ws.results[1]
    assert result["ok"], result
    assert set(result["value"]["results"].values()) == {"terminated"}, result
    # dispy itself says so: the workload ends (its long jobs were killed) and its job objects are Terminated
    counts = lab.dispy_counts()
    assert [counts["statuses"][i] for i in sorted(long.values())] == [dispy.DispyJob.Terminated] * 2
    assert counts["terminated"] == 2
    await ws.until(lambda w: jobs_of(w, next(iter(w.clusters))) == dispy_jobs_record(counts), 60, "counts = dispy's")
    # the central audited it
    await ws.until(lambda w: any(e["action"] == "terminate_jobs" and e["state"] == "ok" for e in w.audit), 30, "audit")


async def test_a_program_that_does_not_answer_is_a_timeout(redis_server, programs, central_factory) -> None:  # noqa: F811
    central = await central_factory(redis_server.url, command_timeout=3.0, offline_after=120.0)
    ws = await central.connect()
    lab = programs("lab-B", first=4, jobs=0, long_jobs=1)
    long = await long_jobs_running(ws, lab, 1)
    os.kill(lab.proc.pid, signal.SIGSTOP)  # the program is there, but answers nothing
    try:
        await ws.send({"type": "command", "id": 2, "name": "terminate_jobs", "args": {"uids": list(long)}})
        await ws.until(lambda w: 2 in w.results, 30, "the terminate result", fresh=False)
    finally:
        os.kill(lab.proc.pid, signal.SIGCONT)
    assert ws.results[2]["value"]["results"] == {str(uid): "timeout" for uid in long}
    # exactly once: nothing more comes for that command once the program answers again, and the
    # program does not run a request past its deadline (its long job is still running)
    await ws.send({"type": "view", "node": None})
    await ws.until(lambda w: jobs_of(w, next(iter(w.clusters)))["running"] == 1, 30, "the long job still running")
    assert [m for m in ws.messages if m.get("type") == "result" and m.get("id") == 2] == [ws.results[2]]
    assert not lab.out.exists()  # the workload still waits for its long job: dispy did not terminate it
