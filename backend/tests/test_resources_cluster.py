"""Each node's resources over time on real dispynode processes (psutil in the venv: they send avail info).

The test records what dispy's node objects report with each pulse (a status
callback chained after dispymon's tap, reading the node object as dispy hands
it over) and compares the `node_resources` answers with it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp
import dispy
import pytest

from dispymon.features.resources import QUANTA
from test_httpd import connect, new_server, setup  # noqa: F401 - fixtures
from conftest import job_result

pytestmark = pytest.mark.cluster

PULSES = 4  # pulses per node the comparison waits for


def work(seconds):
    import time

    time.sleep(seconds)
    return seconds


class Recorder:
    """dispy's AvailInfo status events, as its node objects report them: (update_time, cpu, memory, disk, swap)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pulses: dict[str, list[tuple[float, float, int, int, float]]] = {}

    def chain(self, cluster: Any) -> None:
        tap = cluster.cluster_status  # dispymon's, installed by the server

        def status(code: int, node: Any, job: Any) -> None:
            if code == dispy.DispyNode.AvailInfo and node is not None and node.avail_info is not None:
                a = node.avail_info
                with self.lock:
                    self.pulses.setdefault(node.ip_addr, []).append((node.update_time, a.cpu, a.memory, a.disk, a.swap))
            tap(code, node, job)

        cluster.cluster_status = status

    def of(self, ip: str) -> list[tuple[float, float, int, int, float]]:
        with self.lock:
            return list(self.pulses.get(ip, ()))


def close(a: float | None, b: float, quantum: float) -> bool:
    return a is not None and abs(a - b) <= quantum / 2 + 1e-9


async def test_a_nodes_points_are_the_avail_info_of_its_pulses(local_nodes, dispy_port, new_server):  # noqa: F811
    nodes = local_nodes(2, cpus=1, first=110)
    ips = [n.ip for n in nodes.nodes]

    def make() -> dispy.JobCluster:
        return dispy.JobCluster(work, nodes=ips, host="127.0.0.1", dispy_port=dispy_port, setup=setup,
                                pulse_interval=2, loglevel=dispy.logger.WARNING)  # fmt: skip

    cluster = await asyncio.to_thread(make)
    recorder = Recorder()
    try:
        server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
        recorder.chain(cluster)
        jobs = [cluster.submit(0.5) for _ in range(4)]  # some load, so the CPU moves
        async with aiohttp.ClientSession() as session:
            ws = await connect(session, server)
            cid = 0

            async def ask(args: dict[str, Any]) -> dict[str, Any]:
                nonlocal cid
                cid += 1
                await ws.send({"type": "command", "id": cid, "name": "node_resources", "args": args})
                await ws.until(lambda m: cid in m.results, what=f"the answer to {args}", fresh=False)
                result = ws.results[cid]
                assert result["ok"], result
                return result["value"]

            for ip in ips:
                await ws.until(lambda m: len(recorder.of(ip)) >= PULSES, timeout=60, what=f"{PULSES} pulses of {ip}")
                pulses = recorder.of(ip)
                # the second of each pulse in the answer (two in one second: the later is the second's)
                want = {int(t): (cpu, memory, disk, swap) for t, cpu, memory, disk, swap in pulses}
                got = await ask({"node": ip, "span": "10m"})
                assert got["kept"] and got["step"] == 1
                points = {t: (got["cpu"][i], got["memory"][i], got["disk"][i], got["swap"][i])
                          for i, t in enumerate(got["times"])}  # fmt: skip
                for second, (cpu, memory, disk, swap) in want.items():
                    assert second in points, f"no point at {second} for {ip}: {sorted(points)}"
                    p = points[second]
                    assert close(p[0], cpu, QUANTA["cpu"]) and close(p[3], swap, QUANTA["swap"]), (p, cpu, swap)
                    assert close(p[1], memory, QUANTA["memory"]) and close(p[2], disk, QUANTA["disk"]), (p, memory, disk)
                # and no point that is not a pulse's
                assert set(points) <= set(want) | {int(t) for t, *_ in recorder.of(ip)}
                # the day's last minute: the mean of that minute's pulses so far
                day = await ask({"node": ip, "span": "day"})
                minute = day["times"][-1]
                cpus = [cpu for t, cpu, *_ in recorder.of(ip) if int(t) // 60 * 60 == minute]
                assert cpus and abs(day["cpu"][-1] - sum(cpus) / len(cpus)) <= 0.02 + 0.01 * len(recorder.of(ip))
            # the sparklines of both nodes, over REST as well
            async with session.get(server.url + "api/resources", params={"nodes": ",".join(ips)}) as r:
                assert r.status == 200, await r.text()
                sparks = await r.json()
            for ip in ips:
                values = [v for v in sparks["nodes"][ip] if v is not None]
                assert values and all(0 <= v <= 100 for v in values)
            async with session.get(server.url + "api/resources", params={"node": ips[0], "span": "week"}) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "invalid"
            await ws.ws.close()
        for job in jobs:
            await job_result(job)
        await asyncio.to_thread(server.shutdown, True)
    finally:
        await asyncio.to_thread(cluster.close, 0, True)
