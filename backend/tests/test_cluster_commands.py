"""Commands against real dispynode processes: terminate, add, CPUs, (de)allocate, close."""

from __future__ import annotations

import asyncio
import itertools
import sys

import dispy
import pytest

from dispymon.adapters.dispy import DispyAdapter, DispyControl
from dispymon.entry.appmodule import play_main
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app
from conftest import WSClient, job_result

pytestmark = pytest.mark.cluster


def setup():
    return 0


def compute(seconds, obj=None, label=""):
    import time

    time.sleep(seconds)
    return seconds


class Readable:
    def __init__(self, n):
        self.n = n

    def __str__(self):
        return f"Readable({self.n})"


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")


# as `dispymon serve` does for a cluster module: let these classes travel to
# the nodes as `__main__` classes (dispy defines `depends` classes there)
play_main(sys.modules[__name__])


@pytest.fixture
def add_node_wait() -> float:
    """How long an added node may take to initialise (a test may parametrize it shorter)."""
    return 30


@pytest.fixture
async def dashboard(aiohttp_client, static_dir, add_node_wait):
    hub = Hub(asyncio.get_running_loop())
    adapter = DispyAdapter(hub.feed)
    config = ServerConfig(poll_sec=0.05, static_dir=static_dir, add_node_wait=add_node_wait)
    client = await aiohttp_client(create_app(hub, config, DispyControl(adapter)))
    clusters: list = []
    ids = itertools.count(1)

    async def connect() -> WSClient:
        ws = WSClient(await client.ws_connect("/ws"))
        await ws.recv()
        await ws.recv()
        return ws

    async def call(ws: WSClient, name: str, **args):
        cid = next(ids)
        await ws.send({"type": "command", "id": cid, "name": name, "args": args})
        await ws.until(lambda m: cid in m.results, timeout=30, what=f"result of {name}", fresh=False)
        return ws.results[cid]

    def new_cluster(nodes: list[str], port: int, **kwargs) -> dispy.JobCluster:
        c = dispy.JobCluster(compute, nodes=nodes, host="127.0.0.1", dispy_port=port, setup=setup,
                             depends=[Readable, Unprintable], pulse_interval=1,
                             loglevel=dispy.logger.WARNING, **kwargs)  # fmt: skip
        clusters.append(c)
        adapter.attach(c)
        return c

    yield hub, connect, call, new_cluster
    for c in clusters:
        await asyncio.to_thread(c.close, 0, True)


