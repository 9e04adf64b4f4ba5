"""The dashboard's counters against dispy's own objects, on real dispynode processes.

Each figure is compared with what dispy itself reports: the job objects
`submit()` returned, `cluster.status()` (its nodes' jobs done), never with
numbers typed into the test.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import dispy
import pytest

from conftest import job_result, wait_until
from test_httpd import alpha, beta, connect, done, new_cluster, new_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.cluster

ENDED = (dispy.DispyJob.Finished, dispy.DispyJob.Terminated, dispy.DispyJob.Cancelled, dispy.DispyJob.Abandoned)


async def finish(jobs: list) -> None:
    for job in jobs:
        await job_result(job)
        assert job.status == dispy.DispyJob.Finished, job.exception


def nodes_jobs_done(cluster) -> dict[str, int]:
    return {n.ip_addr: n.jobs_done for n in cluster.status().nodes}


def nodes_shown(ws, cluster: str) -> dict[str, int]:
    return {ip: n["jobs_done"] for ip, n in ws.clusters[cluster]["nodes"].items()}


def check_against_dispy(shown: dict, cluster, jobs: list, seen_from_start: bool = True) -> None:
    """A cluster's figures on the page equal dispy's: its job objects and its nodes.

    `seen_from_start`: False when the cluster was attached after jobs ended,
    whose outcomes dispy does not keep (they count in done only)."""
    counts = shown["jobs"]
    assert counts["submitted"] == len(jobs)
    assert counts["done"] == sum(j.status in ENDED for j in jobs)
    finished = sum(j.status == dispy.DispyJob.Finished for j in jobs)
    assert counts["finished"] == finished if seen_from_start else counts["finished"] <= finished
    assert counts["queued"] == counts["running"] == 0
    assert {ip: n["jobs_done"] for ip, n in shown["nodes"].items()} == nodes_jobs_done(cluster)


async def test_the_combined_status_recipe_counts_each_job_once(local_nodes, new_cluster, new_server):
    """The 002 seed: a cluster created with cluster_status=http_server.cluster_status
    is added on its first event. Its jobs' Created events still queued for
    dispy's worker thread then are in dispy's pending jobs already."""
    nodes = local_nodes(2, cpus=2, first=60)
    ips = [n.ip for n in nodes.nodes]
    a = await asyncio.to_thread(new_cluster, alpha, ips)
    server = await asyncio.to_thread(new_server, a, poll_sec=0.1)
    # dispy's worker thread busy (as with any slow status callback) while the
    # second cluster is made and its jobs submitted: their events queue up
    gate = threading.Event()
    a._cluster.worker_Q.put((gate.wait, (60,)))
    try:
        b = await asyncio.to_thread(new_cluster, beta, ips, cluster_status=server.cluster_status)
        b_jobs = await asyncio.to_thread(lambda: [b.submit(0.05) for _ in range(12)])
    finally:
        gate.set()
    a_jobs = await asyncio.to_thread(lambda: [a.submit(0.05) for _ in range(5)])
    await finish(b_jobs + a_jobs)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await ws.until(lambda m: done("beta", 12)(m) and done("alpha", 5)(m), what="both clusters' jobs")
        # a node dispy set up for beta after its jobs ended (both nodes serve both clusters) is
        # in cluster.status() before its status callback reaches the page: wait for that event
        await ws.until(lambda m: nodes_shown(m, "beta") == nodes_jobs_done(b), what="beta's nodes as dispy has them")
        check_against_dispy(ws.clusters["beta"], b, b_jobs)
        check_against_dispy(ws.clusters["alpha"], a, a_jobs)


async def test_the_combined_status_recipe_as_the_seed_writes_it(local_nodes, new_cluster, new_server):
    """The recipe as a program writes it: the second cluster made with the
    server's cluster_status, its jobs submitted at once (before the fix: 13
    submitted, 1 queued for ever, for 12 jobs all Finished)."""
    nodes = local_nodes(2, cpus=2, first=66)
    ips = [n.ip for n in nodes.nodes]
    a = await asyncio.to_thread(new_cluster, alpha, ips)
    server = await asyncio.to_thread(new_server, a, poll_sec=0.1)

    def program():
        b = new_cluster(beta, ips, cluster_status=server.cluster_status)
        return b, [b.submit(0.05) for _ in range(12)]

    b, jobs = await asyncio.to_thread(program)
    await finish(jobs)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await ws.until(done("beta", 12), what="beta's jobs")
        check_against_dispy(ws.clusters["beta"], b, jobs)


async def test_a_server_made_after_jobs_ran_counts_what_dispy_knows(local_nodes, new_cluster, new_server):
    """Attached late, the page agrees with itself: Submitted = Done + Pending,
    Done = the nodes' jobs done added up, from the first snapshot on."""
    nodes = local_nodes(2, cpus=1, first=62)
    cluster = await asyncio.to_thread(new_cluster, alpha, [n.ip for n in nodes.nodes])
    jobs = await asyncio.to_thread(lambda: [cluster.submit(0.3) for _ in range(10)])
    await asyncio.to_thread(wait_until, lambda: sum(nodes_jobs_done(cluster).values()) >= 3, 60, "3 jobs done")
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        first = ws.clusters["alpha"]["jobs"]
        # every job was submitted before the server existed, none was cancelled
        assert first["submitted"] == len(jobs)
        assert first["submitted"] == first["done"] + first["queued"] + first["running"]
        assert first["done"] >= 3 and first["finished"] + first["failed"] <= first["done"]
        await finish(jobs)
        await ws.until(done("alpha", len(jobs)), what="all jobs done")
        shown = ws.clusters["alpha"]
        check_against_dispy(shown, cluster, jobs, seen_from_start=False)
        assert shown["jobs"]["done"] == sum(n["jobs_done"] for n in shown["nodes"].values())


