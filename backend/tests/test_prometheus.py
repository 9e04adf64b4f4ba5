"""deploy/: the Prometheus alerting rules and the Grafana dashboard, checked by the real tools.

`promtool` checks the rules and runs their unit tests (deploy/prometheus/
alerts.test.yml). A real Prometheus server (Debian's `prometheus`, which
scripts/test installs) scrapes a real `dispymon demo` (real dispynode
processes) once a second with the rules loaded: every query of the Grafana
dashboard must return data from it, every metric family of /metrics must have
a panel, the rules must evaluate, and a node killed with SIGKILL must fire
DispymonNodeClosed.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from conftest import REPO, wait_until

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dispymon.json"
DISPYMON = [sys.executable, "-m", "dispymon"]
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: scripts/test installs Debian's prometheus package"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus missing: scripts/test installs Debian's prometheus package"
)
# No proxy from the environment: every request here is to 127.0.0.1.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def alert_names() -> list[str]:
    return [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel that draws (rows hold none of their own: a collapsed row's panels count too)."""
    out = []
    for p in json.loads(DASHBOARD.read_text())["panels"]:
        if p["type"] == "row":
            out += p.get("panels", [])
        else:
            out.append(p)
    return out


# -- the rules -----------------------------------------------------------------


@needs_promtool
def test_the_rules_pass_promtool_check():
    r = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in r.stdout


@needs_promtool
def test_the_rules_pass_their_unit_tests():
    r = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_rule_is_unit_tested_firing_and_not_firing():
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    fires, quiet = set(), set()
    for t in tests["tests"]:
        for case in t.get("alert_rule_test", []):
            (fires if case["exp_alerts"] else quiet).add(case["alertname"])
    names = alert_names()
    assert len(names) == len(set(names)) >= 7
    assert set(names) == fires, "each rule has a case where it fires"
    assert set(names) == quiet, "each rule has a case where it does not"


# -- the dashboard's shape -------------------------------------------------------


