"""A SharedJobCluster through a real `dispyscheduler`, shown and managed by DispyHTTPServer.

The dispy client runs in a subprocess: dispy keeps one client scheduler per
process, and a SharedJobCluster takes it over for the shared protocol, which
would stop this process's JobClusters (the other tests' ones).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap

import aiohttp
import pytest

from dispymon.adapters.localnodes import LocalScheduler
from conftest import REPO, WSClient

pytestmark = pytest.mark.cluster

APP = textwrap.dedent("""
    import faulthandler, os, signal, sys
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks where a hung program waits
    import dispy
    from dispymon.entry.httpd import DispyHTTPServer

    class C(object):
        def __init__(self, s, i):
            self.s = s
            self.i = i

        def __str__(self):
            return 'C(%s, %.4f)' % (self.s, self.i)

    def setup():
        return 0

    def compute(obj, seconds):
        import time
        time.sleep(seconds)
        return obj.i

    if __name__ == '__main__':
        # SharedJobCluster wants the client's address as ip_addr (with ext_host): `host=` crashes it
        cluster = dispy.SharedJobCluster(
            compute, nodes=os.environ['NODES'].split(','), depends=[C], setup=setup,
            scheduler_host=os.environ['SCHEDULER'], dispy_port=int(os.environ['PORT']),
            ip_addr='127.0.0.1', ext_host='127.0.0.1', loglevel=dispy.logger.WARNING)
        http_server = DispyHTTPServer(cluster, host='127.0.0.1', port=0, poll_sec=0.1)
        print('port', http_server.port, flush=True)
        jobs = []
        for i in range(4):
            job = cluster.submit(C(str(i), i + 0.5), 60)
            job.id = i
            jobs.append(job)
        sys.stdin.read()  # the test closes our stdin when it is done
        print('statuses', sorted(job.status for job in jobs), flush=True)
        cluster.close(timeout=5, terminate=True)
        http_server.shutdown()
        cluster.shutdown()
