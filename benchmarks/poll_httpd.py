"""dispy.httpd's browser, headless: polls /cluster_updates as its monitor.html does.

    python -m benchmarks.poll_httpd --url http://127.0.0.1:PORT --poll-sec 1 [--proxy]

Like dispy's page: one /cluster_status for the full state, then
/cluster_updates, each next request `poll_sec` after the previous answer
(setTimeout in monitor.html). Records the bytes of each answer (body, and on
the wire through a counting proxy with --proxy) and, for every node in it,
how old its update is (now − the node's update_time, which the replaying
server stamps at the callback).

Prints {"ready": …} after the first answer; stdin: `mark` (figures since the
last mark), `quit`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp

from .clients import CountingProxy


async def main_async(args: argparse.Namespace) -> None:
    url = args.url.rstrip("/")
    proxy = None
    if args.proxy:
        port = int(url.rsplit(":", 1)[1])
        proxy = CountingProxy(port)
        url = url.replace(f":{port}", f":{await proxy.start()}")
    figures = {"requests": 0, "body_bytes": 0, "ages": [], "nodes": 0, "done": None}

    async with aiohttp.ClientSession(headers={"Accept-Encoding": "identity"}) as session:

        async def get(path: str) -> None:
            async with session.get(url + path) as response:
                body = await response.read()
            now = time.time()
            figures["requests"] += 1
            figures["body_bytes"] += len(body)
            for cluster in json.loads(body):
                figures["done"] = cluster["jobs"]["done"]
                for node in cluster["nodes"]:
                    figures["nodes"] += 1
                    figures["ages"].append(now - node["update_time"])

        await get("/cluster_status")
        print(json.dumps({"ready": True, "proxy": proxy is not None}), flush=True)

        async def poll() -> None:
            while True:
                await asyncio.sleep(args.poll_sec)
                await get("/cluster_updates")

        poller = asyncio.create_task(poll())
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            if line == "mark":
                body = {"t": time.time(), **figures, "wire_down": proxy.down if proxy else None,
                        "wire_up": proxy.up if proxy else None}  # fmt: skip
                print(json.dumps(body), flush=True)
                figures.update(requests=0, body_bytes=0, ages=[], nodes=0)  # wire counts stay cumulative
            elif line == "quit":
                break
        poller.cancel()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--poll-sec", type=float, default=1.0)
    p.add_argument("--proxy", action="store_true")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
