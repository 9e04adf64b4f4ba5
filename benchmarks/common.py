"""Helpers shared by the benchmarks: statistics, machine facts, child processes, results."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PYTHON = sys.executable
CHROMIUM = os.environ.get("DISPYMON_CHROMIUM", "/usr/bin/chromium")


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The jobs feature's budgets, as /metrics gives them (benchmarks 8 and 10)
JOB_METRICS = ("dispymon_outputs_bytes", "dispymon_resubmit_args_bytes", "dispymon_job_details_kept",
               "dispymon_job_details_evicted_total", "dispymon_job_texts_dropped_total")  # fmt: skip


def metrics(port: int, names: tuple[str, ...] = JOB_METRICS) -> dict[str, float]:
    """The unlabelled samples `names` of a server's /metrics."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60).read().decode()
    found = {}
    for name in names:
        m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
        if m:
            found[name] = float(m.group(1))
    return found


def emit_applied(server: Any, events: int) -> dict[str, Any]:
    """Have a benchmarks.serve child emit `events` simulated events; its stats once its loop applied them all."""
    server.ask(f"emit {events}")
    while True:
        stats = server.ask("stats")
        if stats["applied"] >= stats["sim_events"]:
            return stats
        time.sleep(0.05)  # polling the child's counters, a condition


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# -- machine facts ---------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return out.splitlines()[0] if out else "unknown"


def machine() -> dict[str, Any]:
    import aiohttp
    import dispy
    import msgpack

    chromium = _version([CHROMIUM, "--version"])
    m = re.search(r"Chromium [\d.]+", chromium)
    head = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _version(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]) not in ("", "unknown")
    return {
        "commit": head + (" with uncommitted changes" if dirty else ""),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "dispy": dispy._dispy_version,
        "aiohttp": aiohttp.__version__,
        "msgpack": ".".join(map(str, msgpack.version)),
        "chromium": m.group(0) if m else chromium,
        "node": _version(["node", "--version"]),
    }


# -- results ---------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table in docs/benchmarks.md."""

    target: str  # "1. Callback work" …
    figure: str  # what was measured, with its value
    goal: str  # the target, as the issue states it
    met: bool | None  # None: informative line without a target


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    method: str = ""  # markdown: how it was measured
    details: str = ""  # markdown: tables of the measured figures, profiler findings
    data: dict[str, Any] = field(default_factory=dict)  # raw figures
    started: str = ""
    seconds: float = 0.0

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        body = {**self.__dict__, "rows": [r.__dict__ for r in self.rows]}
        path.write_text(json.dumps(body, indent=1, default=str) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> "Result":
        body = json.loads(path.read_text())
        body["rows"] = [Row(**r) for r in body["rows"]]
        return cls(**body)


# -- child processes -------------------------------------------------------------


class Child:
    """A child process speaking JSON lines: its first line is a JSON hello.

    Stopped by its own PID (SIGTERM, then SIGKILL), never by name.
    """

    def __init__(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 120.0,
                 cwd: Path | None = None) -> None:  # fmt: skip
        self.args = args
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=cwd or REPO, env={**os.environ, **(env or {})}, start_new_session=True,
        )  # fmt: skip
        self._stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.hello = self.read(timeout)

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)
            if os.environ.get("DISPYMON_BENCH_VERBOSE"):
                sys.stderr.write(f"  [{Path(self.args[2] if len(self.args) > 2 else self.args[0]).name}] {line}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read(self, timeout: float = 600.0) -> dict[str, Any]:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            tail = "".join(self._stderr[-30:])
            raise RuntimeError(f"{' '.join(self.args[:4])}: no answer (exit {self.proc.poll()}):\n{tail}")
        return json.loads(result[0])

    def ask(self, command: str, timeout: float = 600.0) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def stop(self, grace: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CpuMeter:
    """CPU seconds of a process, optionally without some of its threads (by native id)."""

    def __init__(self, pid: int, exclude_tids: tuple[int, ...] = ()) -> None:
        self.proc = psutil.Process(pid)
        self.exclude = set(exclude_tids)

    def sample(self) -> tuple[float, float, float]:
        """(wall time, CPU seconds of the process, CPU seconds of the excluded threads)."""
        times = self.proc.cpu_times()
        excluded = sum(t.user_time + t.system_time for t in self.proc.threads() if t.id in self.exclude)
        return time.monotonic(), times.user + times.system, excluded

    def rss(self) -> int:
        return self.proc.memory_info().rss


def npx(tool: str) -> str:
    path = REPO / "node_modules" / ".bin" / tool
    return str(path) if path.exists() else shutil.which(tool) or tool


def main_for(run) -> None:
    """`python -m benchmarks.bN_… [--quick]`: run one benchmark in this process, save its result."""
    import argparse
    import datetime

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke check")
    args = parser.parse_args()
    # SIGTERM (the runner stopping us) unwinds like Ctrl-C: `finally` blocks stop what we started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    result = run(quick=args.quick)
    result.started = started.strftime("%Y-%m-%d %H:%M UTC")
    result.seconds = round(time.monotonic() - t0, 1)
    result.data["quick"] = args.quick
    path = result.save()
    for row in result.rows:
        say(f"{row.target}: {row.figure} — {'met' if row.met else 'informative' if row.met is None else 'NOT met'}")
    say(f"saved {path.relative_to(REPO)}")
