"""/metrics: Prometheus' text format, parsed by prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import bisect

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
