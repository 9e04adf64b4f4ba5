"""Hostile load: viewers flooding read-only queries (issue 16, docs/benchmarks.md "Hostile load").

    .venv/bin/python -m benchmarks.hostile_queries [--connections 40] [--rate 45] [--seconds 10]

A server (benchmarks/serve.py: a simulated cluster of 100 nodes, 200 events
a second) is given a full history (10,000 finished jobs), then a flood
process opens `--connections` WebSockets, each sending `history {limit:
1000}` `--rate` times a second (under the 50/s rate limit) for `--seconds`
and reading everything it is sent. Meanwhile this process is one more
browser (interval 0.25 s) timing the longest gap between its frames, and a
script timing `GET /api/clusters` one request after the other; the
server's RSS is sampled every 0.1 s. Prints one JSON line of figures.
Every process is stopped by its PID at the end; the load is bounded in count
and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import aiohttp
import msgpack
import psutil

from .common import PYTHON, Child

# The flood offers permessage-deflate as browsers do (HOSTILE_COMPRESS=0: it does not)
COMPRESS = int(os.environ.get("HOSTILE_COMPRESS", "15"))


def _head(frame: bytes) -> dict:
    """The fields of a frame up to its `ok` (a result's answer is not decoded: the flood only counts)."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(frame[:256])
    head: dict = {}
    try:
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if key in ("value", "clusters", "settings", "audit", "node_jobs"):
                break
            head[key] = unpacker.unpack()
    except msgpack.OutOfData:
        pass
    return head


async def flood(url: str, connections: int, rate: float, seconds: float, vary: bool = False,
                answer_wait: float = 30.0) -> dict:  # fmt: skip
    """`connections` sockets, each sending `rate` history queries a second for `seconds`, then
    reading until every query has its result (or `answer_wait` more seconds have passed)."""
    counts = {"sent": 0, "ok": 0, "busy": 0, "rate_limited": 0, "other_errors": 0, "unanswered": 0, "bytes": 0}
    closes: dict[str, int] = {}

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        async with session.ws_connect(url, max_msg_size=0, compress=COMPRESS) as ws:
            answered = 0
            all_answered = asyncio.Event()
            sent = 0
            sending = True

            async def read() -> None:
                nonlocal answered
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        break
                    counts["bytes"] += len(msg.data)
                    head = _head(msg.data)
                    if head.get("type") != "result":
                        continue
                    answered += 1
                    code = head.get("error", {}).get("code") if not head.get("ok") else None
                    if code is None and head.get("ok"):
                        counts["ok"] += 1
                    elif code is None:  # the error map comes after `ok`: read the whole (small) frame
                        body = msgpack.unpackb(msg.data, raw=False)
                        code = body["error"]["code"]
                    if code is not None:
                        counts[code if code in counts else "other_errors"] += 1
                    if not sending and answered >= sent:
                        all_answered.set()
                all_answered.set()  # closed: nothing more will come
                key = f"{ws.close_code}"
                closes[key] = closes.get(key, 0) + 1

            reader = asyncio.create_task(read())
            loop = asyncio.get_running_loop()
            start = loop.time()
            while loop.time() - start < seconds and not ws.closed:
                # --vary: a new question each time (offset), so no answer can be reused
                args = {"limit": 1000, "offset": (n * 97 + sent) % 9000} if vary else {"limit": 1000}
                await ws.send_bytes(msgpack.packb({"type": "command", "id": sent, "name": "history", "args": args}))
                counts["sent"] += 1
                sent += 1
                await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
            sending = False
            if answered >= sent:
                all_answered.set()
            try:
                await asyncio.wait_for(all_answered.wait(), answer_wait)
            except TimeoutError:
                pass
            counts["unanswered"] += sent - answered
            await ws.close()
            await asyncio.wait_for(reader, 30)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, n) for n in range(connections)), return_exceptions=True)
    return {**counts, "closes": closes}


async def observe(port: int, pid: int, seconds: float) -> dict:
    """One more browser's longest gap between frames, /api/clusters latency, the server's RSS."""
    proc = psutil.Process(pid)
    rss = [proc.memory_info().rss]
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{port}/ws", max_msg_size=0) as ws:
        await ws.send_bytes(msgpack.packb({"type": "view", "interval": 0.25}))
        stop = asyncio.Event()
        gaps: list[float] = []
        latencies: list[float] = []

        async def frames() -> None:
            last = time.monotonic()
            async for msg in ws:
                now = time.monotonic()
                if msg.type == aiohttp.WSMsgType.BINARY and msgpack.unpackb(msg.data, raw=False)["type"] in ("snapshot", "delta"):
                    gaps.append(now - last)
                    last = now
            gaps.append(time.monotonic() - last)

        async def rest() -> None:
            while not stop.is_set():
                t = time.monotonic()
                async with session.get(f"{base}/api/clusters") as resp:
                    await resp.read()
                latencies.append(time.monotonic() - t)
                await asyncio.sleep(0.1)

        async def memory() -> None:
            while not stop.is_set():
                rss.append(proc.memory_info().rss)
                await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(f()) for f in (frames, rest, memory)]
        flood_proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "benchmarks.hostile_queries", "--flood-only", "--port", str(port), *sys.argv[1:],
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(flood_proc.communicate(), seconds + 120)
        stop.set()
        await asyncio.sleep(1.0)  # what the server keeps after the flood (its trim runs each second)
        after = proc.memory_info().rss
        await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "rss_start_mb": rss[0] / 2**20, "rss_peak_mb": max(rss) / 2**20, "rss_after_mb": after / 2**20,
        "other_longest_gap_s": max(gaps[1:], default=None), "other_frames": len(gaps),
        "clusters_latency_max_s": max(latencies, default=None), "clusters_requests": len(latencies),
        "flood": json.loads(out.decode().strip().splitlines()[-1]),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--connections", type=int, default=40)
    p.add_argument("--rate", type=float, default=45.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--vary", action="store_true", help="each query asks a different page (no shared answers)")
    p.add_argument("--answer-wait", type=float, default=30.0, help="how long the flood waits for its last answers")
    p.add_argument("--flood-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.flood_only:
        url = f"ws://127.0.0.1:{args.port}/ws"
        print(json.dumps(asyncio.run(flood(url, args.connections, args.rate, args.seconds, args.vary, args.answer_wait))))
        return
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", "100", "--rate", "200", "--poll-sec", "1"])
    try:
        server.ask("emit 40000")  # a full history: 10,000 finished jobs and more
        while server.ask("stats")["applied"] < 40000:
            time.sleep(0.2)
        figures = asyncio.run(observe(server.hello["port"], server.hello["pid"], args.seconds))
    finally:
        server.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
