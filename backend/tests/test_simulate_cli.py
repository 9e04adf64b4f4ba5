"""`dispymon demo --simulate N`: a simulated cluster served like a real one."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import aiohttp

from conftest import WSClient, wait_until

DISPYMON = [sys.executable, "-m", "dispymon"]


async def test_demo_simulate_serves_a_live_simulated_cluster(tmp_path):
    proc = subprocess.Popen([*DISPYMON, "demo", "--simulate", "300", "--cpus", "4", "--rate", "2000", "--port", "0",
                             "--poll-sec", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    try:
        lines: list[str] = []

        def url() -> str | None:
            line = proc.stdout.readline()
            lines.append(line)
            assert line or proc.poll() is None, "".join(lines) + proc.stderr.read()
            m = re.search(r"dashboard at (http://\S+)", line)
            return m.group(1) if m else None

        base = wait_until(url, timeout=30, what="the demo's URL")
        assert "no dispynode runs" in "".join(lines)
        async with aiohttp.ClientSession() as session:
            ws = WSClient(await session.ws_connect(base.split("?")[0].rstrip("/") + "/ws"))
            await ws.until(lambda m: m.clusters, what="the snapshot")
            (cluster,) = ws.clusters.values()
            assert len(cluster["nodes"]) == 300
            done = cluster["jobs"]["done"]
            await ws.until(lambda m: next(iter(m.clusters.values()))["jobs"]["done"] > done + 100, what="jobs finishing")
            await ws.ws.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