""")


@pytest.fixture
def scheduler(local_nodes, tmp_path):
    """Two dispynodes and a dispyscheduler serving them, on their own port base."""
    nodes = local_nodes(2, cpus=2, first=60, other_process=True)
    sched = LocalScheduler("127.0.0.62", [n.ip for n in nodes.nodes], nodes.port_base, tmp_path / "scheduler").start()
    yield nodes, sched
    sched.stop()
    assert not sched.alive(), f"dispyscheduler (PID {sched.pid}) still running"


async def test_shared_job_cluster_is_monitored_and_managed(scheduler, tmp_path):
    nodes, sched = scheduler
    a, b = (n.ip for n in nodes.nodes)
    app = tmp_path / "shared_app.py"
    app.write_text(APP)
    env = {**os.environ, "NODES": f"{a},{b}", "SCHEDULER": sched.ip, "PORT": str(nodes.port_base),
           "PYTHONPATH": str(REPO / "backend")}  # fmt: skip
    # dispy logs to stdout: one stream, read line by line
    proc = subprocess.Popen([sys.executable, str(app)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)  # fmt: skip
    ids = itertools.count(1)

    async def call(ws: WSClient, name: str, **args):
        cid = next(ids)
        await ws.send({"type": "command", "id": cid, "name": name, "args": args})
        await ws.until(lambda m: cid in m.results, timeout=30, what=f"result of {name}", fresh=False)
        return ws.results[cid]

    try:
        port = await wait_for_port(proc)
        url = f"http://127.0.0.1:{port}/ws"
        async with aiohttp.ClientSession() as session:
            ws = WSClient(await session.ws_connect(url))
            await ws.until(lambda m: m.clusters.get("compute", {}).get("jobs", {}).get("running") == 4,
                           what="4 jobs running on the shared cluster")  # fmt: skip
            shown = ws.clusters["compute"]
            assert shown["kind"] == "SharedJobCluster"
            assert set(shown["nodes"]) == {a, b}, "the scheduler's pseudo-node is not a compute node"
            assert all(n["cpus"] == 2 and n["busy"] == 2 for n in shown["nodes"].values())

            # Node page: the jobs running on a, with their arguments as the seed shows them
            await ws.send({"type": "view", "node": a})
            # a C's __str__ is user code, made off the loop: '…' until the next delta brings it
            await ws.until(
                lambda m: m.node_jobs
                and len(m.node_jobs["jobs"]) == 2
                and all("…" not in (j["id"], j["args"]) for j in m.node_jobs["jobs"].values()),
                what="a's running jobs, their texts made",
            )
            jobs = list(ws.node_jobs["jobs"].values())
            for job in jobs:
                assert job["args"] == f"C({job['id']}, {int(job['id']) + 0.5:.4f}), 60" and job["cluster"] == "compute"

            # terminate one job through the scheduler
            result = await call(ws, "terminate_jobs", uids=[jobs[0]["uid"]])
            assert result["value"]["results"] == {str(jobs[0]["uid"]): "terminated"}
            await ws.until(lambda m: m.clusters["compute"]["jobs"]["terminated"] == 1, what="a terminated job")

            # CPUs: not applicable to a SharedJobCluster (its scheduler owns them)
            cpus = await call(ws, "set_node_cpus", ip=a, cpus=1)
            assert cpus["error"]["code"] == "not_allowed"
            assert "dispyscheduler" in cpus["error"]["message"]

            # deallocate and allocate a node through the scheduler
            for name, status in (("deallocate_node", "deallocated"), ("allocate_node", "initialized")):
                result = await call(ws, name, ip=b)
                assert result["ok"], result
                await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == status, what=f"{b} {status}")
            # close it, terminating its jobs (a busy node's close without that waits for its jobs, and
            # dispyscheduler gives up after 10 s: see docs/dispy-notes.md)
            result = await call(ws, "close_node", ip=b, terminate_pending=True)
            assert result["ok"], result
            await ws.until(lambda m: m.clusters["compute"]["nodes"][b]["status"] == "closed", what=f"{b} closed")
            await ws.until(lambda m: m.clusters["compute"]["jobs"]["terminated"] == 3, what="b's 2 jobs terminated")
            assert [e["action"] for e in ws.audit if e["state"] == "ok"] == [
                "terminate_jobs", "deallocate_node", "allocate_node", "close_node"]  # fmt: skip

            # end the last job; the program then shuts the server down
            left = [int(uid) for uid in await node_uids(ws, a)]
            assert len(left) == 1
            result = await call(ws, "terminate_jobs", uids=left)
            assert result["value"]["results"] == {str(left[0]): "terminated"}
            await ws.until(lambda m: m.clusters["compute"]["jobs"]["done"] == 4, what="every job done")
            proc.stdin.close()
            while (msg := await ws.ws.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY:
                pass
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001
        out = await asyncio.wait_for(asyncio.to_thread(proc.stdout.read), 60)
        assert await asyncio.to_thread(proc.wait, 30) == 0, out
        assert "statuses [9, 9, 9, 9]" in out  # dispy's Terminated, as the dashboard showed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read_port(proc: subprocess.Popen, lines: list[str]) -> int:
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("port "):
            return int(line.split()[1])
    raise AssertionError("the program ended before serving: " + "".join(lines))


async def wait_for_port(proc: subprocess.Popen, timeout: float = 60) -> int:
    """The program's dashboard port; on a timeout, what the program said (dispy's warnings) in the failure."""
    lines: list[str] = []
    reader = asyncio.ensure_future(asyncio.to_thread(read_port, proc, lines))
    try:
        return await asyncio.wait_for(asyncio.shield(reader), timeout)
    except TimeoutError:
        # where it waits: the program dumps its threads' stacks (faulthandler) on SIGUSR1
        proc.send_signal(signal.SIGUSR1)
        loop = asyncio.get_running_loop()
        deadline, seen = loop.time() + 10, -1
        while loop.time() < deadline:  # polling for the whole dump (a condition): it has come and stopped growing
            if len(lines) == seen and any("most recent call first" in line for line in lines):
                break
            seen = len(lines)
            await asyncio.sleep(0.5)
        proc.kill()
        await asyncio.wait([reader], timeout=10)
        if reader.done():
            reader.exception()  # the program's end, already in `lines`
        raise AssertionError(f"the program did not serve within {timeout:g} s; it said:\n" + "".join(lines)) from None


HELD_PORT_APP = textwrap.dedent("""
    import os
    import dispy
    import dispymon.httpd  # as a program using the dashboard does, before making its cluster

    def compute(x):
        return x

    cluster = dispy.SharedJobCluster(
        compute, nodes=os.environ['NODES'].split(','), scheduler_host=os.environ['SCHEDULER'],
        dispy_port=int(os.environ['PORT']), ip_addr='127.0.0.1', ext_host='127.0.0.1',
        loglevel=dispy.logger.WARNING)
    print('constructed', flush=True)
""")


async def test_a_shared_cluster_whose_port_is_taken_says_so_instead_of_hanging(scheduler, tmp_path):
    """dispy's client cannot bind its port (here held by a connection, as an outgoing
    connection's ephemeral port or its TIME_WAIT holds it): the scheduler cannot connect
    back and the constructor would wait for ever. dispymon says why and raises."""
    nodes, sched = scheduler
    listener = socket.create_server(("127.0.0.1", 0))
    holder = socket.socket()
    holder.bind(("127.0.0.1", nodes.port_base))
    holder.connect(listener.getsockname())
    app = tmp_path / "held_port_app.py"
    app.write_text(HELD_PORT_APP)
    env = {**os.environ, "NODES": ",".join(n.ip for n in nodes.nodes), "SCHEDULER": sched.ip,
           "PORT": str(nodes.port_base), "PYTHONPATH": str(REPO / "backend"), "DISPYMON_SHARED_WAIT": "2"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(app)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path, env=env)  # fmt: skip
    try:
        out = await asyncio.wait_for(asyncio.to_thread(proc.stdout.read), 60)
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        holder.close()
        listener.close()
    assert f"Could not bind TCP server to 127.0.0.1:{nodes.port_base}" in out, out  # dispy's own word
    assert code != 0 and "constructed" not in out, out
    assert "SharedClusterError" in out, out
    assert f"nothing listens at 127.0.0.1:{nodes.port_base}, where the scheduler must connect back" in out, out


async def node_uids(ws: WSClient, ip: str) -> list[str]:
    await ws.send({"type": "view", "node": ip})
    await ws.until(lambda m: m.node_jobs is not None and m.node_jobs["ip_addr"] == ip, what=f"{ip}'s jobs")
    return list(ws.node_jobs["jobs"])
