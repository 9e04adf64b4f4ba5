"""Headless dashboard clients in their own process: aiohttp WebSockets + msgpack.

    python -m benchmarks.clients --url ws://127.0.0.1:PORT/ws --clients 100 --interval 1

Each client does what the browser's socket does: reads hello and snapshot,
asks for its update interval, applies deltas in sequence (a gap: resync),
and offers permessage-deflate as browsers do (`--no-compress` not to). It
records frames, bytes, and for every node record it receives how old the
record is (now − the node's update_time; the server stamps it at the
callback when run with --realtime).

`--proxy` routes the clients through a byte-counting TCP proxy, for the bytes
on the wire (compressed frames, WebSocket and HTTP headers included).

Prints {"ready": …} once every client has its snapshot, then answers stdin:
    mark      per-client figures since the last mark (frames, bytes, lag, age samples)
    settled S whether every client has had a delta since its snapshot and, for
              those that decode node records, the newest one was at most S s old
    state     each client's view of the jobs counters (done) and its last seq
    verify    (with --keep-state) the clients that decode every record ask for a
              fresh snapshot and compare it with the state they rebuilt from
              their snapshot and deltas: {"checked", "equal"}
    crowd     per client: when its snapshot came (wall clock), its longest gap
              between frames since then (the gap still open included), frames,
              sequence gaps (benchmarks/b12_crowd.py)
    quit

`--start-at T` (a wall-clock time): print {"waiting": …} at once, then open
every connection at T with no stagger, so that several client processes
stand for one crowd of browsers arriving together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp
import msgpack


class Client:
    def __init__(self, index: int, keep_ages: bool, full: bool = True) -> None:
        self.index = index
        self.keep_ages = keep_ages
        self.full = full  # decode every record; else only type, seq and the job counters (skipping the rest in C)
        self.seq: int | None = None
        self.jobs: dict[str, dict] = {}
        self.frames = 0
        self.bytes = 0
        self.gaps = 0
        self.snapshots = 0
        self.ages: list[float] = []  # seconds, per node record received
        self.lag_max = 0.0  # the newest record of a delta: how old it was
        self.lags: list[float] = []
        self.ready = asyncio.Event()
        self.last_frame = 0.0
        self.deltas = 0  # since the last snapshot
        self.last_lag: float | None = None  # of the newest delta with node records
        self.snapshot_at: float | None = None  # wall clock of the first snapshot
        self.gap_max = 0.0  # the longest time between two frames since the first snapshot
        self.seq_gaps = 0  # sequence gaps in all (not reset by mark)
        self.keep_state = False  # full clients: merge every delta into `state` (--keep-state)
        self.state: dict | None = None  # clusters, rebuilt from the snapshot and deltas
        self.checking: asyncio.Future | None = None  # verify: the next snapshot is compared with `state`
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.all_lags: list[float] = []  # every lag since the start (not reset by mark)

    def mark(self) -> dict:
        body = {"i": self.index, "frames": self.frames, "bytes": self.bytes, "gaps": self.gaps,
                "snapshots": self.snapshots, "lag_max": self.lag_max, "lags": self.lags,
                "ages": self.ages if self.keep_ages else []}  # fmt: skip
        self.frames = self.bytes = self.gaps = 0
        self.lag_max = 0.0
        self.lags = []
        self.ages = []
        return body

    def _light(self, data: bytes) -> dict:
        """The frame's type, seq and each cluster's jobs record; node records skipped undecoded."""
        u = msgpack.Unpacker(raw=False, strict_map_key=False)
        u.feed(data)
        msg: dict = {}
        for _ in range(u.read_map_header()):
            key = u.unpack()
            if key == "clusters":
                clusters = msg["clusters"] = {}
                for _ in range(u.read_map_header()):
                    name = u.unpack()
                    change = clusters[name] = {}
                    for _ in range(u.read_map_header()):
                        field = u.unpack()
                        if field == "jobs":
                            change["jobs"] = u.unpack()
                        else:
                            u.skip()
            elif key in ("type", "seq"):
                msg[key] = u.unpack()
            else:
                u.skip()
        return msg

    def receive(self, data: bytes) -> bytes | None:
        """Apply one frame; the bytes of a message to send back (resync), if any."""
        self.frames += 1
        self.bytes += len(data)
        msg = msgpack.unpackb(data, raw=False, strict_map_key=False) if self.full else self._light(data)
        now = time.time()  # decoded: what the page would now show
        if self.snapshot_at is not None and now - self.last_frame > self.gap_max:
            self.gap_max = now - self.last_frame
        self.last_frame = now
        kind = msg["type"]
        if kind == "snapshot":
            self.snapshots += 1
            if self.snapshot_at is None:
                self.snapshot_at = now
            if self.checking is not None and not self.checking.done():
                self.checking.set_result(self.state == msg["clusters"])
            if self.keep_state and self.full:
                self.state = msg["clusters"]
            self.deltas = 0
            self.seq = msg["seq"]
            self.jobs = {name: c["jobs"] for name, c in msg["clusters"].items()}
            self.ready.set()
        elif kind == "delta":
            if self.seq is None:
                return None
            if msg["seq"] != self.seq + 1:
                self.gaps += 1
                self.seq_gaps += 1
                self.seq = None
                return msgpack.packb({"type": "resync"})
            self.seq = msg["seq"]
            self.deltas += 1
            if self.state is not None:
                _merge(self.state, msg.get("clusters") or {})
            newest = 0.0
            for name, change in (msg.get("clusters") or {}).items():
                if change is None:
                    self.jobs.pop(name, None)
                    continue
                if "jobs" in change:
                    self.jobs[name] = change["jobs"]
                for node in (change.get("nodes") or {}).values():
                    # a node's changed fields only: update_time is among them
                    # whenever the node reported (it is stamped at each call)
                    t = node.get("update_time") if node is not None else None
                    if t is None:
                        continue
                    if t > newest:
                        newest = t
                    if self.keep_ages:
                        self.ages.append(now - t)
            if newest:
                lag = self.last_lag = now - newest
                self.lags.append(lag)
                self.all_lags.append(lag)
                if lag > self.lag_max:
                    self.lag_max = lag
        return None


def _merge(clusters: dict, change: dict) -> None:
    """A delta's `clusters` applied as the browser's reducer does (state.ts)."""
    for name, c in change.items():
        if c is None:
            clusters.pop(name, None)
            continue
        held = clusters.setdefault(name, {})
        for key, value in c.items():
            if key != "nodes":
                held[key] = value
                continue
            nodes = held.setdefault("nodes", {})
            for ip, fields in value.items():
                if fields is None:
                    nodes.pop(ip, None)
                else:
                    nodes.setdefault(ip, {}).update(fields)


async def run_client(session: aiohttp.ClientSession, url: str, client: Client, interval: float | None,
                     compress: bool) -> None:  # fmt: skip
    async with session.ws_connect(url, compress=15 if compress else 0, max_msg_size=0, autoping=True) as ws:
        client.ws = ws
        if interval is not None:
            await ws.send_bytes(msgpack.packb({"type": "view", "interval": interval}))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                # the page decodes each frame when it arrives: so do we, timing included
                back = client.receive(msg.data)
                if back is not None:
                    await ws.send_bytes(back)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                break


class CountingProxy:
    """A TCP proxy counting the bytes each way (server → client is what we want)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.down = 0
        self.up = 0
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            try:
                while data := await src.read(1 << 16):
                    if down:
                        self.down += len(data)
                    else:
                        self.up += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


