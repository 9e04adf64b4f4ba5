"""Faults in a real cluster: a node killed mid-job, a node frozen, a node stuck."""

from __future__ import annotations

import asyncio
import os
import signal

import dispy
import pytest

from dispymon.adapters.dispy import DispyAdapter, DispyControl
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app
from dispymon.model.state import State
from conftest import WSClient, job_result

pytestmark = pytest.mark.cluster


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


@pytest.fixture
async def dashboard(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop(), State(stuck_after=2.0, stale_after=2.5))
    adapter = DispyAdapter(hub.feed)
    config = ServerConfig(poll_sec=0.1, static_dir=static_dir, health_interval=0.25)
    client = await aiohttp_client(create_app(hub, config, DispyControl(adapter)))
    clusters = []

    async def connect() -> WSClient:
        ws = WSClient(await client.ws_connect("/ws"))
        await ws.recv()
        await ws.recv()
        return ws

    def new_cluster(nodes) -> dispy.JobCluster:
        c = dispy.JobCluster(compute, nodes=[n.ip for n in nodes.nodes], host="127.0.0.1", dispy_port=nodes.port_base,
                             setup=setup, pulse_interval=1, loglevel=dispy.logger.CRITICAL)  # fmt: skip
        clusters.append(c)
        adapter.attach(c)
        return c

    yield connect, new_cluster
    for c in clusters:
        await asyncio.to_thread(c.close, 0, True)


async def test_a_node_killed_mid_job_is_shown_closed_with_its_jobs_abandoned(local_nodes, dashboard):
    connect, new_cluster = dashboard
    nodes = local_nodes(2, cpus=1, first=32)
    victim, survivor = nodes.nodes
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()
    jobs = [cluster.submit(30) for _ in range(2)]
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["running"] == 2, what="a job on each node")
    victim.kill()  # SIGKILL, mid-job
    await ws.until(lambda m: m.clusters["compute"]["nodes"][victim.ip]["status"] == "closed", timeout=30,
                   what="the killed node shown closed")  # fmt: skip
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["abandoned"] == 1, timeout=30, what="its job abandoned")
    lost = [j for j in jobs if j.ip_addr == victim.ip]
    assert len(lost) == 1 and lost[0].status == dispy.DispyJob.Abandoned
    c = ws.clusters["compute"]
    assert c["nodes"][survivor.ip]["status"] == "initialized" and c["jobs"]["running"] == 1
    # the dashboard is up: a new browser gets the same state (what this test
    # is about; the survivor's pulses keep changing its avail info and times,
    # which the two browsers may see one delta apart)
    fresh = await connect()

    def settled(m):
        c = m.clusters["compute"]
        return c["jobs"], {ip: (n["status"], n["cpus"], n["jobs_done"]) for ip, n in c["nodes"].items()}

    # the first browser may be one delta behind the new one's snapshot
    await ws.until(lambda m: settled(m) == settled(fresh), timeout=10, what="the same state in both browsers")
    assert settled(fresh)[1][victim.ip][0] == "closed"


async def test_a_frozen_node_goes_stale_and_a_long_busy_node_is_flagged_stuck(local_nodes, dashboard):
    connect, new_cluster = dashboard
    nodes = local_nodes(2, cpus=1, first=34)
    frozen, busy = nodes.nodes
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()

    def node(m, ip):
        return m.clusters.get("compute", {}).get("nodes", {}).get(ip, {})

    await ws.until(lambda m: node(m, frozen.ip).get("avail_info") and node(m, busy.ip).get("avail_info"),
                   what="avail info from both nodes")  # fmt: skip
    # a job that outlasts --stuck-after (2 s) on `busy`: flagged stuck, then cleared when it ends
    job = cluster.submit_node(busy.ip, 4)
    await ws.until(lambda m: node(m, busy.ip).get("stuck"), timeout=15, what="the busy node flagged stuck")
    assert not node(ws, frozen.ip).get("stuck")
    await job_result(job)
    await ws.until(lambda m: not node(m, busy.ip).get("stuck"), timeout=15, what="stuck cleared after the job")
    # freeze the other node: its pulses (and avail info) stop; it goes stale, then recovers
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        await ws.until(lambda m: node(m, frozen.ip).get("stale"), timeout=15, what="the frozen node flagged stale")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    await ws.until(lambda m: not node(m, frozen.ip).get("stale"), timeout=15, what="stale cleared after thawing")