async def test_a_negative_busy_count_is_charted_and_health_goes_on(local_nodes, new_cluster, new_server):
    """dispy's busy count of a node goes below zero in its short-job race: a
    job's reply handled before `run_job` goes on is counted off, and then
    never on (its `_job.job` is gone). That count is set here on dispy's own
    DispyNode, the way the race leaves it; the rest is a real node running a
    real job. The chart takes what dispy says every second, and the node,
    running a job that makes no progress, is still flagged stuck."""
    nodes = local_nodes(1, cpus=2, first=64)
    ip = nodes.nodes[0].ip
    cluster = await asyncio.to_thread(new_cluster, alpha, [ip])
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
    server._hub._state.stuck_after = 2.0  # (set from the test thread, as before) the dashboard's own setting (--stuck-after), shortened
    long_job = await asyncio.to_thread(cluster.submit, 60)
    await asyncio.to_thread(wait_until, lambda: long_job.status == dispy.DispyJob.Running, 60, "the long job running")
    dispy_node = cluster._dispy_nodes[ip]
    dispy_node.busy -= 2  # the race, twice: one job running, dispy counts -1
    await finish([await asyncio.to_thread(cluster.submit, 0.05)])  # an event that carries the node
    assert dispy_node.busy == -1 and long_job.status == dispy.DispyJob.Running
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await ws.until(lambda m: m.clusters["alpha"]["nodes"][ip]["busy"] == dispy_node.busy, what="dispy's busy")
        await ws.until(lambda m: m.clusters["alpha"]["nodes"][ip]["stuck"], what="the node flagged stuck")

        async def charted() -> bool:
            for params in ({"cluster": "alpha", "node": ip}, {"cluster": "alpha"}):
                async with session.get(server.url + "api/series", params=params) as response:
                    if (await response.json())["busy"][-1] != dispy_node.busy:
                        return False
            return True

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await charted():
            assert loop.time() < deadline, "the chart never showed dispy's busy count"
            await asyncio.sleep(0.1)  # polling the REST API, not a synchronisation
        assert server._hub.failures.counts() == {}
