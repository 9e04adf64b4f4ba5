"""`dispymon serve --history-db`: a real cluster, a real file, a restart, the previous run's jobs."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import textwrap
import urllib.error
import urllib.request

import pytest

from conftest import wait_until
from test_cli import DISPYMON, run_serve

pytestmark = pytest.mark.cluster

MODULE = """
import time

import dispy

def setup():
    return 0

def compute(n, fail=False):
    import time
    time.sleep(n)
    if fail:
        raise ValueError(f"failing on purpose {{n}}")
    return n

cluster = dispy.JobCluster(compute, nodes={ips!r}, host="127.0.0.1", dispy_port={port}, setup=setup,
                           pulse_interval=1, loglevel=dispy.logger.WARNING)
"""

WORKLOAD = """
def workload():
    jobs = []
    for i in range(5):
        job = cluster.submit(0.2, fail=(i == 3))
        job.id = f"first-run-{i}"
        jobs.append(job)
    for job in jobs:
        job()
    time.sleep(1.5)  # dispy queues the last status callbacks just after waking job()
"""


def test_history_survives_a_restart_of_serve(tmp_path, local_nodes):
    nodes = local_nodes(2, cpus=1, first=16, other_process=True)
    db = tmp_path / "history.db"
    source = MODULE.format(ips=[n.ip for n in nodes.nodes], port=nodes.port_base)
    first = tmp_path / "first.py"
    first.write_text(textwrap.dedent(source + WORKLOAD))
    proc = run_serve(first, "--exit-after-workload", "--history-db", str(db), timeout=120)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, outcome, exception_type FROM jobs ORDER BY id").fetchall()
    assert rows == [(f"first-run-{i}", "failed" if i == 3 else "finished", "ValueError" if i == 3 else None)
                    for i in range(5)]  # fmt: skip

    second = tmp_path / "second.py"
    second.write_text(textwrap.dedent(source))  # no workload this time: nothing new happens
    server = subprocess.Popen([*DISPYMON, "serve", "--cluster-module", str(second), "--port", "0", "--history-db", str(db)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    try:
        found = {}

        def url() -> bool:
            line = server.stdout.readline()
            assert line or server.poll() is None, server.stderr.read()
            match = re.search(r"dashboard at (http://\S+/)", line)
            if match:
                found["url"] = match.group(1)
            return bool(match)

        wait_until(url, timeout=60, what="the dashboard's URL")
        with urllib.request.urlopen(found["url"] + "api/history") as r:
            history = json.load(r)
        assert history["total"] == 5
        assert {j["id"] for j in history["jobs"]} == {f"first-run-{i}" for i in range(5)}
        failed = [j for j in history["jobs"] if j["outcome"] == "failed"]
        assert len(failed) == 1 and failed[0]["exception_message"] == "failing on purpose 0.2"
        assert all(j["node"] in {n.ip for n in nodes.nodes} and j["duration"] >= 0.2 for j in history["jobs"])
        with urllib.request.urlopen(found["url"] + "api/history/summary") as r:
            summary = json.load(r)
        assert summary["outcomes"]["finished"] == 4 and summary["failures"][0]["type"] == "ValueError"
        with urllib.request.urlopen(found["url"] + "api/series?step=60") as r:
            minutes = json.load(r)  # the first run's minute(s) came back too
        assert sum(minutes["done"]) == 5
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(60) == 0, server.stderr.read()
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


@pytest.mark.parametrize("where", ["a-directory", "missing/dir/history.db"])
def test_a_history_db_that_cannot_be_opened_is_a_one_line_error(tmp_path, where):
    from dispymon.adapters.localnodes import free_port_base
    from test_cli import assert_one_line_error

    (tmp_path / "a-directory").mkdir()
    module = tmp_path / "app.py"
    module.write_text(textwrap.dedent(f"""
        import dispy

        def compute(n):
            return n

        cluster = dispy.JobCluster(compute, nodes=["127.0.0.250"], host="127.0.0.1",
                                   dispy_port={free_port_base(["127.0.0.1"])}, loglevel=dispy.logger.WARNING)
    """))
    proc = run_serve(module, "--history-db", str(tmp_path / where))
    assert_one_line_error(proc, 2, r"cannot use the history database .*: unable to open database file$")


# -- issue 18, point 6: a job page (outputs and traceback) after a restart --------------------------

JOBS_MODULE = """
import json
import os

import dispy

def setup():
    return 0

def compute(n, fail=False, loud=0):
    import sys
    print(f"out {{n}}")
    print(f"err {{n}}", file=sys.stderr)
    if loud:
        sys.stdout.write("y" * loud)
    if fail:
        raise ValueError(f"failing on purpose {{n}}")
    return n * 2

cluster = dispy.JobCluster(compute, nodes={ips!r}, host="127.0.0.1", dispy_port={port}, setup=setup,
                           pulse_interval=1, loglevel=dispy.logger.WARNING)
