"""Outages: Redis stopped while jobs run, a central restarted, a program SIGKILLed (real redis-server, real dispynode)."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import WSClient, wait_until
from fleettools import central_factory, dispy_jobs_record, jobs_of, programs, redis_server  # noqa: F401

pytestmark = pytest.mark.cluster


def cluster_of(ws: WSClient, program: str) -> str:
    names = [n for n, c in ws.clusters.items() if c and c.get("program") == program]
    if len(names) != 1:
        raise KeyError(f"{program}'s clusters: {names}")  # not (yet) one: `until` waits
    return names[0]


def fleet(ws: WSClient) -> dict:
    return [m for m in ws.messages if m["type"] == "snapshot"][-1]["fleet"]


def some_done(ws: WSClient, program: str) -> bool:
    return jobs_of(ws, cluster_of(ws, program))["done"] > 0


async def test_redis_stopped_while_jobs_run(redis_server, programs, central_factory) -> None:  # noqa: F811
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    # about 10 s of work on each program's 4 slots
    a = programs("lab-A", first=2, jobs=80, fail_every=7, seconds=0.5)
    b = programs("lab-B", first=4, jobs=80, fail_every=9, seconds=0.5)
    await ws.until(lambda w: some_done(w, "lab-A") and some_done(w, "lab-B"), 60, "both programs running jobs")
    redis_server.stop()  # by PID, while the jobs run
    await ws.until(lambda w: fleet(w)["reachable"] is False, 30, "the page saying the broker is unreachable")
    # the programs go on without Redis: their workloads end while it is down
    dispy_a, dispy_b = a.dispy_counts(), b.dispy_counts()
    assert not redis_server.alive()
    assert dispy_a["submitted"] == dispy_b["submitted"] == 80 and dispy_a["failed"] > 0
    # during the outage the central still shows the last state it had, short of the end
    assert jobs_of(ws, cluster_of(ws, "lab-A")) != dispy_jobs_record(dispy_a)
    redis_server.start()  # the same port, empty (no persistence): the programs publish snapshots again

    def right(w: WSClient) -> bool:
        return (
            fleet(w)["reachable"] is True
            and jobs_of(w, cluster_of(w, "lab-A")) == dispy_jobs_record(dispy_a)
            and jobs_of(w, cluster_of(w, "lab-B")) == dispy_jobs_record(dispy_b)
        )

    await ws.until(right, 60, "every count right after Redis returns")
    assert {p: v["online"] for p, v in fleet(ws)["programs"].items()} == {"lab-A": True, "lab-B": True}


async def test_a_restarted_central_catches_up(redis_server, programs, central_factory) -> None:  # noqa: F811
    first = await central_factory(redis_server.url)
    ws = await first.connect()
    a = programs("lab-A", first=2, jobs=40, fail_every=6, seconds=0.4)
    await ws.until(lambda w: some_done(w, "lab-A"), 60, "jobs done")
    await ws.ws.close()
    await first.stop()
    dispy_a = a.dispy_counts()  # the workload ends while no central runs
    second = await central_factory(redis_server.url)
    ws2 = await second.connect()
    await ws2.until(lambda w: jobs_of(w, cluster_of(w, "lab-A")) == dispy_jobs_record(dispy_a), 60, "counts = dispy's")


async def test_a_sigkilled_program_is_shown_offline_then_forgotten(redis_server, programs, central_factory) -> None:  # noqa: F811
    central = await central_factory(redis_server.url, offline_after=3.0, forget_after=6.0)
    ws = await central.connect()
    a = programs("lab-A", first=2, jobs=4, fail_every=0)
    b = programs("lab-B", first=4, jobs=4, fail_every=0)
    a.dispy_counts(), b.dispy_counts()
    await ws.until(lambda w: set(fleet(w)["programs"]) == {"lab-A", "lab-B"}, 60, "both programs")
    os.kill(a.proc.pid, signal.SIGKILL)
    wait_until(lambda: a.proc.poll() is not None, 30, "the program gone")

    def offline(w: WSClient) -> bool:
        p = fleet(w)["programs"]["lab-A"]
        return p["online"] is False and p["offline_since"] is not None and not p["stopped"]

    await ws.until(offline, 30, "lab-A offline")
    assert fleet(ws)["programs"]["lab-B"]["online"] is True
    assert cluster_of(ws, "lab-A")  # its clusters stay, with their last counts, while it is offline
    await ws.until(lambda w: "lab-A" not in fleet(w)["programs"], 30, "lab-A forgotten after --forget-after")
    assert [c.get("program") for c in ws.clusters.values()] == ["lab-B"]
