"""The `timeline` query and /api/timeline (issue 19) on a real cluster, compared with dispy's job objects."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import dispy
import pytest

from test_httpd import connect, new_cluster, new_server  # noqa: F401 - fixtures
from conftest import job_result

pytestmark = pytest.mark.cluster


def work(seconds, fail=False):
    import time

    time.sleep(seconds)
    if fail:
        raise KeyError(f"no such key {seconds}")
    return seconds


def dispy_outcome(job: Any) -> str:
    """What the timeline should call a job, from dispy's own job object."""
    if job.status == dispy.DispyJob.Running:
        return "running"
    if job.status == dispy.DispyJob.Terminated:
        return "failed" if job.exception and "Traceback" in job.exception else "terminated"
    return {dispy.DispyJob.Finished: "finished", dispy.DispyJob.Cancelled: "cancelled"}[job.status]


def bars_of(value: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The columnar answer as one dict per bar, by job key."""
    b = value["bars"]
    out = {}
    for i in range(len(b["start"])):
        out[b["key"][i]] = {
            "id": b["id"][i],
            "cluster": value["clusters"][b["cluster"][i]],
            "node": value["nodes"][b["node"][i]]["ip"],
            "start": b["start"][i],
            "end": b["end"][i],
            "outcome": value["outcomes"][b["outcome"][i]],
        }
    return out


async def test_timeline_shows_what_dispy_ran_then_survives_a_restart(local_nodes, new_cluster, new_server, tmp_path):  # noqa: F811
    nodes = local_nodes(2, cpus=2, first=24)
    ips = [n.ip for n in nodes.nodes]
    db = tmp_path / "history.db"
    cluster = await asyncio.to_thread(new_cluster, work, ips)
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1, history_db=db)
    begin = time.time()
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        cid = 0

        async def run(name: str, args: dict[str, Any]) -> dict[str, Any]:
            nonlocal cid
            cid += 1
            await ws.send({"type": "command", "id": cid, "name": name, "args": args})
            while True:
                message = await ws.recv()
                if message["type"] == "result" and message["id"] == cid:
                    return message

        ended = [cluster.submit(0.2) for _ in range(5)] + [cluster.submit(0.2, fail=True)]
        for i, job in enumerate(ended):
            job.id = f"ended-{i}"
        for job in ended:
            await job_result(job)
        # four long jobs fill the four CPUs; two more wait in dispy's queue
        long = [cluster.submit(60) for _ in range(4)]
        waiting = [cluster.submit(0.1) for _ in range(2)]
        for i, job in enumerate(long + waiting):
            job.id = f"long-{i}"
        await ws.until(lambda m: m.clusters["work"]["jobs"]["running"] == 4 and m.clusters["work"]["jobs"]["queued"] == 2
                       and all(j.status == dispy.DispyJob.Running for j in long), what="four running, two queued")  # fmt: skip

        answer = await run("timeline", {"cluster": "work", "start": begin - 1, "end": time.time() + 1})
        assert answer["ok"], answer
        value = answer["value"]
        bars = bars_of(value)
        by_id = {bar["id"]: bar for bar in bars.values()}
        assert sorted(by_id) == sorted(j.id for j in ended + long)  # the queued jobs are no bars
        for job in ended + long:
            bar = by_id[job.id]
            assert (bar["node"], bar["outcome"], bar["cluster"]) == (job.ip_addr, dispy_outcome(job), "work")
            assert bar["start"] == pytest.approx(job.start_time, abs=1e-6)
            if job in long:
                assert bar["end"] is None
            else:
                assert bar["end"] == pytest.approx(job.end_time, abs=1e-6)
        assert sorted(by_id[j.id]["outcome"] for j in ended) == ["failed"] + ["finished"] * 5
        assert {n["ip"]: n["cpus"] for n in value["nodes"]} == {ip: 2 for ip in ips}
        assert value["queued"]["count"] == 2
        assert sorted(value["queued"]["created"]) == pytest.approx(sorted(j.submit_time for j in waiting), abs=1e-6)
        assert value["more"] is False and value["total"] == len(ended) + len(long)
        starts = value["bars"]["start"]
        assert starts == sorted(starts)

        # one node's timeline; a window before everything; a cut window
        ip = long[0].ip_addr
        mine = bars_of((await run("timeline", {"cluster": "*", "node": ip, "start": begin - 1, "end": time.time() + 1}))["value"])
        assert sorted(b["id"] for b in mine.values()) == sorted(j.id for j in ended + long if j.ip_addr == ip)
        before = (await run("timeline", {"cluster": "work", "start": begin - 100, "end": begin - 50}))["value"]
        assert before["bars"]["start"] == [] and before["total"] == 0
        cut = (await run("timeline", {"cluster": "work", "start": begin - 1, "end": time.time() + 1, "limit": 4}))["value"]
        assert cut["more"] is True and cut["total"] == 10 and len(cut["bars"]["start"]) == 4
        assert sorted(b["id"] for b in bars_of(cut).values()) == sorted(j.id for j in long)  # running jobs kept first

        # bad arguments are refused, with the reason
        for args, says in (
            ({"cluster": "work", "start": 10, "end": 5}, "end must be after start"),
            ({"cluster": "work", "start": 1}, "end is required"),
            ({"cluster": "work", "start": 1, "end": 2, "limit": 100_001}, "limit must be"),
            ({"cluster": "work", "start": "x", "end": 2}, "start must be a number"),
        ):
            refused = await run("timeline", args)
            assert not refused["ok"] and refused["error"]["code"] == "invalid" and says in refused["error"]["message"]

        # the REST route answers the same
        params = {"cluster": "work", "start": str(begin - 1), "end": str(time.time() + 1)}
        async with session.get(server.url + "api/timeline", params=params) as r:
            assert r.status == 200
            rest = await r.json()
        assert {b["id"]: b["outcome"] for b in bars_of(rest).values()} == {j.id: dispy_outcome(j) for j in ended + long}
        async with session.get(server.url + "api/timeline", params={**params, "end": "soon"}) as r:
            assert r.status == 400 and "end must be a number" in (await r.json())["error"]["message"]

        for job in long + waiting:
            await asyncio.to_thread(cluster.cancel, job)
        await ws.until(lambda m: m.clusters["work"]["jobs"]["done"] == 12, what="every job ended")
        after = (await run("timeline", {"cluster": "work", "start": begin - 1, "end": time.time() + 1}))["value"]
        outcomes = {b["id"]: b["outcome"] for b in bars_of(after).values()}
        assert outcomes == {j.id: dispy_outcome(j) for j in ended + long}
        assert {dispy_outcome(j) for j in long} == {"terminated"}
        assert after["unplaced"] == 2 and after["queued"]["count"] == 0  # the two cancelled while queued
        await ws.ws.close()
    await asyncio.to_thread(server.shutdown, True)

    # a new server on the same file draws the earlier run's jobs
    again = await asyncio.to_thread(new_server, None, history_db=db)
    async with aiohttp.ClientSession() as session:
        async with session.get(again.url + "api/timeline", params={**params, "end": str(time.time() + 1)}) as r:
            body = await r.json()
    assert bars_of(body) == bars_of(after)


def _record(key: int, cluster: str, node: str, start: float | None, end: float, outcome: str = "finished") -> tuple:
    from dispymon.features.history import FIELDS

    duration = None if start is None else end - start
    row = (key, f"job-{key}", cluster, node, outcome, None, None, start, end, duration, key, start, None)
    assert len(row) == len(FIELDS)
    return row


def test_window_clusters_and_the_cut_without_a_cluster():
    """What overlaps the window, per cluster or '*', the newest ends kept when cut: the history alone."""
    from dispymon.features.history import History
    from dispymon.features.timeline import timeline
    from dispymon.model.state import State

    history = History(100)
    history.load([
        _record(1, "a", "10.0.0.1", 0, 10),
        _record(2, "a", "10.0.0.2", 5, 30, "failed"),
        _record(3, "b", "10.0.0.1", 20, 25),
        _record(4, "a", "10.0.0.1", 40, 50),
        _record(5, "a", "", None, 22, "cancelled"),  # never ran: no bar, counted
    ])  # fmt: skip

    def ask(**kw):
        value = timeline(State(), history, lambda key, job_id: str(job_id), **kw)
        b = value["bars"]
        return value, sorted(b["key"]), [value["outcomes"][o] for o in b["outcome"]]

    value, keys, _ = ask(cluster="*", start=12, end=35)
    assert keys == [2, 3] and set(value["clusters"]) == {"a", "b"}
    assert value["unplaced"] == 1 and value["total"] == 2 and value["bars"]["start"] == [5, 20]
    _, keys, outcomes = ask(cluster="a", start=0, end=100)
    assert keys == [1, 2, 4] and sorted(outcomes) == ["failed", "finished", "finished"]
    _, keys, _ = ask(cluster="*", node="10.0.0.1", start=0, end=100)
    assert keys == [1, 3, 4]
    value, keys, _ = ask(cluster="*", start=0, end=100, limit=2)
    assert keys == [2, 4] and value["more"] is True and value["total"] == 4  # the two that ended last
    with pytest.raises(ValueError):
        ask(cluster="*", start=5, end=5)