def test_the_dashboard_is_a_grafana_export_with_a_datasource_variable():
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] == "dispymon" and d["id"] is None and d["schemaVersion"] >= 36
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    every = d["panels"] + [p for row in d["panels"] for p in row.get("panels", [])]
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for p in every:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']!r} overlaps another panel"
        cells |= mine
    for p in dashboard_panels():
        assert p["title"] and p.get("description"), p["id"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert p["targets"] and len(refs) == len(set(refs)), p["title"]
        assert all(t["datasource"] == p["datasource"] and t["expr"].strip() for t in p["targets"]), p["title"]
    required = {r["id"] for r in d["__requires"] if r["type"] == "panel"}
    assert required == {p["type"] for p in dashboard_panels()}


# -- a real Prometheus scraping a real demo ----------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> bytes:
    with HTTP.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
        return r.read()


def stop(proc: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM by PID, then SIGKILL; and whatever it started that outlived it."""
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        kids = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    _, alive = psutil.wait_procs(kids, timeout=15)
    for p in alive:
        p.kill()
    assert not alive, f"left running by {proc.args[:3]}: {[p.pid for p in alive]}"


class Stack:
    """A `dispymon demo` (real nodes, --history-db, tokens) and a Prometheus scraping it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.viewer = secrets.token_urlsafe(24)
        self.demo_log = tmp / "demo.log"
        self.prom_log = tmp / "prometheus.log"
        self.demo: subprocess.Popen | None = None
        self.prom: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.demo_log, "wb") as out:  # a file, not a pipe: nobody must read it for the demo to go on
            self.demo = subprocess.Popen(
                [*DISPYMON, "demo", "--port", "0", "--nodes", "2", "--cpus", "1", "--first-ip", "45",
                 "--history-db", str(self.tmp / "history.sqlite"),
                 # with `=`: a token_urlsafe may begin with "-", which argparse reads as an option
                 f"--token={secrets.token_urlsafe(24)}", f"--viewer-token={self.viewer}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp,
            )  # fmt: skip

        def url() -> str | None:
            assert self.demo is not None and self.demo.poll() is None, self.demo_log.read_text()
            m = re.search(r"dashboard at (http://127\.0\.0\.1:(\d+))/", self.demo_log.read_text())
            return m.group(1) if m else None

        self.dashboard = wait_until(url, timeout=90, what="the demo's address")
        started = re.findall(r"dispynode (\S+) \(\d+ CPUs?\) running as PID (\d+)", self.demo_log.read_text())
        self.node_pids = {ip: int(pid) for ip, pid in started}
        assert len(self.node_pids) == 2, self.demo_log.read_text()

        (self.tmp / "viewer-token").write_text(self.viewer)
        self.target = self.dashboard.removeprefix("http://")
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": "dispymon",
                # as docs/deploying.md says: the viewer token, from a file
                "authorization": {"credentials_file": str(self.tmp / "viewer-token")},
                "static_configs": [{"targets": [self.target]}],
            }],
        }  # fmt: skip
        (self.tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.prometheus = f"http://127.0.0.1:{free_port()}"
        with open(self.prom_log, "wb") as out:
            self.prom = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                 f"--web.listen-address={self.prometheus.removeprefix('http://')}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp,
            )  # fmt: skip

        def ready() -> bool:
            assert self.prom is not None and self.prom.poll() is None, self.prom_log.read_text()
            try:
                return get(f"{self.prometheus}/-/ready", timeout=2) is not None
            except OSError:
                return False

        wait_until(ready, timeout=60, what="Prometheus ready")

    def api(self, path: str, **params: str) -> Any:
        body = json.loads(get(f"{self.prometheus}/api/v1/{path}?{urllib.parse.urlencode(params)}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        return data["result"]

    def metrics(self) -> str:
        return get(f"{self.dashboard}/metrics", {"Authorization": f"Bearer {self.viewer}"}).decode()

    def stop(self) -> None:
        for proc in (self.prom, self.demo):
            if proc is not None:
                stop(proc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if PROMETHEUS is None:
        pytest.skip("prometheus missing: scripts/test installs Debian's prometheus package")
    s = Stack(tmp_path_factory.mktemp("prometheus"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def grafana_values(stack: Stack, definition: str, known: dict[str, str]) -> str:
    """A query variable's values, as Grafana gets them (`label_values(selector, label)`),
    in the regex Grafana puts in `=~"$var"` for a multi-value variable."""
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition.strip())
    assert m, definition
    selector = substitute(m.group(1), known)
    values = stack.api(f"label/{m.group(2)}/values", **{"match[]": selector})
    assert values, f"the variable query {definition!r} found no values"
    # regex-escaped, each backslash doubled inside PromQL's double-quoted string
    return "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + ")"


def substitute(expr: str, known: dict[str, str]) -> str:
    # $__rate_interval: Grafana's for a 1 s scrape is 4 s; a minute holds that many samples and more
    out = expr.replace("$__rate_interval", "1m")
    for name, value in known.items():
        out = out.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in out, f"a variable left in {out!r}"
    return out


@pytest.mark.cluster
@needs_prometheus
def test_every_metric_family_has_a_panel_and_every_panel_query_returns_data(stack):
    d = json.loads(DASHBOARD.read_text())
    wait_until(lambda: stack.query("dispymon_jobs_running"), timeout=60, what="a scrape of the demo's cluster")
    known: dict[str, str] = {}
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            known[v["name"]] = grafana_values(stack, v["definition"], known)
    exprs = {(p["title"], t["refId"]): substitute(t["expr"], known) for p in dashboard_panels() for t in p["targets"]}

    # every family /metrics writes has a panel that queries it (a histogram: any of its series)
    families = re.findall(r"^# TYPE (\w+) (\w+)$", stack.metrics(), re.M)
    assert len(families) >= 29 and any(kind == "histogram" for _, kind in families)
    everything = "\n".join(exprs.values())
    suffixes = {"histogram": "(_bucket|_sum|_count)"}
    missing = [name for name, kind in families if not re.search(rf"\b{name}{suffixes.get(kind, '')}\b", everything)]
    assert not missing, f"families with no panel: {missing}"

    # every query returns data: at least one series with a number (not NaN)
    def lacking() -> list[tuple[str, str]]:
        out = []
        for key, expr in exprs.items():
            result = stack.query(expr)
            if not any(math.isfinite(float(s["value"][1])) for s in result):
                out.append(key)
        return out

    last: list = []

    def all_answer() -> bool:
        last[:] = lacking()
        return not last

    try:
        wait_until(all_answer, timeout=180, what="every panel's query to return data")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; without data: {last}") from None
    # and the data is the demo's: the cluster and both its nodes
    assert {s["metric"]["cluster"] for s in stack.query("dispymon_jobs_running")} == {"compute"}
    assert {s["metric"]["node"] for s in stack.query("dispymon_node_busy")} == set(stack.node_pids)


@pytest.mark.cluster
@needs_prometheus
def test_the_rules_evaluate_and_a_killed_node_fires_its_alert(stack):
    def firing() -> list[dict[str, Any]]:
        return [a for a in stack.api("alerts")["alerts"] if a["labels"]["alertname"] == "DispymonNodeClosed"
                and a["state"] == "firing"]  # fmt: skip

    def rules() -> dict[str, dict[str, Any]]:
        return {r["name"]: r for g in stack.api("rules")["groups"] for r in g["rules"]}

    def evaluated() -> bool:
        return all(r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules().values())

    wait_until(lambda: rules() and evaluated(), timeout=60, what="every rule evaluated")
    loaded = rules()
    assert set(loaded) == set(alert_names())
    assert all(r["type"] == "alerting" and not r.get("lastError") for r in loaded.values())
    wait_until(lambda: stack.query("count(dispymon_node_closed == 0) == 2"), timeout=60, what="both nodes up")
    assert not firing()

    # SIGKILL one node: dispy reports it closed after five pulses (2 s each in
    # the demo), the next scrape has it, and the rule fires naming it
    victim, pid = sorted(stack.node_pids.items())[0]
    os.kill(pid, signal.SIGKILL)
    alerts = wait_until(firing, timeout=120, what="DispymonNodeClosed firing")
    assert [(a["labels"]["node"], a["labels"]["cluster"]) for a in alerts] == [(victim, "compute")]
    assert alerts[0]["labels"]["instance"] == stack.target
    assert victim in alerts[0]["annotations"]["summary"]
    assert stack.query("sum(dispymon_node_closed)")[0]["value"][1] == "1"