"""

JOBS_WORKLOAD = """
def workload():
    jobs = {"raises": cluster.submit(1, fail=True), "loud": cluster.submit(2, loud=100_000)}
    for name, job in jobs.items():
        job.id = name
    truth = {}
    for name, job in jobs.items():
        job()
        truth[name] = {"stdout": job.stdout, "stderr": job.stderr, "exception": job.exception,
                       "result": job.result, "ip": job.ip_addr, "status": job.status}
    with open("truth.json.part", "w") as f:  # what dispy itself reported, for the test to compare
        json.dump(truth, f)
    os.replace("truth.json.part", "truth.json")
"""


class Served:
    """`dispymon serve` in a subprocess, its dashboard's URL read from its output; SIGTERM to stop."""

    def __init__(self, module, *extra: str) -> None:
        self.proc = subprocess.Popen([*DISPYMON, "serve", "--cluster-module", str(module), "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=module.parent)  # fmt: skip
        self.url = ""

        def url() -> bool:
            line = self.proc.stdout.readline()
            assert line or self.proc.poll() is None, self.proc.stderr.read()
            match = re.search(r"dashboard at (http://\S+/)", line)
            if match:
                self.url = match.group(1)
            return bool(match)

        try:
            wait_until(url, timeout=60, what="the dashboard's URL")
        except BaseException:
            self.stop()
            raise

    def get(self, path: str) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(self.url + path) as r:
                return r.status, (json.load(r) if "json" in r.headers.get("Content-Type", "") else r.read().decode())
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(60) == 0, self.proc.stderr.read()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def details_on_disk(served: Served) -> float:
    status, text = served.get("metrics")
    assert status == 200
    match = re.search(r"^dispymon_history_db_details_kept (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_job_page_survives_a_restart(tmp_path, local_nodes):
    from dispymon.transport.protocol import OUTPUT_TAIL

    nodes = local_nodes(1, cpus=1, first=18, other_process=True)
    db = tmp_path / "history.db"
    source = JOBS_MODULE.format(ips=[n.ip for n in nodes.nodes], port=nodes.port_base)
    first = tmp_path / "first.py"
    first.write_text(textwrap.dedent(source + JOBS_WORKLOAD))
    served = Served(first, "--history-db", str(db))
    try:
        wait_until(lambda: (tmp_path / "truth.json").exists(), timeout=120, what="the workload's jobs done")

        def made() -> bool:  # both pages complete (their texts made off the loop), both details on disk
            pages = [served.get(f"api/jobs/compute/{name}") for name in ("raises", "loud")]
            return all(s == 200 and p["job"]["state"] != "running" and "…" not in (p["job"]["result"] or "")
                       for s, p in pages) and details_on_disk(served) >= 2  # fmt: skip

        wait_until(made, timeout=60, what="the job pages made and written")
        before = {name: served.get(f"api/jobs/compute/{name}")[1]["job"] for name in ("raises", "loud")}
    finally:
        served.stop()
    truth = json.loads((tmp_path / "truth.json").read_text())

    second = tmp_path / "second.py"
    second.write_text(textwrap.dedent(source))  # no workload: only the database knows these jobs
    served = Served(second, "--history-db", str(db))
    try:
        status, page = served.get("api/jobs/compute/raises")
        assert status == 200, page
        raises = page["job"]
        want = truth["raises"]
        assert raises["state"] == "failed" and raises["exception_type"] == "ValueError"
        assert raises["stdout"] == want["stdout"] and raises["stdout_len"] == len(want["stdout"])
        assert raises["stderr"] == want["stderr"] and raises["stderr_len"] == len(want["stderr"])
        assert raises["traceback"] == want["exception"] and raises["traceback_len"] == len(want["exception"])
        assert raises["node"] == want["ip"] and raises["key"] == before["raises"]["key"]
        assert raises["resubmit"] == {"possible": False, "reason": "arguments are not kept across restarts"}
        loud = served.get("api/jobs/compute/loud")[1]["job"]
        want = truth["loud"]
        assert loud["state"] == "finished" and loud["result"] == repr(want["result"]) == "4"
        assert loud["stdout_cut"] is True and loud["stdout_len"] == len(want["stdout"]) > OUTPUT_TAIL
        assert loud["stdout"] == want["stdout"][-OUTPUT_TAIL:]
        # the page is the one the first run showed, but for what only that run could do
        for name, after in (("raises", raises), ("loud", loud)):
            assert {k: v for k, v in after.items() if k != "resubmit"} == {
                k: v for k, v in before[name].items() if k != "resubmit"}, name  # fmt: skip
        status, missing = served.get("api/jobs/compute/no-such-job")
        assert status == 404 and missing["error"]["code"] == "not_found"
    finally:
        served.stop()
