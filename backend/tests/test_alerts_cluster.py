"""Alerts on a real cluster (real dispynode processes): a killed node, a long job, failures, a stalled webhook.

Each test serves the dashboard with the alerts engine (`ServerConfig.alerts`)
and a webhook receiver (a local aiohttp server in the test), and compares
what fires with what dispy itself reports (its job objects).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from typing import Any

import dispy
import pytest
from aiohttp import web

from dispymon.adapters.dispy import DispyAdapter, DispyControl
from dispymon.features.alerts.config import parse
from dispymon.model.state import State
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app
from conftest import WSClient, job_result

pytestmark = pytest.mark.cluster

PULSE = 2  # the cluster's pulse_interval (seconds): dispy reports a dead node closed after about five


def setup():
    return 0


def compute(seconds):
    import time

    if seconds < 0:
        # not at once: dispynode 4.15.2 can lose a job that ends the moment it starts, and
        # with it every later reply of that node (docs/dispy-notes.md, "very short jobs")
        time.sleep(0.2)
        raise ValueError(f"bad input {seconds}")
    time.sleep(seconds)
    return seconds


class Receiver:
    """A webhook endpoint: every POST it was sent, with when it came (or, `stall`: never answers)."""

    def __init__(self, stall: bool = False) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.stall = stall
        self.release = asyncio.Event()  # a stalled endpoint answers once the test is done with it
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append((time.monotonic(), body))
        if self.stall:
            await self.release.wait()  # does not answer while the test looks
        return web.Response(text="ok")

    def events(self, rule: str | None = None) -> list[tuple[float, str, dict[str, Any]]]:
        return [(t, b["event"], b["alert"]) for t, b in self.posts if rule is None or b["alert"]["rule"] == rule]


@pytest.fixture
async def alerting(aiohttp_client, aiohttp_server, static_dir):
    """Factory: (alerts TOML as a dict, receiver) -> (connect, new_cluster)."""
    clusters: list[dispy.JobCluster] = []
    receivers: list[Receiver] = []

    async def make(settings: dict[str, Any], receiver: Receiver | None = None, stale_after: float = 30.0):
        if receiver is not None:
            receivers.append(receiver)
            app = web.Application()
            app.router.add_post("/hook", receiver.handle)
            server = await aiohttp_server(app, host="127.0.0.1")
            receiver.url = f"http://127.0.0.1:{server.port}/hook"
            settings = {**settings, "webhook": [{"url": receiver.url, **settings.get("webhook", [{}])[0]}]}
        hub = Hub(asyncio.get_running_loop(), State(stuck_after=300.0, stale_after=stale_after))
        adapter = DispyAdapter(hub.feed)
        config = ServerConfig(poll_sec=0.1, static_dir=static_dir, health_interval=0.5, alerts=parse(settings))
        client = await aiohttp_client(create_app(hub, config, DispyControl(adapter)))

        async def connect() -> WSClient:
            ws = WSClient(await client.ws_connect("/ws"))
            await ws.recv()
            await ws.recv()
            return ws

        def new_cluster(nodes) -> dispy.JobCluster:
            c = dispy.JobCluster(compute, nodes=[n.ip for n in nodes.nodes], host="127.0.0.1",
                                 dispy_port=nodes.port_base, setup=setup, pulse_interval=PULSE,
                                 loglevel=dispy.logger.CRITICAL)  # fmt: skip
            clusters.append(c)
            adapter.attach(c)
            return c

        return connect, new_cluster, client

    yield make
    for r in receivers:
        r.release.set()
    for c in clusters:
        await asyncio.to_thread(c.close, 0, True)


def firing(ws: WSClient, rule: str) -> list[dict[str, Any]]:
    """The alerts of `rule` firing in the latest snapshot's `alerts` part."""
    return [a for a in ws.messages_alerts()["firing"] if a["rule"] == rule]


def _alerts_part(self: WSClient) -> dict[str, Any]:
    # the latest `alerts` part sent (a snapshot's, or a delta's: sent whole when it changed)
    for message in reversed(self.messages):
        if message["type"] in ("snapshot", "delta") and "alerts" in message:
            return message["alerts"]
    raise KeyError("alerts")


WSClient.messages_alerts = _alerts_part  # type: ignore[attr-defined]


