"""`dispymon.publish(...)` and `DispyHTTPServer(..., broker=...)` / $DISPYMON_BROKER, in a real dispy program."""

from __future__ import annotations

import asyncio

import dispy
import pytest

import dispymon
from dispymon.entry.httpd import DispyHTTPServer
from dispymon.fleet.broker import BrokerError
from fleettools import central_factory, dispy_jobs_record, jobs_of, redis_server  # noqa: F401

pytestmark = pytest.mark.cluster


def setup():
    return 0


def compute(seconds, fail=False):
    import time

    time.sleep(seconds)
    if fail:
        raise ValueError("failing on purpose")
    return seconds


def new_cluster(nodes) -> dispy.JobCluster:
    return dispy.JobCluster(
        compute, nodes=[n.ip for n in nodes.nodes], host="127.0.0.1", dispy_port=nodes.port_base,
        setup=setup, pulse_interval=1, loglevel=dispy.logger.WARNING,
    )  # fmt: skip


def run_jobs(cluster: dispy.JobCluster, n: int) -> dict:
    jobs = [cluster.submit(0.1, fail=i % 4 == 0) for i in range(n)]
    for job in jobs:
        job()
    failed = sum(1 for j in jobs if j.status == dispy.DispyJob.Terminated and j.exception)
    finished = sum(1 for j in jobs if j.status == dispy.DispyJob.Finished)
    return {"submitted": n, "finished": finished, "failed": failed, "terminated": 0, "cancelled": 0, "abandoned": 0}


async def test_publish_a_cluster_with_no_dashboard(redis_server, central_factory, local_nodes) -> None:  # noqa: F811
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    nodes = local_nodes(2, cpus=2, first=6)
    cluster = new_cluster(nodes)
    try:
        publication = await asyncio.to_thread(dispymon.publish, cluster, broker=redis_server.url, program="lab-P")
        try:
            assert publication.program == "lab-P"
            counts = await asyncio.to_thread(run_jobs, cluster, 12)
            await ws.until(lambda w: jobs_of(w, "lab-P/compute") == dispy_jobs_record(counts), 60, "counts = dispy's")
            assert ws.clusters["lab-P/compute"]["program"] == "lab-P"
            await asyncio.to_thread(publication.del_cluster, cluster)
            await ws.until(lambda w: "lab-P/compute" not in w.clusters, 30, "the cluster gone from the central")
        finally:
            await asyncio.to_thread(publication.close)

        def stopped(w) -> bool:
            snap = [m for m in w.messages if m["type"] == "snapshot"][-1]
            return snap["fleet"]["programs"]["lab-P"]["stopped"] is True

        await ws.until(stopped, 30, "the program shown stopped")
    finally:
        await asyncio.to_thread(cluster.close, 0, True)


async def test_the_drop_in_publishes_with_the_environment(redis_server, central_factory, local_nodes, monkeypatch) -> None:  # noqa: F811,E501
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    monkeypatch.setenv("DISPYMON_BROKER", redis_server.url)
    monkeypatch.setenv("DISPYMON_PROGRAM", "lab-D")
    nodes = local_nodes(2, cpus=2, first=6)
    cluster = new_cluster(nodes)
    server = await asyncio.to_thread(DispyHTTPServer, cluster, host="127.0.0.1", port=0)
    try:
        counts = await asyncio.to_thread(run_jobs, cluster, 8)
        await ws.until(lambda w: jobs_of(w, "lab-D/compute") == dispy_jobs_record(counts), 60, "counts = dispy's")
    finally:
        await asyncio.to_thread(server.shutdown)
        await asyncio.to_thread(cluster.close, 0, True)


def test_publish_with_a_refused_login_raises_one_line(redis_server) -> None:  # noqa: F811
    url = redis_server.url.replace("redis://", "redis://nobody:wrong-pw@")
    with pytest.raises(BrokerError) as err:
        dispymon.publish(None, broker=url, program="lab-X")
    assert "\n" not in str(err.value) and "wrong-pw" not in str(err.value)
