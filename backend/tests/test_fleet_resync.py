"""A central that falls behind a program's stream past its retention resyncs from a snapshot, and says so."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from conftest import REPO, WSClient
from dispymon.adapters.localnodes import stop_group, wait_for_tcp
from dispymon.fleet.broker import events_key
from dispymon.fleet.publisher import PIPELINE_ENTRIES
from fleettools import RedisServer, dispy_jobs_record, free_port, jobs_of, programs  # noqa: F401

pytestmark = pytest.mark.cluster


@pytest.fixture
def redis_server(tmp_path: Path):
    # small stream nodes, so that MAXLEN ~ trims after a few entries (Redis trims whole nodes)
    server = RedisServer(tmp_path / "redis", extra=("--stream-node-max-entries", "4")).start()
    yield server
    server.stop()


def fleet(ws: WSClient) -> dict:
    return [m for m in ws.messages if m["type"] == "snapshot"][-1]["fleet"]


async def test_a_central_past_retention_resyncs_from_a_snapshot(redis_server, programs, tmp_path, env_without_coverage) -> None:  # noqa: F811,E501
    port = free_port()
    with (tmp_path / "central.log").open("wb") as log:
        central = subprocess.Popen(
            [sys.executable, "-m", "dispymon", "serve", "--broker", redis_server.url, "--port", str(port),
             "--poll-sec", "0.2"],
            cwd=REPO, env=env_without_coverage, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    client = aioredis.Redis.from_url(redis_server.url)
    session = aiohttp.ClientSession()
    try:
        wait_for_tcp("127.0.0.1", port, 60.0, central, what="dispymon central")
        ws = WSClient(await session.ws_connect(f"http://127.0.0.1:{port}/ws"))
        lab = programs("lab-R", first=2, jobs=300, fail_every=5, seconds=0.2, extra=["--fleet-retention", "8"])
        name = "lab-R/compute"
        await ws.until(lambda w: jobs_of(w, name)["done"] > 0, 60, "jobs done on the central")
        os.kill(central.pid, signal.SIGSTOP)
        try:
            newest = await client.xrevrange(events_key("lab-R"), count=1)
            behind = int(newest[0][1][b"n"])  # the stopped central has read this far at most
            async def first_n() -> int:
                oldest = await client.xrange(events_key("lab-R"), count=1)
                return int(oldest[0][1][b"n"])

            # until the entries after it are trimmed: the central's read blocked in Redis when it was
            # stopped still takes the next entries (a pipeline's worth at most), hence the margin
            while await first_n() <= behind + PIPELINE_ENTRIES + 5:
                assert lab.proc.poll() is None, "the program ended before its stream moved past the central"
                await asyncio.sleep(0.1)  # the polling interval of a condition wait
        finally:
            os.kill(central.pid, signal.SIGCONT)

        def resynced(w: WSClient) -> bool:
            p = fleet(w)["programs"]["lab-R"]
            return p["resyncs"] >= 1 and p["resynced"] is not None

        await ws.until(resynced, 60, "the page saying lab-R was resynced from a snapshot")
        counts = lab.dispy_counts()
        await ws.until(lambda w: jobs_of(w, name) == dispy_jobs_record(counts), 60, "counts = dispy's after the resync")
    finally:
        await session.close()
        await client.aclose()
        stop_group(central, 15.0)