async def test_a_killed_node_fires_within_five_pulses_on_the_page_and_the_webhook_and_resolves_when_back(
    local_nodes, alerting
):
    receiver = Receiver()
    # stale after 1.75 pulses without one: the node alert comes before dispy's own verdict (closed, ~5 pulses)
    connect, new_cluster, _ = await alerting({"rules": {"node_stale": {"seconds": PULSE * 1.75}}}, receiver)
    nodes = local_nodes(2, cpus=1, first=36)
    victim, survivor = nodes.nodes
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()

    def node(m: WSClient, ip: str) -> dict[str, Any]:
        return m.clusters["compute"]["nodes"][ip]

    await ws.until(lambda m: node(m, victim.ip).get("avail_info") and node(m, survivor.ip).get("avail_info"),
                   what="both nodes")  # fmt: skip
    # a job on the victim: dispy declares a busy node dead (closed) after five pulses without one
    job = cluster.submit_node(victim.ip, 12)
    assert job is not None
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["running"] == 1, what="the job running")
    first = {ip: node(ws, ip)["update_time"] for ip in (victim.ip, survivor.ip)}
    await ws.until(lambda m: all(node(m, ip)["update_time"] > first[ip] for ip in first),
                   what="a pulse (avail info) from each node")  # fmt: skip
    assert not receiver.posts and not ws.messages_alerts()["firing"]
    killed = time.monotonic()
    old = victim.proc
    victim.kill()  # SIGKILL, mid-job
    def node_alerts(m: WSClient) -> list[dict[str, Any]]:
        return [a for a in m.messages_alerts()["firing"] if a["node"] == victim.ip]

    await ws.until(node_alerts, timeout=30, what="a node alert on the page", fresh=False)
    on_page = time.monotonic() - killed

    def hooked() -> list:
        return [e for e in receiver.events() if e[2]["node"] == victim.ip and e[1] == "firing"]

    deadline = time.monotonic() + 30
    while not hooked() and time.monotonic() < deadline:
        await ws.recv(timeout=5)
    assert hooked(), "the webhook receiver got the node alert"
    by_hook = hooked()[0][0] - killed
    alert = hooked()[0][2]
    assert alert["rule"] in ("node_stale", "node_closed") and alert["cluster"] == "compute"
    print(f"node alert {alert['rule']}: on the page {on_page:.1f} s, at the webhook {by_hook:.1f} s after SIGKILL")
    assert on_page <= 5 * PULSE and by_hook <= 5 * PULSE, (on_page, by_hook)
    assert not [a for a in ws.messages_alerts()["firing"] if a["node"] == survivor.ip]
    body = receiver.posts[0][1]
    assert body["text"].startswith("[dispymon] FIRING") and victim.ip in body["text"]

    # dispy's own verdict comes later: the node closed, its job abandoned (node_closed fires too)
    await ws.until(lambda m: node(m, victim.ip)["status"] == "closed", timeout=30, what="dispy reports it closed")
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["abandoned"] == 1, timeout=30, what="its job abandoned")
    assert job.status == dispy.DispyJob.Abandoned
    assert old is not None
    try:
        os.killpg(old.pid, signal.SIGKILL)  # the killed node's job process (its group outlived it)
    except ProcessLookupError:
        pass
    await ws.until(lambda m: any(a["rule"] == "node_closed" for a in node_alerts(m)), timeout=30,
                   what="node_closed firing (closed for 5 s)", fresh=False)  # fmt: skip
    # the node comes back: dispy sets it up again when it announces itself; every alert of it resolves
    await asyncio.to_thread(victim.start)
    await ws.until(lambda m: node(m, victim.ip)["status"] == "initialized", timeout=60, what="the node back")
    await ws.until(lambda m: not node_alerts(m), timeout=30, what="its alerts resolved", fresh=False)
    deadline = time.monotonic() + 30
    fired = {e[2]["id"] for e in hooked()}
    while time.monotonic() < deadline:
        resolved = {e[2]["id"] for e in receiver.events() if e[1] == "resolved"}
        if fired <= resolved:
            break
        await asyncio.sleep(0.1)
    assert fired <= resolved, "the webhook got each alert's resolution"


async def test_a_job_over_its_limit_fires_and_is_terminated_when_set(local_nodes, alerting):
    receiver = Receiver()
    settings = {"rules": {"long_job": {"seconds": 3600, "clusters": {"compute": {"seconds": 2, "terminate": True}}}}}
    connect, new_cluster, _ = await alerting(settings, receiver)
    nodes = local_nodes(1, cpus=2, first=38)
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()
    short = cluster.submit(0.2)
    long = cluster.submit(60)
    await ws.until(lambda m: [a for a in firing(m, "long_job") if a["action"] == "terminated"]
                   or any(b["alert"]["action"] == "terminated" for _, b in receiver.posts),
                   timeout=40, what="the long job's alert, terminated", fresh=False)  # fmt: skip
    await asyncio.to_thread(long)  # dispy's job object: it ended, terminated on dispymon's request
    assert long.status == dispy.DispyJob.Terminated and long.exception is None
    assert (await asyncio.to_thread(short)) == 0.2 and short.status == dispy.DispyJob.Finished
    fired = [e for e in receiver.events("long_job") if e[1] == "firing"]
    assert len(fired) == 1, "only the long job fired"
    alert = fired[0][2]
    assert alert["cluster"] == "compute" and alert["node"] == long.ip_addr and alert["job"]["key"] > 0
    # it resolves as the job ends, its action kept in the history
    await ws.until(lambda m: not firing(m, "long_job"), timeout=30, what="the alert resolved", fresh=False)
    await ws.send({"type": "command", "id": 1, "name": "alerts_history", "args": {}})
    await ws.until(lambda m: 1 in m.results, fresh=False)
    history = ws.results[1]["value"]["alerts"]
    mine = [a for a in history if a["id"] == alert["id"]]
    assert mine and mine[0]["resolved"] is not None and mine[0]["action"] == "terminated"
    audit = [e for e in ws.audit] + [e for m in ws.messages if m["type"] == "delta" for e in m.get("audit", [])]
    assert any(e["who"] == "alerts" and e["action"] == "terminate_jobs" and e["state"] == "ok" for e in audit)


