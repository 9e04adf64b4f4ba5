"""The `dispymon` command as a user runs it: one-line errors, serve, demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import psutil
import pytest

from conftest import REPO, wait_until
from dispymon.adapters.localnodes import free_port_base

DISPYMON = [sys.executable, "-m", "dispymon"]


def run_serve(module: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*DISPYMON, "serve", "--cluster-module", str(module), "--port", "0", *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=module.parent)  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, pattern: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("dispymon:")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), proc.stderr


@pytest.mark.parametrize(
    "source, pattern",
    [
        ("def broken(:\n", r"cannot import app\.py: SyntaxError"),
        ("import no_such_module_here\n", r"cannot import app\.py: ModuleNotFoundError: No module named 'no_such_module_here'"),
        ("raise RuntimeError('bad\\nconfig')\n", r"cannot import app\.py: RuntimeError: bad config$"),
        ("x = 1\n", r"app\.py defines no dispy cluster"),
        ("def create_clusters():\n    return [42]\n", r"create_clusters\(\) in app\.py returned int"),
    ],
)
def test_bad_modules_get_a_one_line_error(tmp_path, source, pattern):
    module = tmp_path / "app.py"
    module.write_text(source)
    assert_one_line_error(run_serve(module), 2, pattern)


def test_missing_module_file(tmp_path):
    assert_one_line_error(run_serve(tmp_path / "nope.py"), 2, r"cluster module .*nope\.py does not exist")


def test_a_raising_workload_gets_a_one_line_error(tmp_path):
    dispy_port = free_port_base(["127.0.0.1"])  # the subprocess's own scheduler
    module = tmp_path / "app.py"
    module.write_text(textwrap.dedent(f"""
        import dispy

        def compute(n):
            return n

        # no node answers at 127.0.0.250: the cluster exists, the workload fails
        cluster = dispy.JobCluster(compute, nodes=["127.0.0.250"], host="127.0.0.1",
                                   dispy_port={dispy_port}, loglevel=dispy.logger.WARNING)

        def workload():
            raise ValueError("the input file is empty")
    """))
    assert_one_line_error(run_serve(module), 1, r"the workload of app\.py raised ValueError: the input file is empty$")


def test_bad_arguments_are_refused_by_the_parser():
    proc = subprocess.run([*DISPYMON, "serve", "--cluster-module", "x.py", "--port", "70000"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "a port is between 0 and 65535" in proc.stderr


@pytest.mark.cluster
def test_serve_runs_a_module_that_passes_cluster_status(tmp_path, local_nodes):
    nodes = local_nodes(2, cpus=1, first=12, other_process=True)
    log = tmp_path / "statuses.txt"
    module = tmp_path / "app.py"
    module.write_text(textwrap.dedent(f"""
        import dispy

        def setup():
            return 0

        def compute(n):
            import time
            time.sleep(n)
            return n

        def mine(status, node, job):  # the user's own callback, passed the dispy way
            with open({str(log)!r}, "a") as f:
                f.write(f"{{status}}\\n")

        cluster = dispy.JobCluster(compute, nodes={[n.ip for n in nodes.nodes]!r}, host="127.0.0.1",
                                   dispy_port={nodes.port_base}, setup=setup, cluster_status=mine,
                                   loglevel=dispy.logger.WARNING)

        def workload(clusters):
            assert clusters == [cluster]
            jobs = [cluster.submit(0.05) for _ in range(6)]
            assert all(job() == 0.05 for job in jobs)
    """))
    proc = run_serve(module, "--exit-after-workload", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"dashboard at http://127\.0\.0\.1:\d+/", proc.stdout)
    assert "workload finished" in proc.stdout
    statuses = log.read_text().split()
    assert statuses.count("11") == 6  # the user's callback saw every Finished


@pytest.mark.cluster
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_demo_stops_everything_it_started(tmp_path, stop_signal):
    proc = subprocess.Popen([*DISPYMON, "demo", "--port", "0", "--nodes", "2", "--first-ip", "30", "--cpus", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    try:
        lines: list[str] = []

        def read_until_url() -> bool:
            line = proc.stdout.readline()
            lines.append(line)
            assert line or proc.poll() is None, "".join(lines) + proc.stderr.read()
            return "dashboard at" in line

        wait_until(read_until_url, timeout=60, what="the demo's URL")
        node_pids = [int(m) for m in re.findall(r"running as PID (\d+)", "".join(lines))]
        assert len(node_pids) == 2
        me = psutil.Process(proc.pid)

        # wait until jobs are running on the nodes: job processes are forked there
        def job_processes() -> list[psutil.Process]:
            kids = me.children(recursive=True)
            return [k for k in kids if k.pid not in node_pids] if len(kids) > len(node_pids) else []

        wait_until(job_processes, timeout=60, what="job processes on the nodes")
        everything = me.children(recursive=True)
        proc.send_signal(stop_signal)
        assert proc.wait(60) == 0, proc.stderr.read()
        gone, alive = psutil.wait_procs(everything, timeout=15)
        assert alive == [], f"left running: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_wheel_contains_the_built_dashboard(tmp_path):
    if not (REPO / "backend" / "dispymon" / "static" / "index.html").is_file():
        pytest.fail("the frontend is not built: run scripts/test (or npm ci && npm run build)")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, timeout=300, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})  # fmt: skip
    wheel = next(tmp_path.glob("dispymon-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "dispymon/static/index.html" in names
    assert any(re.fullmatch(r"dispymon/static/assets/index-[\w-]+\.js", n) for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
