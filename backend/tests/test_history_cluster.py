"""History, series and metrics on a real cluster (DispyHTTPServer, real dispynodes), kept across a restart."""

from __future__ import annotations

import asyncio

import aiohttp
import dispy
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import dispynode_start_race, job_result, wait_until
from test_httpd import connect, new_cluster, new_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.cluster


def work(seconds, fail=False):
    import time

    time.sleep(seconds)
    if fail:
        raise KeyError(f"no such key {seconds}")
    return seconds


async def test_real_outcomes_in_history_series_and_metrics_then_a_restart(local_nodes, new_cluster, new_server, tmp_path):  # noqa: F811
    nodes = local_nodes(2, cpus=1, first=20)
    ips = [n.ip for n in nodes.nodes]
    db = tmp_path / "history.db"
    cluster = await asyncio.to_thread(new_cluster, work, ips)
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1, history_db=db)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        jobs = [cluster.submit(0.1) for _ in range(4)] + [cluster.submit(0.1, fail=True)]
        for job in jobs:
            await job_result(job)
        long = cluster.submit(60)
        await ws.until(lambda m: m.clusters["work"]["jobs"]["running"] == 1 and long.status == dispy.DispyJob.Running,
                       what="the long job running")  # fmt: skip
        assert await asyncio.to_thread(cluster.cancel, long) == 0
        await asyncio.to_thread(long)
        await ws.until(lambda m: m.clusters["work"]["jobs"]["done"] == 6, what="six jobs done")

        async def run(cid, name, args=None):
            await ws.send({"type": "command", "id": cid, "name": name, "args": args or {}})
            while True:
                message = await ws.recv()
                if message["type"] == "result" and message["id"] == cid:
                    assert message["ok"], message
                    return message["value"]

        history = await run(1, "history")
        assert history["total"] == 6
        outcomes = sorted(j["outcome"] for j in history["jobs"])
        assert outcomes == ["failed", "finished", "finished", "finished", "finished", "terminated"]
        failed = next(j for j in history["jobs"] if j["outcome"] == "failed")
        assert (failed["exception_type"], failed["exception_message"]) == ("KeyError", "'no such key 0.1'")
        assert all(j["node"] in ips and j["end_time"] >= j["start_time"] for j in history["jobs"])
        summary = await run(2, "history_summary")
        assert summary["failures"][0]["type"] == "KeyError" and summary["failures"][0]["count"] == 1
        series = await run(3, "series", {"cluster": "work"})
        assert sum(series["done"]) == 6
        async with session.get(server.url + "metrics") as r:
            families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        jobs_total = {s.labels["outcome"]: s.value for s in families["dispymon_jobs"].samples}
        assert jobs_total == {"finished": 4, "failed": 1, "terminated": 1, "cancelled": 0, "abandoned": 0}
        count = [s.value for s in families["dispymon_job_duration_seconds"].samples
                 if s.name.endswith("_count")]  # fmt: skip
        assert count == [6]
        assert {s.labels["node"] for s in families["dispymon_node_cpus"].samples} == set(ips)
        await ws.ws.close()
    await asyncio.to_thread(server.shutdown, True)

    # a new server on the same file starts with the previous run's jobs
    again = await asyncio.to_thread(new_server, None, history_db=db)
    async with aiohttp.ClientSession() as session:
        async with session.get(again.url + "api/history", params={"limit": "10"}) as r:
            body = await r.json()
    assert body["total"] == 6 and sorted(j["uid"] for j in body["jobs"]) == sorted(j["uid"] for j in history["jobs"])


def echo_reversed(data):
    return data[::-1]  # a result as big as the argument, its own object


JOBS, SIZE = 150, 2 * 2**20  # 150 jobs, 2 MiB arguments and 2 MiB results


async def test_finished_jobs_keep_nothing_of_their_arguments_or_results(local_nodes, new_cluster, new_server):  # noqa: F811
    # dispymon runs inside the user's program: what it keeps of a finished job
    # must not depend on the job's arguments or result, read or not.
    import gc

    import psutil

    from dispymon.features import memory

    nodes = local_nodes(2, cpus=2, first=30)
    cluster = await asyncio.to_thread(new_cluster, echo_reversed, [n.ip for n in nodes.nodes])
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.5)
    me = psutil.Process()

    lost = []  # jobs dispynode lost to its own start race (conftest.dispynode_start_race), run again

    async def run(count: int) -> None:
        jobs = [cluster.submit(bytes(SIZE)) for _ in range(min(count, 8))]
        submitted = len(jobs)
        while jobs:  # eight at a time: the program holds a few jobs, never all
            job = jobs.pop(0)
            result = await job_result(job)
            if dispynode_start_race(job) and len(lost) < 3:
                lost.append(job.status)
                jobs.append(cluster.submit(bytes(SIZE)))
                continue
            assert job.status == dispy.DispyJob.Finished and len(result) == SIZE, job.exception
            if submitted < count:
                jobs.append(cluster.submit(bytes(SIZE)))
                submitted += 1
        del job, result

    from dispymon.features.rest import JOBS as JOBS_KEY

    jobs = server._runtime.app[JOBS_KEY]

    def kept() -> int:
        """Bytes the budgets hold: pickled arguments (resubmission) and details (result texts)."""
        return jobs.args.used + jobs.details.used

    def settled_rss() -> int:
        gc.collect()
        memory.trim()
        return me.memory_info().rss

    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await run(8)  # dispy's and dispymon's own buffers, made once
        await ws.until(lambda m: m.clusters[cluster.name]["jobs"]["done"] == 8 + len(lost),
                       what="the warm-up jobs done")  # fmt: skip
        start, kept_start = settled_rss(), kept()
        await run(JOBS)
        await ws.until(lambda m: m.clusters[cluster.name]["jobs"]["done"] == 8 + JOBS + len(lost), timeout=120,
                       what="every job done, as the dashboard shows it")  # fmt: skip
        await asyncio.to_thread(wait_until, lambda: jobs.guard.unanswered() == 0, what="the guard's answers in")
        after, kept_after = settled_rss(), kept()
        await ws.ws.close()
    # Only the resubmit budget keeps arguments (the last of them, within --resubmit-budget),
    # and the outputs budget the result texts: nothing else does. The history was never read:
    # the jobs' records were not made, their events kept (holding none of the jobs' objects).
    assert jobs.args.used <= jobs.args.budget and jobs.details.used <= jobs.details.budget
    assert len(jobs.args) > 0  # the pickles are kept (so the subtraction below is not of nothing)
    grown = (after - start) - (kept_after - kept_start)
    assert grown < 20 * 2**20, (
        f"RSS {start / 2**20:.0f} MB -> {after / 2**20:.0f} MB after {JOBS} jobs, "
        f"{(kept_after - kept_start) / 2**20:.0f} MB of it kept within the budgets"
    )
