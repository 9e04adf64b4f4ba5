"""Real dispynode processes, a real dispy JobCluster, a real WebSocket."""

from __future__ import annotations

import asyncio

import dispy
import pytest

from dispymon.adapters.dispy import DispyAdapter
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app
from conftest import WSClient, job_result

pytestmark = pytest.mark.cluster


def setup():
    # jobs that go through `setup` avoid dispynode 4.15.2's short-job race
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


@pytest.fixture
async def dashboard(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop())
    adapter = DispyAdapter(hub.feed, defer=True, patch_queue=True)  # as `dispymon serve` attaches
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.1, static_dir=static_dir)))
    clusters = []

    async def connect() -> WSClient:
        ws = WSClient(await client.ws_connect("/ws"))
        await ws.recv()
        await ws.recv()
        return ws

    yield hub, adapter, connect, clusters
    for c in clusters:
        await asyncio.to_thread(c.close, 0, True)


async def test_n_jobs_final_state_matches_dispy(local_nodes, dashboard):
    hub, adapter, connect, clusters = dashboard
    nodes = local_nodes(2, cpus=2)
    ws = await connect()
    cluster = await asyncio.to_thread(new_cluster, nodes)
    clusters.append(cluster)
    adapter.attach(cluster)
    n = 24
    jobs = [cluster.submit(0.05) for _ in range(n)]
    assert all(jobs)
    for job in jobs:
        await job_result(job)  # waits for the job's result
    status = await asyncio.to_thread(cluster.status)
    want = {node.ip_addr: node.jobs_done for node in status.nodes}
    assert sum(want.values()) == n

    def settled(m) -> bool:
        c = m.clusters.get("compute")
        return bool(c) and c["jobs"]["done"] == n and all(x["busy"] == 0 for x in c["nodes"].values())

    await ws.until(settled, timeout=30, what=f"{n} jobs done and nodes idle")
    c = ws.clusters["compute"]
    assert {ip: x["jobs_done"] for ip, x in c["nodes"].items()} == want
    assert c["jobs"] == dict(submitted=n, queued=0, running=0, done=n, finished=n, failed=0,
                             cancelled=0, terminated=0, abandoned=0)  # fmt: skip
    assert all(x["status"] == "initialized" and x["cpus"] == 2 for x in c["nodes"].values())
    assert ws.clusters == hub.read().snapshot()[0]["clusters"]
    # the nodes have psutil: their avail info arrives with the pulses (1 s)
    await ws.until(lambda m: all(x["avail_info"] for x in m.clusters["compute"]["nodes"].values()),
                   timeout=20, what="avail info from every node")  # fmt: skip
    for x in ws.clusters["compute"]["nodes"].values():
        info = x["avail_info"]
        assert 0 <= info["cpu"] <= 100 and info["memory"] > 0 and info["disk"] > 0 and 0 <= info["swap"] <= 100


async def test_failed_and_terminated_jobs_are_told_apart(local_nodes, dashboard):
    hub, adapter, connect, clusters = dashboard
    nodes = local_nodes(1, cpus=2, first=6)
    cluster = await asyncio.to_thread(new_cluster, nodes)
    clusters.append(cluster)
    adapter.attach(cluster)
    ws = await connect()
    failing = cluster.submit(0.05, fail=True)
    long = cluster.submit(60)
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["running"] >= 1 and long.status == dispy.DispyJob.Running,
                   what="the long job running")  # fmt: skip
    assert await asyncio.to_thread(cluster.cancel, long) == 0
    await asyncio.to_thread(failing)
    await asyncio.to_thread(long)
    assert failing.exception and "ValueError" in failing.exception
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["done"] == 2, what="both jobs done")
    jobs = ws.clusters["compute"]["jobs"]
    assert (jobs["failed"], jobs["terminated"], jobs["finished"], jobs["running"]) == (1, 1, 0, 0)


async def test_nodes_initialised_before_attach_are_seeded(local_nodes, dashboard):
    hub, adapter, connect, clusters = dashboard
    nodes = local_nodes(2, cpus=1, first=8)
    cluster = await asyncio.to_thread(new_cluster, nodes)
    clusters.append(cluster)
    # run a job so both nodes have surely initialised, with nobody listening
    for job in [cluster.submit(0.05) for _ in range(4)]:
        await job_result(job)
    status = await asyncio.to_thread(cluster.status)
    assert len(status.nodes) == 2
    adapter.attach(cluster)
    ws = await connect()
    await ws.until(lambda m: len(m.clusters.get("compute", {}).get("nodes", {})) == 2, what="seeded nodes")
    c = ws.clusters["compute"]
    assert {ip: x["jobs_done"] for ip, x in c["nodes"].items()} == {n.ip_addr: n.jobs_done for n in status.nodes}