async def test_a_failing_workload_fires_the_failure_rate(local_nodes, alerting):
    receiver = Receiver()
    settings = {"rules": {"failure_rate": {"percent": 50, "min_jobs": 6, "minutes": 5}}}
    connect, new_cluster, _ = await alerting(settings, receiver)
    nodes = local_nodes(1, cpus=2, first=39)
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()
    good = [cluster.submit(0.1) for _ in range(2)]
    for job in good:
        await job_result(job)
    await ws.until(lambda m: m.clusters["compute"]["jobs"]["finished"] == 2, what="two jobs done")
    assert not firing(ws, "failure_rate")
    bad = [cluster.submit(-1) for _ in range(6)]
    for job in bad:
        await job_result(job)
    failed = sum(1 for j in good + bad if j.status == dispy.DispyJob.Terminated and j.exception)
    assert failed == 6
    await ws.until(lambda m: firing(m, "failure_rate"), timeout=20, what="failure_rate firing", fresh=False)
    alert = firing(ws, "failure_rate")[0]
    # what it says is what dispy's job objects say: 6 of the 8 ended jobs failed
    assert alert["cluster"] == "compute" and alert["summary"].startswith(f"cluster compute: {failed} of 8 jobs failed")
    await ws.until(lambda m: any(e[1] == "firing" for e in receiver.events("failure_rate")), timeout=20,
                   what="the webhook told", fresh=False)  # fmt: skip


async def test_a_webhook_that_never_answers_delays_nothing_else(local_nodes, alerting):
    receiver = Receiver(stall=True)
    settings = {"webhook": [{"timeout": 60, "retries": 3}], "rules": {"long_job": {"seconds": 1}}}
    connect, new_cluster, client = await alerting(settings, receiver)
    nodes = local_nodes(1, cpus=2, first=40)
    cluster = await asyncio.to_thread(new_cluster, nodes)
    ws = await connect()
    long = cluster.submit(30)
    await ws.until(lambda m: firing(m, "long_job"), timeout=30, what="the long job's alert", fresh=False)
    await ws.until(lambda m: receiver.posts, timeout=30, what="the webhook POST (never answered)", fresh=False)
    # while the endpoint holds the delivery, more alerts fire and resolve (each job runs past the 1 s
    # limit): the page keeps its updates, each job shown as it comes, and no gap between frames
    base = ws.last_sent("compute", "jobs", "submitted")
    assert base >= 1
    latencies = []
    jobs = []
    started = time.monotonic()
    for i in range(6):
        jobs.append(cluster.submit(1.5))
        submitted = time.monotonic()
        await ws.until(lambda m: m.last_sent("compute", "jobs", "submitted") >= base + i + 1, timeout=30,
                       what=f"job {i + 1} shown submitted", fresh=False)  # fmt: skip
        latencies.append(time.monotonic() - submitted)
    arrivals = [time.monotonic()]

    def all_done(m: WSClient) -> bool:
        if m.messages[-1]["type"] == "delta":
            arrivals.append(time.monotonic())
        return m.last_sent("compute", "jobs", "finished") >= 6 and len(receiver.events("long_job")) == 1

    await ws.until(all_done, timeout=60, what="every job finished (their alerts queued)", fresh=False)
    done = [await job_result(job) for job in jobs]
    assert done == [1.5] * 6 and all(j.status == dispy.DispyJob.Finished for j in jobs)
    fired = [m for m in ws.messages if m["type"] == "delta" and "alerts" in m]
    assert fired, "alerts moved meanwhile"
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # a loop held by a delivery would stop for its 60 s timeout; here frames come within a pulse or two
    assert max(latencies) < 5.0 and max(gaps) < 5.0, (latencies, max(gaps), time.monotonic() - started)
    assert len(receiver.posts) == 1, "the first delivery is still held (no retry yet), the others wait"
    webhooks = ws.messages_alerts()["webhooks"]
    assert webhooks["delivered"] == 0 and webhooks["queued"] >= 2 and webhooks["failed"] == 0, webhooks
    # the REST API answers too, and /metrics counts nothing delivered
    metrics = await (await client.get("/metrics")).text()
    assert 'dispymon_webhook_deliveries_total{outcome="delivered"} 0' in metrics
    firing_now = re.search(r'^dispymon_alerts_firing\{rule="long_job"\} (\d+)$', metrics, re.M)
    assert firing_now and int(firing_now.group(1)) >= 1  # the 30 s job, at least
    cluster.cancel(long)