async def wait_running(jobs, count: int, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum(j.status == dispy.DispyJob.Running for j in jobs) < count:
        assert loop.time() < deadline, "jobs did not start"
        await asyncio.sleep(0.05)  # poll dispy's own job status (a condition, not a delay)


async def test_node_page_jobs_and_terminate(local_nodes, dashboard):
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(1, cpus=2, first=18)
    ip = nodes.nodes[0].ip
    cluster = await asyncio.to_thread(new_cluster, [ip], nodes.port_base)
    monitor, page = await connect(), await connect()
    await page.send({"type": "view", "node": ip})
    jobs = [cluster.submit(60, Readable(1), label="first"), cluster.submit(60, Unprintable()), cluster.submit(60)]
    for i, job in enumerate(jobs):
        job.id = f"job-{i}"
    await wait_running(jobs, 2)  # two CPUs: the third job waits in the queue
    # a job's texts are user code, made off the loop: '…' until a later delta brings them
    await page.until(
        lambda m: m.node_jobs
        and len(m.node_jobs["jobs"]) == 2
        and all("…" not in (j["id"], j["args"], j["kwargs"]) for j in m.node_jobs["jobs"].values()),
        what="2 running jobs on the node page, their texts made",
    )
    shown = {j["id"]: j for j in page.node_jobs["jobs"].values()}
    assert set(shown) == {"job-0", "job-1"}
    assert shown["job-0"]["args"] == "60, Readable(1)" and shown["job-0"]["kwargs"] == "label=first"
    assert shown["job-1"]["args"] == "60, <unprintable Unprintable: __str__ raised RuntimeError>"
    assert all(j["ip_addr"] == ip and j["start_time"] for j in shown.values())

    uids = [shown["job-0"]["uid"], shown["job-1"]["uid"]]
    result = await call(page, "terminate_jobs", uids=[*uids, 12345])
    assert result["value"]["results"] == {str(uids[0]): "terminated", str(uids[1]): "terminated", "12345": "not_found"}
    for job in jobs[:2]:
        await job_result(job)  # dispy hands the terminated jobs back
        assert job.status == dispy.DispyJob.Terminated
    # the terminated jobs leave the list; the queued one takes their place
    await page.until(lambda m: [j["id"] for j in m.node_jobs["jobs"].values()] == ["job-2"], what="terminated jobs leaving")
    await monitor.until(lambda m: m.clusters["compute"]["jobs"]["terminated"] == 2, what="terminated counted as done")
    assert monitor.clusters["compute"]["jobs"]["done"] == 2
    assert monitor.node_jobs is None
    assert not any(msg.get("node_jobs") for msg in monitor.messages)  # job details only go to node pages
    again = await call(page, "terminate_jobs", uids=uids[:1])
    assert again["value"]["results"] == {str(uids[0]): "already_finished"}


def max_concurrency(jobs, ip: str) -> int:
    spans = sorted((j.start_time, j.end_time) for j in jobs if j.ip_addr == ip)
    best = 0
    for start, _ in spans:
        best = max(best, sum(1 for s, e in spans if s <= start < e))
    return best


async def run_batch(cluster, count: int, seconds: float = 0.3):
    jobs = [cluster.submit(seconds) for _ in range(count)]
    for job in jobs:
        await job_result(job)
        assert job.status == dispy.DispyJob.Finished, job.exception
    return jobs


async def test_manage_nodes_on_a_real_cluster(local_nodes, dashboard):
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(2, cpus=2, first=14)
    a, b = (n.ip for n in nodes.nodes)
    cluster = await asyncio.to_thread(new_cluster, [a, b], nodes.port_base)
    ws = await connect()
    await run_batch(cluster, 4)  # both nodes initialised and used
    await ws.until(lambda m: len(m.clusters["compute"]["nodes"]) == 2, what="two nodes")

    # a third node, started after the cluster, added through the command
    c_node = nodes.add("127.0.0.16", cpus=2)
    added = await call(ws, "add_node", host=c_node.ip, cpus=2, cluster="compute")
    assert added["ok"], added

    def audit_state(m, entry):
        return next((e["state"] for e in m.audit if e["id"] == entry), None)

    await ws.until(lambda m: audit_state(m, added["value"]["audit_id"]) == "ok", timeout=40, what="added node ok")
    jobs = await run_batch(cluster, 12)
    assert c_node.ip in {j.ip_addr for j in jobs}, "the added node took no job"

    # CPUs of a from 2 to 1: at most one job at a time there afterwards
    result = await call(ws, "set_node_cpus", ip=a, cpus=1)
    assert result["value"] == {"cpus": {"compute": 1}}
    await ws.until(lambda m: m.clusters["compute"]["nodes"][a]["cpus"] == 1, what="CPUs shown")
    jobs = await run_batch(cluster, 12)
    assert max_concurrency(jobs, a) == 1

    # deallocate b: no new job there; allocate it again: it works again
    assert (await call(ws, "deallocate_node", ip=b))["ok"]
    await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "deallocated", what="deallocated")
    jobs = await run_batch(cluster, 10)
    assert b not in {j.ip_addr for j in jobs}
    assert (await call(ws, "allocate_node", ip=b))["ok"]
    await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "initialized", what="allocated")
    jobs = await run_batch(cluster, 16)
    assert b in {j.ip_addr for j in jobs}

    # close b: shown closed at once, no job there after, re-allocation refused
    assert (await call(ws, "close_node", ip=b))["ok"]
    await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "closed", what="closed")
    jobs = await run_batch(cluster, 10)
    assert b not in {j.ip_addr for j in jobs}
    refused = await call(ws, "allocate_node", ip=b)
    assert refused["error"]["code"] == "not_allowed"
    assert [e["action"] for e in ws.audit] == [
        "add_node", "set_node_cpus", "deallocate_node", "allocate_node", "close_node"]  # fmt: skip


async def test_adding_a_host_where_no_node_runs_fails_after_the_wait(local_nodes, dashboard, static_dir):
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(1, cpus=1, first=19)
    await asyncio.to_thread(new_cluster, [nodes.nodes[0].ip], nodes.port_base)
    ws = await connect()
    bad = await call(ws, "add_node", host="no-such-host.invalid")
    assert bad["error"]["code"] == "not_found" and "cannot resolve" in bad["error"]["message"]
    await ws.until(lambda m: m.audit and m.audit[-1]["state"] == "failed", what="failed audit entry")
    assert ws.audit[-1]["target"] == "no-such-host.invalid"


def audit_entry(m, entry_id: int) -> dict | None:
    return next((e for e in m.audit if e["id"] == entry_id), None)


async def test_a_closed_node_stays_closed_when_another_node_is_added(local_nodes, dashboard):
    """dispy's allocate_node sets up again every known node that is not in use by
    the cluster and matches its node specs: a closed node included."""
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(2, cpus=2, first=80)
    a, b = (n.ip for n in nodes.nodes)
    cluster = await asyncio.to_thread(new_cluster, [a, b, "127.0.0.82"], nodes.port_base)
    ws = await connect()
    jobs = await run_batch(cluster, 8)
    assert {j.ip_addr for j in jobs} == {a, b}

    assert (await call(ws, "close_node", ip=b))["ok"]
    await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "closed", what="b closed")
    # a third node, added by its address once b is closed
    c_node = nodes.add("127.0.0.82", cpus=2)
    added = await call(ws, "add_node", host=c_node.ip, cluster="compute")
    assert added["ok"], added
    await ws.until(lambda m: (audit_entry(m, added["value"]["audit_id"]) or {}).get("state") == "ok",
                   timeout=40, what="c joined")  # fmt: skip
    jobs = await run_batch(cluster, 16)
    ran_on = {j.ip_addr for j in jobs}  # dispy's own record of where each job ran
    assert c_node.ip in ran_on
    assert b not in ran_on, "the closed node took jobs again"
    assert ws.clusters["compute"]["nodes"][b]["status"] == "closed"
    # adding the closed node itself is refused (dispy would re-enable it without the computation)
    again = await call(ws, "add_node", host=b, cluster="compute")
    assert again["error"]["code"] == "not_allowed", again
    assert b not in {j.ip_addr for j in await run_batch(cluster, 8)}