async def main_async(args: argparse.Namespace) -> None:
    url = args.url
    proxy = None
    if args.proxy:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        proxy = CountingProxy(port)
        url = url.replace(f":{port}/", f":{await proxy.start()}/")
    full = args.clients if args.full is None else args.full
    clients = [Client(i, keep_ages=(i < args.age_clients), full=(i < full)) for i in range(args.clients)]
    for c in clients:
        c.keep_state = args.keep_state
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    # --local-addr: connections from another loopback address (the server admits at most 256 per address)
    connector = aiohttp.TCPConnector(limit=0, local_addr=(args.local_addr, 0) if args.local_addr else None)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = []
        if args.start_at is not None:
            print(json.dumps({"waiting": len(clients), "start_at": args.start_at}), flush=True)
            await asyncio.sleep(max(0.0, args.start_at - time.time()))
        for c in clients:
            compress = not args.no_compress and (c.full or not args.light_plain)
            tasks.append(asyncio.create_task(run_client(session, url, c, args.interval, compress)))
            if args.start_at is None:
                await asyncio.sleep(args.stagger)  # browsers do not all arrive in the same millisecond
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 300)
        print(json.dumps({"ready": len(clients), "proxy": proxy is not None}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            if line == "mark":
                body = {"t": time.time(), "clients": [c.mark() for c in clients],
                        "wire_down": proxy.down if proxy else None, "wire_up": proxy.up if proxy else None,
                        "alive": sum(1 for t in tasks if not t.done())}  # fmt: skip
                print(json.dumps(body), flush=True)
            elif line.startswith("settled "):
                limit = float(line.split()[1])
                waiting = sum(1 for c in clients if c.deltas == 0 or (c.full and (c.last_lag is None or c.last_lag > limit)))
                print(json.dumps({"settled": waiting == 0, "waiting": waiting}), flush=True)
            elif line == "state":
                print(json.dumps({"t": time.time(), "jobs": [c.jobs for c in clients], "seq": [c.seq for c in clients],
                                  "last_frame": [c.last_frame for c in clients]}), flush=True)  # fmt: skip
            elif line == "verify":
                checking = [c for c in clients if c.state is not None and c.ws is not None and not c.ws.closed]
                for c in checking:
                    c.checking = loop.create_future()
                    await c.ws.send_bytes(msgpack.packb({"type": "resync"}))
                done, _ = await asyncio.wait([c.checking for c in checking], timeout=60) if checking else (set(), set())
                equal = sum(1 for f in done if f.result())
                print(json.dumps({"checked": len(checking), "equal": equal, "answered": len(done)}), flush=True)
            elif line == "crowd":
                now = time.time()
                print(json.dumps({"t": now, "snapshot_at": [c.snapshot_at for c in clients],
                                  "gap_max": [max(c.gap_max, now - c.last_frame) for c in clients],
                                  "seq_gaps": [c.seq_gaps for c in clients], "snapshots": [c.snapshots for c in clients],
                                  "lags": [lag for c in clients for lag in c.all_lags],
                                  "alive": sum(1 for t in tasks if not t.done())}), flush=True)  # fmt: skip
            elif line == "quit":
                break
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--interval", type=float, default=None, help="each client's update interval (default: the server's)")
    p.add_argument("--no-compress", action="store_true")
    p.add_argument("--proxy", action="store_true")
    p.add_argument("--age-clients", type=int, default=1, help="how many clients keep every record's age")
    p.add_argument("--stagger", type=float, default=0.02)
    p.add_argument("--start-at", type=float, default=None, help="wall-clock time to open every connection at once")
    p.add_argument("--local-addr", default=None, help="the loopback address to connect from")
    p.add_argument("--light-plain", action="store_true",
                   help="the clients that do not decode every record do not offer compression (no inflating)")
    p.add_argument("--keep-state", action="store_true", help="full clients rebuild the state from every delta (verify)")
    p.add_argument("--full", type=int, default=None,
                   help="how many clients decode every node record (default all); the others read only "
                        "type, seq and job counters, so one process can stand in for many browsers")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
