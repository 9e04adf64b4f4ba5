"""/metrics: Prometheus' text format, parsed by prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import bisect
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from dispymon.model import events as ev
from dispymon.model.events import JobInfo
from dispymon.runtime.hub import Hub
from dispymon.features.metrics import DurationHistogram, render
from dispymon.transport.server import ServerConfig, Stats, create_app
from dispymon.model.state import State
from conftest import WSClient
from factories import attached, node, status
from test_api import feed_cluster


def parse(text: str) -> dict[str, dict]:
    """family name -> {"type": ..., "samples": {(sample name, sorted labels): value}}"""
    out = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {
            "type": family.type,
            "samples": {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples},
        }
    return out


async def test_metrics_after_fed_events(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop())
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir)))
    await feed_cluster(hub)
    hub.feed(ev.NodeChanged("c", "127.0.0.3", status="deallocated"))
    await hub.settle()
    ws = WSClient(await client.ws_connect("/ws"))
    await ws.recv()
    await ws.recv()
    await ws.send({"type": "resync"})
    await ws.until(lambda m: len([x for x in ws.messages if x["type"] == "snapshot"]) == 2, what="the resync's snapshot", fresh=False)
    r = await client.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    m = parse(await r.text())

    def value(family, sample=None, **labels):
        return m[family]["samples"][(sample or family, tuple(sorted(labels.items())))]

    assert m["dispymon_nodes"]["type"] == "gauge"
    assert value("dispymon_nodes", cluster="c", status="initialized") == 1
    assert value("dispymon_nodes", cluster="c", status="deallocated") == 1
    assert value("dispymon_nodes", cluster="c", status="closed") == 0
    assert value("dispymon_node_cpus", cluster="c", node="127.0.0.2") == 2
    assert value("dispymon_node_busy", cluster="c", node="127.0.0.2") == 2
    assert m["dispymon_jobs"]["type"] == "counter"
    assert value("dispymon_jobs", "dispymon_jobs_total", cluster="c", outcome="finished") == 2
    assert value("dispymon_jobs", "dispymon_jobs_total", cluster="c", outcome="failed") == 1
    assert value("dispymon_jobs", "dispymon_jobs_total", cluster="c", outcome="cancelled") == 1
    assert value("dispymon_jobs", "dispymon_jobs_total", cluster="c", outcome="abandoned") == 0
    assert value("dispymon_jobs_submitted", "dispymon_jobs_submitted_total", cluster="c") == 6
    assert value("dispymon_jobs_running", cluster="c") == 2
    assert value("dispymon_jobs_queued", cluster="c") == 0
    # durations: 0.5 s, 3 s, 2 s (the cancelled job never ran)
    hist = "dispymon_job_duration_seconds"
    assert m[hist]["type"] == "histogram"
    assert value(hist, f"{hist}_count", cluster="c") == 3
    assert value(hist, f"{hist}_sum", cluster="c") == pytest.approx(5.5)
    assert value(hist, f"{hist}_bucket", cluster="c", le="0.5") == 1
    assert value(hist, f"{hist}_bucket", cluster="c", le="2.5") == 2
    assert value(hist, f"{hist}_bucket", cluster="c", le="5.0") == 3
    assert value(hist, f"{hist}_bucket", cluster="c", le="+Inf") == 3
    assert value("dispymon_websocket_clients") == 1
    assert value("dispymon_websocket_connections", "dispymon_websocket_connections_total") == 1
    assert value("dispymon_websocket_resyncs", "dispymon_websocket_resyncs_total") == 1
    assert value("dispymon_websocket_closed_for_abuse", "dispymon_websocket_closed_for_abuse_total") == 0
    assert value("dispymon_events", "dispymon_events_total") == hub.events_applied
    await ws.ws.close()


def test_label_values_are_escaped():
    state = State()
    name = 'we"ird\\name\nx'
    state.apply(attached(name, nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
    state.apply(status(name, ev.JOB_CREATED, None, None))
    m = parse(render(state, DurationHistogram(), Stats(), 0))
    assert m["dispymon_nodes"]["samples"][("dispymon_nodes", (("cluster", name), ("status", "initialized")))] == 1


def test_no_cluster_still_parses():
    m = parse(render(State(), DurationHistogram(), Stats(), 0))
    assert m["dispymon_websocket_clients"]["samples"] == {("dispymon_websocket_clients", ()): 0}
    assert m["dispymon_job_duration_seconds"]["samples"] == {}


async def test_a_flooding_client_counts_as_closed_for_abuse(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop())
    config = ServerConfig(poll_sec=0.05, static_dir=static_dir, message_rate=1, message_burst=1, max_refused=5)
    client = await aiohttp_client(create_app(hub, config))
    ws = WSClient(await client.ws_connect("/ws"))
    for _ in range(20):
        try:
            await ws.send({"type": "flush"})
        except ConnectionError:
            break
    while not ws.ws.closed:
        msg = await ws.ws.receive(timeout=10)
        if msg.type.name in ("CLOSE", "CLOSED", "CLOSING"):
            break
    text = await (await client.get("/metrics")).text()
    m = parse(text)
    assert m["dispymon_websocket_closed_for_abuse"]["samples"][("dispymon_websocket_closed_for_abuse_total", ())] == 1


@settings(max_examples=300, deadline=None)
@given(jobs=st.lists(st.tuples(st.one_of(st.none(), st.floats(0, 5000)), st.one_of(st.none(), st.floats(0, 5000))),
                     max_size=40),
       seen=st.floats(0, 5000))  # fmt: skip
def test_durations_are_counted_as_each_placed_in_its_bucket(jobs, seen):
    """add_jobs sorts a drain's durations and bisects once per bucket; it must
    count as placing each duration (end or seen, minus start, 0 if negative;
    none if the job never ran) in the first bucket whose bound is >= it."""
    hist = DurationHistogram()
    hist.add_jobs("c", [JobInfo(i, i, "127.0.0.2", start, end, (), {}, None) for i, (start, end) in enumerate(jobs)],
                  seen)  # fmt: skip
    counts, total, n = [0] * len(hist.buckets), 0.0, 0
    for start, end in jobs:
        if start is None:
            continue
        end = seen if end is None else end
        duration = end - start if end > start else 0.0
        i = bisect.bisect_left(hist.buckets, duration)
        if i < len(hist.buckets):
            counts[i] += 1
        total += duration
        n += 1
    held = hist.clusters.get("c", [[0] * len(hist.buckets), 0.0, 0])
    assert held[0] == counts and held[2] == n
    assert held[1] == pytest.approx(total)


# -- the families deploy/prometheus/alerts.yml reads (features/metrics.py, _alerting_families) --


def started_and_running(events) -> tuple[set[int], dict[int, float]]:
    """From the events alone: the uids of the jobs that started running, and the
    start times of those still running (dispy's story, not the state's)."""
    started: set[int] = set()
    running: dict[int, float] = {}
    for e in events:
        if isinstance(e, ev.ClusterAttached):
            for j in e.running:
                started.add(j.uid)
                running[j.uid] = j.start_time
        elif isinstance(e, ev.StatusEvent) and e.job is not None:
            if e.status == ev.JOB_RUNNING:
                started.add(e.job.uid)
                running[e.job.uid] = e.job.start_time
            elif e.status in (ev.JOB_FINISHED, ev.JOB_TERMINATED, ev.JOB_CANCELLED, ev.JOB_ABANDONED):
                running.pop(e.job.uid, None)
    return started, running


async def test_node_flags_started_jobs_and_the_oldest_running_job_agree_with_the_state(aiohttp_client, static_dir):
    """Closed, stuck and stale per node as the state flags them (what the pages
    show); jobs started and the oldest running job's age as the events tell."""
    from test_api import FAIL, job

    hub = Hub(asyncio.get_running_loop(), State(stuck_after=60, stale_after=30))
    # health checks only from this test, at the times it chooses
    config = ServerConfig(poll_sec=0.05, static_dir=static_dir, health_interval=3600)
    client = await aiohttp_client(create_app(hub, config))
    t0 = time.time()
    avail = ev.AvailInfo(50.0, 1 << 30, 1 << 31, 90.0)
    ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    events: list = [attached("c", nodes=[(node(ip), ev.NODE_INITIALIZED) for ip in ips])]
    events += [status("c", ev.JOB_CREATED, None, job(uid, None, start=None)) for uid in range(1, 6)]
    # .2 runs two jobs (started 100 s and 40 s ago) and reports its avail info
    events += [status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(1, "127.0.0.2", start=t0 - 100)),
               status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=2), job(2, "127.0.0.2", start=t0 - 40)),
               status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2", busy=2, avail=avail)),
               status("c", ev.NODE_AVAIL_INFO, node("127.0.0.3", avail=avail))]  # fmt: skip
    # .3 ran a job that failed; .4 ran one and was then closed
    events += [status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), job(3, "127.0.0.3", start=t0 - 20)),
               status("c", ev.JOB_TERMINATED, node("127.0.0.3"), job(3, "127.0.0.3", start=t0 - 20, end=t0 - 10,
                                                                       exception=FAIL)),
               status("c", ev.JOB_RUNNING, node("127.0.0.4", busy=1), job(4, "127.0.0.4", start=t0 - 30)),
               status("c", ev.JOB_FINISHED, node("127.0.0.4"), job(4, "127.0.0.4", start=t0 - 30, end=t0 - 5)),
               status("c", ev.NODE_CLOSED, node("127.0.0.4")),
               status("c", ev.JOB_CANCELLED, None, job(5, None, start=None))]  # fmt: skip
    # ticks: .3's avail info then stops for 45 s (stale), .2 stays busy with no
    # progress for 90 s (stuck) while its avail info keeps coming (not stale)
    events += [ev.HealthCheck(t0 - 90), ev.HealthCheck(t0 - 45),
               status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2", busy=2, avail=avail)), ev.HealthCheck(t0)]  # fmt: skip
    for e in events:
        hub.feed(e)
    await hub.settle()
    before = time.time()
    m = parse(await (await client.get("/metrics")).text())
    after = time.time()

    c = hub.read().clusters["c"]
    flags = {ip: c.node(ip) for ip in ips}
    assert [ip for ip in ips if flags[ip]["stuck"]] == ["127.0.0.2"]  # the scene is what the test means
    assert [ip for ip in ips if flags[ip]["stale"]] == ["127.0.0.3"]
    assert [ip for ip in ips if flags[ip]["status"] == "closed"] == ["127.0.0.4"]
    for family in ("dispymon_node_closed", "dispymon_node_stuck", "dispymon_node_stale"):
        assert m[family]["type"] == "gauge"
    for ip in ips:
        labels = (("cluster", "c"), ("node", ip))
        closed = flags[ip]["status"] == "closed"
        assert m["dispymon_node_closed"]["samples"][("dispymon_node_closed", labels)] == closed
        assert m["dispymon_node_stuck"]["samples"][("dispymon_node_stuck", labels)] == flags[ip]["stuck"]
        assert m["dispymon_node_stale"]["samples"][("dispymon_node_stale", labels)] == flags[ip]["stale"]

    started, running = started_and_running(events)
    assert m["dispymon_jobs_started"]["type"] == "counter"
    assert m["dispymon_jobs_started"]["samples"][("dispymon_jobs_started_total", (("cluster", "c"),))] == len(started)
    assert set(c.running) == set(running)
    oldest_family = m["dispymon_job_oldest_running_seconds"]
    assert oldest_family["type"] == "gauge"
    oldest = oldest_family["samples"][("dispymon_job_oldest_running_seconds", (("cluster", "c"),))]
    assert before - min(running.values()) <= oldest <= after - min(running.values())


async def test_started_jobs_and_the_oldest_running_job_over_a_simulated_run(aiohttp_client, static_dir):
    """Thousands of jobs through the simulator: every start counted once, the
    oldest running job as the state holds it; and 0 once nothing runs."""
    from dispymon.adapters.simulated import SimulatedCluster

    log: list = []
    sim = SimulatedCluster(log.append, 20, 4, seed=7)
    sim.attach()
    sim.emit(5000)
    hub = Hub(asyncio.get_running_loop())
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir)))
    for e in log:
        hub.feed(e)
    await hub.settle()
    started, running = started_and_running(log)
    assert len(started) > 1000 and running
    before = time.time()
    m = parse(await (await client.get("/metrics")).text())
    after = time.time()
    key = (("cluster", sim.name),)
    assert m["dispymon_jobs_started"]["samples"][("dispymon_jobs_started_total", key)] == len(started)
    first = min(j.start_time for j in hub.read().clusters[sim.name].running.values())
    assert first == min(running.values())
    oldest = m["dispymon_job_oldest_running_seconds"]["samples"][("dispymon_job_oldest_running_seconds", key)]
    assert max(before - first, 0) <= oldest <= max(after - first, 0)

    # every running job ends: none running, and the count of starts stays
    for uid, start in running.items():
        ip = next(j.ip_addr for j in hub.read().clusters[sim.name].running.values() if j.uid == uid)
        hub.feed(status(sim.name, ev.JOB_FINISHED, node(ip),
                        JobInfo(uid, uid, ip, start, start + 1.0, (), {}, None)))  # fmt: skip
    await hub.settle()
    m = parse(await (await client.get("/metrics")).text())
    assert m["dispymon_jobs_started"]["samples"][("dispymon_jobs_started_total", key)] == len(started)
    assert m["dispymon_job_oldest_running_seconds"]["samples"][("dispymon_job_oldest_running_seconds", key)] == 0


def test_node_flags_escape_their_labels_like_every_family():
    """The node flags write their label text themselves (once per node): parsed
    back, it names the same cluster and node as the other families."""
    state = State()
    name = 'we"ird\\name\nx'
    state.apply(attached(name, nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED), (node("127.0.0.3"), ev.NODE_CLOSED)]))
    state.apply(ev.HealthCheck(time.time()))
    m = parse(render(state, DurationHistogram(), Stats(), 0))
    cpus = {labels for _, labels in m["dispymon_node_cpus"]["samples"]}
    for family in ("dispymon_node_closed", "dispymon_node_stuck", "dispymon_node_stale"):
        assert {labels for _, labels in m[family]["samples"]} == cpus
    closed = {dict(labels)["node"]: v for (_, labels), v in m["dispymon_node_closed"]["samples"].items()}
    assert closed == {ip: float(state.node_status(name, ip) == "closed") for ip in ("127.0.0.2", "127.0.0.3")}
    assert closed["127.0.0.3"] == 1
