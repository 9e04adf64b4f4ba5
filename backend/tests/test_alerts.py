"""The alerts engine without a cluster: the pure rules, the TOML file, the engine, commands, REST, store, webhooks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from dispymon.commands.registry import Commands
from dispymon.features.alerts import AlertEngine
from dispymon.features.alerts.config import AlertsConfigError, load, parse
from dispymon.features.alerts.rules import SPECS, FailureWindow, QueueWatch, check_params, default_rules, evaluate
from dispymon.features.alerts.webhooks import Webhook, Webhooks
from dispymon.features.persist import Store
from dispymon.model import events as ev
from dispymon.model.events import (AlertsChanged, AvailInfo, ClusterAttached, HealthCheck, JobInfo, NodeChanged,
                                   NodeInfo, StatusEvent)  # fmt: skip
from dispymon.model.state import State
from dispymon.runtime.hub import Hub
from dispymon.transport import protocol
from dispymon.transport.security import OPERATOR, VIEWER
from dispymon.transport.server import ServerConfig, create_app

T0 = 1_700_000_000.0
AVAIL = AvailInfo(50.0, 1 << 30, 1 << 30, 100.0)


def node(ip: str, busy: int = 0) -> NodeInfo:
    return NodeInfo(ip, "host", 2, 2, busy, 0, 0.0, 0, 0, T0, AVAIL)


def job(uid: int, ip: str | None = "10.0.0.1", start: float | None = T0, exception: str | None = None) -> JobInfo:
    return JobInfo(uid, uid, ip, start, None, (), {}, exception, key=uid)


def state_with(*ips: str, cluster: str = "c") -> State:
    state = State(stale_after=30, stuck_after=300)
    state.apply(ClusterAttached(cluster, "JobCluster", tuple((node(ip), ev.NODE_INITIALIZED) for ip in ips), (), 0))
    return state


def conditions(state: State, now: float, rules: Any = None, failures: Any = None, queues: Any = None, store=None):
    return evaluate(state, now, rules or default_rules(30, 300), failures or {}, queues or {}, store)


# -- the pure rules ----------------------------------------------------------------------------


def test_node_rules_fire_on_the_states_times_and_skip_a_node_closed_by_a_command():
    state = state_with("10.0.0.1", "10.0.0.2", "10.0.0.3")
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        state.apply(StatusEvent("c", ev.NODE_AVAIL_INFO, node(ip), None))
    state.apply(HealthCheck(T0))
    assert conditions(state, T0) == {}
    # .1 pulses on; .2 stops; .3 runs a job that neither ends nor lets another start
    state.apply(StatusEvent("c", ev.JOB_RUNNING, node("10.0.0.3", busy=1), job(7, "10.0.0.3")))
    state.apply(HealthCheck(T0 + 1))
    for t in (T0 + 20, T0 + 40, T0 + 400):
        state.apply(StatusEvent("c", ev.NODE_AVAIL_INFO, node("10.0.0.1"), None))
        state.apply(StatusEvent("c", ev.NODE_AVAIL_INFO, node("10.0.0.3", busy=1), None))
        state.apply(HealthCheck(t))
    found = conditions(state, T0 + 400)
    assert set(found) == {("node_stale", "c", "10.0.0.2"), ("node_stuck", "c", "10.0.0.3")}
    assert found[("node_stale", "c", "10.0.0.2")].summary == "node 10.0.0.2 stale: no pulse for 400 s"
    # closed by dispy: node_closed (not stale any more); closed by a command: nothing
    state.apply(StatusEvent("c", ev.NODE_CLOSED, node("10.0.0.2"), None))
    state.apply(NodeChanged("c", "10.0.0.1", status="closed"))
    since: dict[tuple[str, str], float] = {}
    rules = default_rules(30, 300)
    found = evaluate(state, T0 + 400, rules, {}, {}, None, None, since)
    assert not [k for k in found if k[0] == "node_closed"]  # closed for 5 s first (a program closing its cluster)
    found = evaluate(state, T0 + 405, rules, {}, {}, None, None, since)
    assert ("node_closed", "c", "10.0.0.2") in found and ("node_stale", "c", "10.0.0.2") not in found
    assert not [k for k in found if k[-1] == "10.0.0.1"]
    assert found[("node_closed", "c", "10.0.0.2")].severity == "critical"


def test_a_node_closed_then_back_forgets_when_it_closed():
    state = state_with("10.0.0.1")
    rules = default_rules()
    since: dict[tuple[str, str], float] = {}
    state.apply(StatusEvent("c", ev.NODE_CLOSED, node("10.0.0.1"), None))
    assert not evaluate(state, T0, rules, {}, {}, None, None, since)
    state.apply(StatusEvent("c", ev.NODE_INITIALIZED, node("10.0.0.1"), None))
    assert not evaluate(state, T0 + 4, rules, {}, {}, None, None, since) and not since
    state.apply(StatusEvent("c", ev.NODE_CLOSED, node("10.0.0.1"), None))
    assert not evaluate(state, T0 + 8, rules, {}, {}, None, None, since)  # closed again at T0 + 8
    assert ("node_closed", "c", "10.0.0.1") in evaluate(state, T0 + 13, rules, {}, {}, None, None, since)


def test_a_disabled_rule_and_a_clusters_override():
    state = state_with("10.0.0.1")
    state.apply(StatusEvent("c", ev.JOB_RUNNING, node("10.0.0.1", busy=1), job(5, start=T0)))
    rules = default_rules()
    rules["long_job"].clusters["c"] = {"seconds": 10, "terminate": True}
    found = conditions(state, T0 + 11, rules)
    assert found[("long_job", "c", 5)].handle is not None  # terminate: the job is handed to the engine
    assert "limit 10 s" in found[("long_job", "c", 5)].summary
    rules["long_job"].clusters.clear()
    assert ("long_job", "c", 5) not in conditions(state, T0 + 11, rules)  # the rule's own 3600 s
    rules["long_job"].enabled = False
    assert ("long_job", "c", 5) not in conditions(state, T0 + 4000, rules)


def test_failure_rate_needs_its_share_of_at_least_min_jobs_within_its_minutes():
    state = state_with("10.0.0.1")
    window = FailureWindow()
    rules = default_rules()
    rules["failure_rate"].params.update(percent=50, min_jobs=4, minutes=1)
    window.add(T0, 3, 3)  # 3 of 3: too few jobs
    assert not conditions(state, T0 + 1, rules, {"c": window})
    window.add(T0 + 20, 1, 0)  # 3 of 4 failed
    found = conditions(state, T0 + 21, rules, {"c": window})
    assert found[("failure_rate", "c")].summary == "cluster c: 3 of 4 jobs failed (75 %) in the last 1 min"
    assert not conditions(state, T0 + 90, rules, {"c": window})  # the first three left the window


def test_queue_stalled_and_history_db():
    state = state_with("10.0.0.1")
    for uid in (1, 2):
        state.apply(StatusEvent("c", ev.JOB_CREATED, None, job(uid, None, None)))
    watch = QueueWatch(0, T0)
    assert not conditions(state, T0 + 299, queues={"c": watch})
    found = conditions(state, T0 + 301, queues={"c": watch})
    assert found[("queue_stalled", "c")].summary == "cluster c: 2 jobs queued and none started for 301 s"
    store = {"healthy": False, "last_error": "disk I/O error"}
    assert conditions(state, T0, store=store)[("history_db",)].summary.endswith("disk I/O error")


@given(st.sampled_from(list(SPECS)), st.dictionaries(st.sampled_from(["seconds", "percent", "min_jobs", "minutes",
       "terminate", "bogus"]), st.one_of(st.booleans(), st.integers(-10, 10**8), st.floats(allow_nan=True))))  # fmt: skip
def test_params_are_accepted_exactly_when_named_typed_and_in_range(rule, params):
    spec = SPECS[rule]

    def fits(name: str, value: Any) -> bool:
        p = spec.params.get(name)
        if p is None:
            return False
        if p.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool) or value != value or not p.low <= value <= p.high:
            return False
        return p.kind is not int or value == int(value)

    ok = all(fits(k, v) for k, v in params.items())
    try:
        checked = check_params(rule, params, "x.")
    except ValueError as exc:
        assert not ok
        bad = [k for k, v in params.items() if not fits(k, v)]
        assert str(exc).split(":")[0] in {f"x.{k}" for k in bad}  # the message names a refused key
    else:
        assert ok and checked.keys() == params.keys()


# -- the TOML file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        ("[[webhook]]\nurl = 'ftp://x/'\n", "webhook[0].url"),
        ("[[webhook]]\ntimeout = 5\n", "webhook[0].url"),
        ("[[webhook]]\nurl = 'http://127.0.0.1:1/'\nretries = 2.5\n", "webhook[0].retries"),
        ("[[webhook]]\nurl = 'http://127.0.0.1:1/'\nheaders = 1\n", "webhook[0].headers"),
        ("[rules.long_job]\nseconds = 0\n", "rules.long_job.seconds"),
        ("[rules.long_job.clusters.c]\nterminate = 'yes'\n", "rules.long_job.clusters.c.terminate"),
        ("[rules.no_such]\n", "rules.no_such"),
        ("[rules.failure_rate]\nenabled = 1\n", "rules.failure_rate.enabled"),
        ("[rules.history_db.clusters.c]\n", "rules.history_db.clusters"),
        ("colour = 'red'\n", "colour"),
        ("[rules\n", "not TOML"),
    ],
)
def test_a_bad_alerts_file_names_the_key(tmp_path, text, key):
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(AlertsConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"--alerts {path}: ") and key in message and "\n" not in message


def test_the_documented_alerts_file_is_read(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text(
        '[[webhook]]\nurl = "http://127.0.0.1:9000/hook"\ntimeout = 5\nretries = 3\n'
        "[rules.failure_rate]\npercent = 20\n[rules.long_job]\nseconds = 3600\n"
        "[rules.long_job.clusters.mycluster]\nseconds = 60\nterminate = true\n"
    )
    config = load(path)
    assert config.webhooks == [Webhook("http://127.0.0.1:9000/hook", 5.0, 3)]
    engine = AlertEngine(lambda e: None, config)
    assert engine.rule_record("long_job") == protocol.alert_rule(
        "long_job", SPECS["long_job"].title, True, {"seconds": 3600, "terminate": False},
        {"mycluster": {"seconds": 60, "terminate": True}},
    )  # fmt: skip


def test_dispymon_refuses_to_start_with_a_bad_alerts_file(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text("[rules.long_job]\nseconds = -5\n")
    proc = subprocess.run([sys.executable, "-m", "dispymon", "serve", "--cluster-module", str(tmp_path / "app.py"),
                           "--alerts", str(path)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"dispymon: --alerts {path}: rules.long_job.seconds: must be from 1 to 2.592e+06"]


# -- the engine ------------------------------------------------------------------------------------


def step(hub: Hub, *events: Any) -> State:
    """Feed, and read as the server does: the engine evaluates at each HealthCheck's drain (one per
    drain, as tick_health feeds them) and its part is applied at the next drain."""
    for event in events:
        hub.feed(event)
    hub.read()
    return hub.read()


def engine_on(loop: asyncio.AbstractEventLoop, **kw: Any) -> tuple[Hub, AlertEngine]:
    hub = Hub(loop, State(stale_after=30, stuck_after=300))
    engine = AlertEngine(hub.feed, stale_after=30, stuck_after=300, **kw)
    hub.subscribe(engine.take)
    return hub, engine


async def test_alerts_fire_resolve_and_page_through_the_history():
    hub, engine = engine_on(asyncio.get_running_loop())
    ips = [f"10.0.0.{i}" for i in range(1, 7)]
    hub.feed(ClusterAttached("c", "JobCluster", tuple((node(ip), ev.NODE_INITIALIZED) for ip in ips), (), 0))
    step(hub, *(StatusEvent("c", ev.NODE_AVAIL_INFO, node(ip), None) for ip in ips), HealthCheck(T0))
    part = step(hub, HealthCheck(T0 + 31)).alerts.part  # every node stale
    assert part["firing_total"] == 6 and [a["id"] for a in part["firing"]] == [1, 2, 3, 4, 5, 6]
    assert {a["node"] for a in part["firing"]} == set(ips) and part["firing"][0]["resolved"] is None
    part = step(hub, *(StatusEvent("c", ev.NODE_AVAIL_INFO, node(ip), None) for ip in ips[:4]),
                HealthCheck(T0 + 32)).alerts.part  # fmt: skip
    assert [a["node"] for a in part["firing"]] == ips[4:]
    page = engine.history_page(limit=4)
    assert [a["id"] for a in page["alerts"]] == [6, 5, 4, 3] and page["more"]
    assert [a["resolved"] for a in page["alerts"]] == [None, None, T0 + 32, T0 + 32]
    page = engine.history_page(before=3, limit=4)
    assert [a["id"] for a in page["alerts"]] == [2, 1] and not page["more"]


async def test_the_firing_list_is_cut_at_its_maximum_with_the_total():
    hub, engine = engine_on(asyncio.get_running_loop())
    n = protocol.ALERTS_FIRING_MAX + 20
    hub.feed(ClusterAttached("c", "JobCluster", (), tuple(job(uid, start=T0) for uid in range(1, n + 1)), n))
    part = step(hub, HealthCheck(T0 + 4000)).alerts.part
    assert part["firing_total"] == n and len(part["firing"]) == protocol.ALERTS_FIRING_MAX
    assert engine.firing_by_rule()["long_job"] == n


async def test_a_storm_of_alerts_is_spread_over_the_next_seconds():
    hub, engine = engine_on(asyncio.get_running_loop())
    ips = [f"10.0.{i // 250}.{i % 250}" for i in range(1200)]
    step(hub, ClusterAttached("c", "JobCluster", tuple((node(ip), ev.NODE_INITIALIZED) for ip in ips), (), 0),
         *(StatusEvent("c", ev.NODE_AVAIL_INFO, node(ip), None) for ip in ips), HealthCheck(T0))  # fmt: skip
    assert step(hub, HealthCheck(T0 + 31)).alerts.part["firing_total"] == 1000  # CHANGES_PER_TICK
    assert step(hub, HealthCheck(T0 + 32)).alerts.part["firing_total"] == 1200
    step(hub, *(StatusEvent("c", ev.NODE_AVAIL_INFO, node(ip), None) for ip in ips), HealthCheck(T0 + 33))
    assert hub.read().alerts.part["firing_total"] == 200
    assert step(hub, HealthCheck(T0 + 34)).alerts.part["firing_total"] == 0


async def test_set_alert_rule_is_an_operators_audited_and_checked():
    hub, engine = engine_on(asyncio.get_running_loop())
    cmds = Commands(hub, None)
    cmds.alerts = engine

    async def run(args: dict[str, Any], role: str = OPERATOR) -> dict[str, Any]:
        return await cmds.execute({"type": "command", "id": 1, "name": "set_alert_rule", "args": args}, "op", role)

    assert (await run({"rule": "long_job", "enabled": False}, VIEWER))["error"]["code"] == "not_allowed"
    answer = await run({"rule": "long_job", "params": {"seconds": 0}})
    assert answer["error"] == {"code": "invalid", "message": "params.seconds: must be from 1 to 2.592e+06"}
    answer = await run({"rule": "failure_rate", "params": {"percnt": 5}})
    assert answer["error"]["code"] == "invalid" and answer["error"]["message"].startswith("params.percnt:")
    assert (await run({"rule": "nope"}))["error"]["code"] == "invalid"
    assert not hub.read().audit  # refused: nothing audited, nothing changed
    answer = await run({"rule": "long_job", "params": {"seconds": 30, "terminate": True}, "cluster": "c"})
    assert answer["ok"] and answer["value"]["rule"]["clusters"] == {"c": {"seconds": 30, "terminate": True}}
    answer = await run({"rule": "long_job", "enabled": False})
    assert answer["value"]["rule"]["enabled"] is False
    state = hub.read()
    assert [(e["action"], e["target"], e["message"]) for e in state.audit] == [
        ("set_alert_rule", "long_job", "seconds=30, terminate=true for cluster c"),
        ("set_alert_rule", "long_job", "disabled"),
    ]
    rules = {r["name"]: r for r in state.alerts.part["rules"]}
    assert rules["long_job"]["enabled"] is False and rules["long_job"]["clusters"]["c"]["seconds"] == 30
    assert [r["name"] for r in state.alerts.part["rules"]] == list(protocol.ALERT_RULES)


async def test_alerts_history_and_the_rest_route(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop(), State(stale_after=30))
    client = await aiohttp_client(create_app(hub, ServerConfig(static_dir=static_dir)))
    hub.feed(ClusterAttached("c", "JobCluster", ((node("10.0.0.1"), ev.NODE_INITIALIZED),), (), 0))
    step(hub, StatusEvent("c", ev.NODE_AVAIL_INFO, node("10.0.0.1"), None), HealthCheck(T0))
    step(hub, HealthCheck(T0 + 31))
    body = await (await client.get("/api/alerts?limit=1")).json()
    assert [a["rule"] for a in body["alerts"]] == ["node_stale"] and body["more"] is False
    assert (await client.get("/api/alerts?before=1")).status == 200
    assert (await (await client.get("/api/alerts?before=1")).json())["alerts"] == []
    bad = await client.get("/api/alerts?limit=501")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid"
    metrics = await (await client.get("/metrics")).text()
    assert 'dispymon_alerts_firing{rule="node_stale"} 1' in metrics
    assert 'dispymon_alerts_firing{rule="long_job"} 0' in metrics
    assert 'dispymon_webhook_deliveries_total{outcome="failed"} 0' in metrics


async def test_the_history_survives_a_restart_in_the_database(tmp_path):
    loop = asyncio.get_running_loop()
    path = tmp_path / "history.sqlite"
    store = Store(path, batch_delay=0.01)
    hub, engine = engine_on(loop, store=store)
    store.start()
    hub.feed(ClusterAttached("c", "JobCluster", ((node("10.0.0.1"), ev.NODE_INITIALIZED),), (), 0))
    step(hub, StatusEvent("c", ev.NODE_AVAIL_INFO, node("10.0.0.1"), None), HealthCheck(T0))
    step(hub, HealthCheck(T0 + 31))
    step(hub, StatusEvent("c", ev.NODE_AVAIL_INFO, node("10.0.0.1"), None), HealthCheck(T0 + 32))  # resolved
    step(hub, HealthCheck(T0 + 70))  # fires again, still firing at the stop
    before = engine.history_page()["alerts"]
    await asyncio.to_thread(store.close)
    again = Store(path)
    _, restarted = engine_on(loop, store=again, clock=lambda: T0 + 100)
    after = restarted.history_page()["alerts"]
    assert [a["id"] for a in after] == [2, 1] == [a["id"] for a in before]
    assert after[1] == before[1]  # resolved: as it was
    assert after[0] == {**before[0], "resolved": T0 + 100}  # left firing by the last run: resolved at the start
    assert restarted.next_id == 3
    again.close()


# -- webhooks --------------------------------------------------------------------------------------


async def test_webhooks_retry_with_backoff_count_failures_and_drop_beyond_the_queue(aiohttp_server):
    answers = [500, 500, 200]  # per POST, in order; then 500 for ever
    seen: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.Response(status=answers.pop(0) if answers else 500)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app, host="127.0.0.1")
    hooks = Webhooks([Webhook(f"http://127.0.0.1:{server.port}/hook", timeout=5, retries=2)], max_queue=2,
                     backoff=0.01)  # fmt: skip
    alert = protocol.alert(1, "node_closed", "critical", "c", "10.0.0.1", None, "node 10.0.0.1 closed", T0, None, None)
    hooks.start()
    try:
        hooks.send("firing", alert, "http://127.0.0.1:8181/alerts")
        await wait_for(lambda: hooks.delivered == 1)
        assert len(seen) == 3 and seen[0] == {
            "event": "firing", "alert": alert, "dashboard": "http://127.0.0.1:8181/alerts",
            "text": "[dispymon] FIRING critical node_closed: node 10.0.0.1 closed",
        }  # fmt: skip
        hooks.send("resolved", {**alert, "resolved": T0 + 5}, None)
        await wait_for(lambda: hooks.failed == 1)
        assert len(seen) == 6 and hooks.last_error is not None and "HTTP 500" in hooks.last_error
        for _ in range(5):  # one in flight at most, two wait: the rest are dropped
            hooks.send("firing", alert, None)
        assert hooks.dropped >= 2 and hooks.status()["queued"] <= 2
    finally:
        await hooks.close()


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_the_part_the_state_holds_changes_only_when_it_differs():
    state = State()
    part = protocol.alerts_part([], 0, [], protocol.webhooks_status(1))
    version = state.version
    state.apply(AlertsChanged(part))
    state.settle()
    assert state.version == version + 1 and state.snapshot()[0]["alerts"] == part
    state.apply(AlertsChanged(dict(part)))
    state.settle()
    assert state.version == version + 1  # the same part: no delta


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), max_size=30),
       st.lists(st.floats(0.1, 20), min_size=1, max_size=30), st.integers(1, 60))  # fmt: skip
def test_long_jobs_found_between_scans_are_those_a_full_look_finds(jobs, steps, limit):
    """long_job reads every running job's start only when one may have gone over (LongScan): the
    jobs it finds are, at every second, those a look at every job finds."""
    state = state_with("10.0.0.1")
    rules = default_rules()
    rules["long_job"].params["seconds"] = limit
    scans: dict[str, Any] = {}
    now = T0
    started: set[int] = set()
    for step_ in steps:
        now += step_
        for uid, (start, length) in enumerate(jobs, 1):
            if uid not in started and T0 + start <= now:
                started.add(uid)
                state.apply(StatusEvent("c", ev.JOB_RUNNING, node("10.0.0.1", busy=1), job(uid, start=T0 + start)))
            if uid in started and T0 + start + length <= now and uid in state.clusters["c"].running:
                state.apply(StatusEvent("c", ev.JOB_FINISHED, node("10.0.0.1"), job(uid, start=T0 + start)))
        fast = evaluate(state, now, rules, {}, {}, None, scans)
        full = evaluate(state, now, rules, {}, {}, None)
        assert {k for k in fast if k[0] == "long_job"} == {k for k in full if k[0] == "long_job"}


async def test_the_history_database_failing_to_write_fires_and_resolves(tmp_path):
    from test_persist_faults import lock_held

    path = tmp_path / "history.sqlite"
    store = Store(path, busy_timeout=0.05, retry_delay=0.05, batch_delay=0.01)
    hub, engine = engine_on(asyncio.get_running_loop(), store=store)
    store.start()
    try:
        t = T0
        with lock_held(path):  # another process holds the file: the writer's attempts fail
            store.add_minute((1, "c", "10.0.0.1", 1, 0.5))  # a row to write
            await wait_for(lambda: not store.status()["healthy"])
            t += 1
            part = step(hub, HealthCheck(t)).alerts.part
            assert [a["rule"] for a in part["firing"]] == ["history_db"]
            assert part["firing"][0]["severity"] == "critical" and "locked" in part["firing"][0]["summary"]
        await wait_for(lambda: store.status()["healthy"])  # the lock gone, the rows written
        t += 1
        assert step(hub, HealthCheck(t)).alerts.part["firing"] == []
        assert engine.history_page()["alerts"][0]["resolved"] == t
    finally:
        await asyncio.to_thread(store.close)
