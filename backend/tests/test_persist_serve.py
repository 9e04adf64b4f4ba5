"""`dispymon serve --history-db`: a real cluster, a real file, a restart, the previous run's jobs."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import textwrap
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
