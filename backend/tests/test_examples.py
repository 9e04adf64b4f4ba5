"""The seeds' two example programs, run as they are (examples/), against local nodes.

Each runs as a script in a subprocess (its own dispy client) with its nodes
and ports from the environment; the test watches it as a browser does,
through the WebSocket protocol, and checks it exits 0 after shutdown().
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from dispymon.transport.codec import decode
from dispymon.adapters.localnodes import wait_for_tcp
from conftest import REPO, WSClient

pytestmark = pytest.mark.cluster

EXAMPLES = REPO / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Example:
    """An example program running in a subprocess, and a browser on its dashboard."""

    def __init__(self, script: Path, nodes, cwd: Path) -> None:
        self.http_port = free_port()
        env = {
            **os.environ,
            "DISPYMON_NODES": ",".join(n.ip for n in nodes.nodes),
            "DISPYMON_DISPY_HOST": "127.0.0.1",
            "DISPYMON_DISPY_PORT": str(nodes.port_base),
            "DISPYMON_HTTP_HOST": "127.0.0.1",
            "DISPYMON_HTTP_PORT": str(self.http_port),
        }
        self.log = cwd / "example.log"
        with open(self.log, "wb") as out:  # dispy logs to stdout
            self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=cwd, env=env)  # fmt: skip
        self.ids = itertools.count(1)

    async def connect(self, session: aiohttp.ClientSession) -> WSClient:
        await asyncio.to_thread(wait_for_tcp, "127.0.0.1", self.http_port, 60, self.proc, "the example's dashboard")
        ws = WSClient(await session.ws_connect(f"http://127.0.0.1:{self.http_port}/ws"))
        assert (await ws.recv())["poll_sec"] == 10  # the seeds' default
        await ws.recv()
        await ws.send({"type": "view", "interval": 0.1})  # as a user sets "Update Interval Seconds"
        return ws

    async def call(self, ws: WSClient, name: str, **args) -> dict:
        cid = next(self.ids)
        await ws.send({"type": "command", "id": cid, "name": name, "args": args})
        await ws.until(lambda m: cid in m.results, timeout=30, what=f"result of {name}", fresh=False)
        return ws.results[cid]

    async def final_state(self, ws: WSClient) -> None:
        """Read until the server closes: what came before the close is the final state."""
        while (msg := await ws.ws.receive(timeout=60)).type == aiohttp.WSMsgType.BINARY:
            ws.messages.append(decode(msg.data))
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001, msg

    async def exit_code(self) -> int:
        return await asyncio.to_thread(self.proc.wait, 60)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def node_jobs(ws: WSClient, ip: str) -> dict:
    """The Node page of `ip`: its running jobs (a fresh snapshot)."""
    await ws.send({"type": "view", "node": ip})
    await ws.until(lambda m: m.node_jobs is not None and m.node_jobs["ip_addr"] == ip, what=f"{ip}'s jobs")
    return ws.node_jobs["jobs"]


async def test_sleeper_example_is_monitored_and_managed(local_nodes, tmp_path):
    """Seed 000's compute(n) example: 8 jobs of 15-20 s, all running at once on
    4 nodes of 2 CPUs; seen on the Monitor and Node pages, then terminated from
    the dashboard, so the program ends without waiting for them."""
    nodes = local_nodes(4, cpus=2, first=64, other_process=True)
    example = Example(EXAMPLES / "sleeper.py", nodes, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await example.connect(session)
            await ws.until(lambda m: m.clusters.get("compute", {}).get("jobs", {}).get("running") == 8,
                           timeout=60, what="the 8 jobs running")  # fmt: skip
            shown = ws.clusters["compute"]
            assert shown["jobs"]["submitted"] == 8 and shown["jobs"]["done"] == 0
            assert {ip: n["busy"] for ip, n in shown["nodes"].items()} == {n.ip: 2 for n in nodes.nodes}
            uids = []
            for node in nodes.nodes:
                jobs = await node_jobs(ws, node.ip)
                assert len(jobs) == 2
                for job in jobs.values():
                    assert 15 <= int(job["args"]) <= 20 and job["start_time"] and job["ip_addr"] == node.ip
                    uids.append(job["uid"])
            result = await example.call(ws, "terminate_jobs", uids=uids)
            assert set(result["value"]["results"].values()) == {"terminated"}, result
            await example.final_state(ws)  # cluster.wait() returns; the program shuts the server down
            assert ws.last_sent("compute", "jobs")["terminated"] == 8
        assert await example.exit_code() == 0, example.output()
    finally:
        example.stop()


async def test_objects_example_shows_jobs_with_their_str(local_nodes, tmp_path):
    """Seed 002's example: jobs whose argument is a C(s, i) with __str__, and
    `job.id = i` set after submit; the Node page shows both, as the seed's
    pictures do; the program ends with shutdown() after the final state."""
    nodes = local_nodes(2, cpus=2, first=68, other_process=True)
    example = Example(EXAMPLES / "objects.py", nodes, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await example.connect(session)
            seen: dict[str, dict] = {}
            ip = nodes.nodes[0].ip
            await ws.send({"type": "view", "node": ip})

            def running_jobs_seen(m) -> bool:
                # A C's __str__ is user code: made off the loop ('…' until then),
                # each job sent again once its text is made
                if m.node_jobs:
                    made = [job for job in m.node_jobs["jobs"].values() if "…" not in (job["id"], job["args"])]
                    seen.update({job["id"]: job for job in made})
                return len(seen) >= 2

            await ws.until(running_jobs_seen, timeout=60, what=f"jobs running on {ip}")
            for job_id, job in seen.items():
                assert re.fullmatch(r"[0-7]", job_id), job  # the id the program set after submit
                assert re.fullmatch(rf"C\({job_id}, \d\.\d{{4}}\)", job["args"]), job
                assert re.fullmatch(r"n=\d+", job["kwargs"]) and 5 <= int(job["kwargs"][2:]) <= 20, job
            await example.final_state(ws)
            jobs = ws.last_sent("compute", "jobs")
            assert (jobs["finished"], jobs["submitted"], jobs["running"]) == (8, 8, 0), jobs
        assert await example.exit_code() == 0, example.output()
    finally:
        example.stop()