@pytest.mark.parametrize("add_node_wait", [1.0])
async def test_an_added_node_that_joins_after_the_wait_is_shown_joined(local_nodes, dashboard, add_node_wait):
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(1, cpus=1, first=84)
    late_ip = "127.0.0.85"
    cluster = await asyncio.to_thread(new_cluster, [nodes.nodes[0].ip], nodes.port_base)
    ws = await connect()
    added = await call(ws, "add_node", host=late_ip, cluster="compute")
    entry = added["value"]["audit_id"]
    await ws.until(lambda m: audit_entry(m, entry)["state"] == "failed", what="the wait running out")
    assert "within 1 s" in audit_entry(ws, entry)["message"]

    nodes.add(late_ip, cpus=1)  # the node starts after the wait ran out
    # dispy still has the address in its node specs: it takes the node when it announces itself
    await ws.until(lambda m: late_ip in m.clusters["compute"]["nodes"], timeout=60, what="the late node joining")
    jobs = await run_batch(cluster, 8)
    assert late_ip in {j.ip_addr for j in jobs}, "dispy did not use the late node"
    await ws.until(lambda m: audit_entry(m, entry)["state"] == "ok", what="the entry turning ok")
    shown = audit_entry(ws, entry)
    assert shown["message"].startswith(f"node {late_ip} joined ") and "after it was added" in shown["message"]
    assert "after the 1 s wait" in shown["message"]


async def test_a_closed_node_the_program_itself_takes_back_is_told_in_the_audit_log(local_nodes, dashboard):
    """dispymon keeps its own and the program's node specs from re-admitting a
    closed node; a spec the program adds afterwards (here a wildcard) can: the
    dashboard shows what dispy did and the audit log says the close did not hold."""
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(2, cpus=2, first=86)
    a, b = (n.ip for n in nodes.nodes)
    cluster = await asyncio.to_thread(new_cluster, [a, b], nodes.port_base)
    ws = await connect()
    await run_batch(cluster, 4)
    assert (await call(ws, "close_node", ip=b))["ok"]
    await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "closed", what="b closed")
    # The program's own call. dispy's setup of a node it closed a moment ago can
    # fail ("Transfer of computation ... failed": the node is still closing);
    # each call tries again.
    for attempt in range(10):
        assert await asyncio.to_thread(cluster.allocate_node, "127.0.0.*") == 0
        try:
            await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "initialized", timeout=5,
                           what="b set up again")  # fmt: skip
            break
        except AssertionError:
            assert attempt < 9, "dispy never took b back"
    jobs = await run_batch(cluster, 16)
    assert b in {j.ip_addr for j in jobs}, "dispy did not take b back"  # so the entry below is the truth
    await ws.until(lambda m: any(e["action"] == "node_reopened" for e in m.audit), what="the audit entry")
    entry = next(e for e in ws.audit if e["action"] == "node_reopened")
    assert (entry["target"], entry["cluster"], entry["state"], entry["who"]) == (b, "compute", "failed", None)


async def test_a_deallocated_node_stays_deallocated_when_another_node_is_added(local_nodes, dashboard):
    """The same dispy path (allocate_node -> add_cluster) would set up a deallocated node again."""
    hub, connect, call, new_cluster = dashboard
    nodes = local_nodes(2, cpus=2, first=90)
    a, b = (n.ip for n in nodes.nodes)
    cluster = await asyncio.to_thread(new_cluster, [a, b, "127.0.0.92"], nodes.port_base)
    ws = await connect()
    assert {j.ip_addr for j in await run_batch(cluster, 8)} == {a, b}
    assert (await call(ws, "deallocate_node", ip=b))["ok"]
    c_node = nodes.add("127.0.0.92", cpus=2)
    added = await call(ws, "add_node", host=c_node.ip, cluster="compute")
    await ws.until(lambda m: (audit_entry(m, added["value"]["audit_id"]) or {}).get("state") == "ok",
                   timeout=40, what="c joined")  # fmt: skip
    ran_on = {j.ip_addr for j in await run_batch(cluster, 16)}
    assert c_node.ip in ran_on
    assert b not in ran_on, "the deallocated node took jobs again"
    assert ws.clusters["compute"]["nodes"][b]["status"] == "deallocated"
    # Allocate (the explicit way back) still works
    assert (await call(ws, "allocate_node", ip=b))["ok"]
    assert b in {j.ip_addr for j in await run_batch(cluster, 16)}
