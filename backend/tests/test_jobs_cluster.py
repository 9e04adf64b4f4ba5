"""Job pages, resubmit and bulk actions on real dispynode processes, through the drop-in server.

Each test compares what the dashboard says with dispy's own job objects,
collected by the cluster's callback (dispy calls it with each job that ends).
The machine's dispynodes run at most 2 jobs each at once (dispynode refuses
more CPUs than the machine has), so of many jobs most wait in dispy's queue.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import dispy
import pytest

from dispymon.transport.protocol import OUTPUT_TAIL, RESULT_LIMIT
from test_httpd import connect, new_cluster, new_server  # noqa: F401 - fixtures
from conftest import job_result

pytestmark = pytest.mark.cluster


def compute(n, fail=False, big=0, sleep=0.0, loud=0):
    import sys
    import time

    print(f"out {n}")
    print(f"err {n}", file=sys.stderr)
    if loud:
        sys.stdout.write("y" * loud)
    if sleep:
        time.sleep(sleep)
    if fail:
        raise ValueError(f"bad input {n}")
    if big:
        return "x" * big
    return n


def identity(job: dispy.DispyJob) -> tuple:
    """A job's identity across dispy's copies of it (what JobKeys names a key by): its uid and submit time."""
    return job._uid, job.submit_time


class Collected:
    """dispy's job objects handed to the cluster's job_status callback once ended (dispy hands a copy
    of the job each time: they are told apart by identity()), thread-safe."""

    def __init__(self) -> None:
        self.jobs: dict[tuple, dispy.DispyJob] = {}
        self.lock = threading.Lock()

    def add(self, job: dispy.DispyJob) -> None:
        """dispy's job_status callback (a method: dispy accepts functions and methods only)."""
        if job.status in (dispy.DispyJob.Finished, dispy.DispyJob.Terminated, dispy.DispyJob.Cancelled,
                          dispy.DispyJob.Abandoned):  # fmt: skip
            with self.lock:
                self.jobs[identity(job)] = job

    def others(self, known: list[dispy.DispyJob]) -> list[dispy.DispyJob]:
        """The ended jobs that are none of `known` (the test program's own)."""
        mine = {identity(k) for k in known}
        with self.lock:
            return [j for key, j in self.jobs.items() if key not in mine]


async def poll(condition, what: str, timeout: float = 60) -> None:
    """Wait for a condition on dispy's side (its callback, its job objects), polled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)  # polls the condition (not a delay standing in for one)


async def ended(jobs: list[dispy.DispyJob]) -> None:
    for job in jobs:
        await job_result(job)


class Dash:
    def __init__(self, ws, server) -> None:
        self.ws = ws
        self.server = server
        self.ids = 0

    async def call(self, name: str, **args):
        self.ids += 1
        cid = self.ids
        await self.ws.send({"type": "command", "id": cid, "name": name, "args": args})
        await self.ws.until(lambda m: cid in m.results, timeout=60, what=f"result of {name}", fresh=False)
        return self.ws.results[cid]

    async def value(self, name: str, **args):
        result = await self.call(name, **args)
        assert result["ok"], result
        return result["value"]

    async def ended_detail(self, cluster: str, job_id: str | None = None, key: int | None = None) -> dict:
        """The job's detail once ended with its texts made (the guard makes them off the loop)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            which = {"id": job_id} if key is None else {"key": key}
            result = await self.call("job", cluster=cluster, **which)
            detail = result.get("value", {}).get("job") if result["ok"] else None
            if detail is not None and detail["state"] not in ("queued", "running") and "…" not in (detail["result"] or ""):
                return detail
            assert loop.time() < deadline, f"job {job_id} not ended on the dashboard: {result}"
            await asyncio.sleep(0.1)  # polls the dashboard's answer (a condition, not a delay)


@pytest.fixture
async def dash(local_nodes, new_cluster, new_server):  # noqa: F811
    made = []

    async def make(count: int, first: int, **kwargs):
        nodes = local_nodes(count, cpus=2, first=first)
        collected = Collected()
        cluster = await asyncio.to_thread(new_cluster, compute, [n.ip for n in nodes.nodes], job_status=collected.add,
                                          **kwargs)  # fmt: skip
        server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
        session = aiohttp.ClientSession()
        made.append(session)
        ws = await connect(session, server)
        return cluster, collected, Dash(ws, server), session, [n.ip for n in nodes.nodes]

    yield make
    for session in made:
        await session.close()


async def test_a_job_that_prints_and_raises_shows_both_outputs_and_the_traceback(dash):
    cluster, collected, d, session, ips = await dash(1, first=40)
    job = cluster.submit(7, fail=True)
    job.id = "prints-and-raises"
    await ended([job])
    assert job.status == dispy.DispyJob.Terminated and job.exception
    detail = await d.ended_detail("compute", "prints-and-raises")
    assert detail["state"] == "failed" and detail["exception_type"] == "ValueError"
    assert detail["stdout"] == job.stdout and detail["stdout_len"] == len(job.stdout) and not detail["stdout_cut"]
    assert detail["stderr"] == job.stderr and detail["stderr_len"] == len(job.stderr)
    assert detail["traceback"] == job.exception and detail["traceback_len"] == len(job.exception)
    assert detail["node"] == job.ip_addr and detail["start_time"] == job.start_time
    # the REST API answers the same
    async with session.get(d.server.url + "api/jobs/compute/prints-and-raises") as r:
        assert r.status == 200
        assert (await r.json()) == {"job": detail}
    async with session.get(d.server.url + f"api/jobs/compute/x?key={detail['key']}") as r:
        assert (await r.json())["job"]["traceback"] == job.exception
    async with session.get(d.server.url + "api/jobs/compute/no-such-job") as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


async def test_a_large_result_is_cut_and_its_length_shown(dash):
    cluster, collected, d, session, ips = await dash(1, first=41)
    job = cluster.submit(1, big=10_000)
    job.id = "big"
    await ended([job])
    assert job.status == dispy.DispyJob.Finished and len(job.result) == 10_000
    detail = await d.ended_detail("compute", "big")
    assert detail["result_cut"] is True and detail["result_len"] in (len(job.result), len(repr(job.result)))
    assert len(detail["result"]) <= RESULT_LIMIT + 64 and detail["result"].startswith(repr(job.result)[:RESULT_LIMIT - 64])


async def test_a_job_printing_more_than_64_KiB_keeps_its_tail_and_says_cut(dash):
    cluster, collected, d, session, ips = await dash(1, first=42)
    job = cluster.submit(2, loud=200_000)
    job.id = "loud"
    await ended([job])
    assert len(job.stdout) > OUTPUT_TAIL
    detail = await d.ended_detail("compute", "loud")
    assert detail["stdout_cut"] is True and detail["stdout_len"] == len(job.stdout)
    assert detail["stdout"] == job.stdout[-OUTPUT_TAIL:]


async def test_a_running_job_page_follows_it_to_its_end(dash):
    cluster, collected, d, session, ips = await dash(1, first=43)
    job = cluster.submit(3, sleep=3, fail=True)
    job.id = "followed"
    await poll(lambda: job.status == dispy.DispyJob.Running, "the job running")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # its id was set after submit(): its text is made off the loop (the guard)
        running = (await d.value("jobs", states=["running"]))["jobs"]
        keys = [r["key"] for r in running if r["id"] == "followed"]
        if keys:
            break
        assert loop.time() < deadline, f"the running job not listed: {running}"
        await asyncio.sleep(0.1)  # polls the dashboard's answer
    [key] = keys
    await d.ws.send({"type": "view", "job": {"cluster": "compute", "key": key}})
    await d.ws.until(lambda m: m.messages[-1]["type"] == "snapshot" and m.messages[-1]["job"] is not None,
                     fresh=False, what="the job's snapshot")  # fmt: skip
    assert d.ws.messages[-1]["job"]["state"] == "running"
    await ended([job])
    await d.ws.until(lambda m: any(msg["type"] == "delta" and (msg.get("job") or {}).get("traceback") for msg in m.messages),
                     fresh=False, what="the ended detail in a delta", timeout=30)  # fmt: skip
    last = next(msg["job"] for msg in reversed(d.ws.messages) if msg["type"] == "delta" and msg.get("job"))
    assert last["state"] == "failed" and last["traceback"] == job.exception and last["stdout"] == job.stdout


async def test_resubmit_a_failed_job_runs_again_and_links_both(dash):
    cluster, collected, d, session, ips = await dash(1, first=44)
    job = cluster.submit(11, fail=True)
    job.id = "again"
    await ended([job])
    original = await d.ended_detail("compute", "again")
    assert original["resubmit"] == {"possible": True, "reason": None}
    answer = await d.value("resubmit", cluster="compute", key=original["key"])
    new_key = answer["key"]
    assert new_key != original["key"]
    await poll(lambda: collected.others([job]), "dispy's callback with the new job")
    [new] = collected.others([job])
    await ended([new])
    # the same arguments ran again: dispy's new job printed and raised as the first did
    assert identity(new) != identity(job) and new.status == dispy.DispyJob.Terminated
    assert new.stdout == job.stdout and new.stderr == job.stderr and "bad input 11" in new.exception
    detail = await d.ended_detail("compute", key=new_key)
    assert detail["resubmit_of"] == original["key"] and detail["stdout"] == new.stdout
    assert detail["start_time"] == new.start_time
    again = (await d.value("job", cluster="compute", key=original["key"]))["job"]
    assert again["resubmitted_as"] == [new_key]
    await d.ws.until(lambda m: any(a["action"] == "resubmit" and a["state"] == "ok" for a in m.audit), what="audit")


async def test_bulk_terminate_40_jobs_on_3_nodes(dash):
    cluster, collected, d, session, ips = await dash(3, first=45)
    jobs = [cluster.submit(i, sleep=120) for i in range(40)]
    await d.ws.until(lambda m: sum(j.status == dispy.DispyJob.Running for j in jobs) == 6, fresh=False, timeout=60,
                     what="six jobs running (2 CPUs on each of 3 nodes)")  # fmt: skip
    await d.ws.until(lambda m: m.clusters["compute"]["jobs"]["running"] == 6, what="the dashboard sees them")
    preview = await d.value("bulk_preview", action="terminate", filter={"cluster": "compute"})
    assert preview["eligible"] == 40 and preview["count"] == 40
    was_running = [j for j in jobs if j.status == dispy.DispyJob.Running]
    action_id = (await d.value("bulk_start", action="terminate", filter={"cluster": "compute"}))["action_id"]

    def action(m):
        for msg in reversed(m.messages):
            for a in msg.get("actions") or []:
                if a["id"] == action_id:
                    return a
        return {}

    await d.ws.until(lambda m: action(m).get("state") == "done", what="the bulk action done", fresh=False, timeout=120)
    record = action(d.ws)
    assert record["total"] == 40 and record["done"] == 40 and record["counts"] == {"terminated": 40}, record
    await ended(jobs)
    # dispy: each job that was running terminated, each queued one cancelled; none ran to its end
    assert all(j.status == dispy.DispyJob.Terminated for j in was_running)
    assert all(j.status in (dispy.DispyJob.Terminated, dispy.DispyJob.Cancelled) for j in jobs)
    assert len(was_running) == 6
    await d.ws.until(lambda m: len([e for e in m.audit if e["action"] == "bulk_terminate"]) == 1
                     and m.audit[-1]["state"] == "ok", what="one audit entry")  # fmt: skip
    [entry] = [e for e in d.ws.audit if e["action"] == "bulk_terminate"]
    assert entry["message"] == "40 terminated" and entry["id"] == record["audit_id"]
    out = await d.value("bulk_outcomes", action_id=action_id, limit=1000)
    assert out["total"] == 40 and {i["outcome"] for i in out["items"]} == {"terminated"}


async def test_bulk_resubmit_the_failed_jobs_of_a_run(dash):
    cluster, collected, d, session, ips = await dash(2, first=48)
    jobs = [cluster.submit(i, fail=i % 2 == 1) for i in range(8)]
    await ended(jobs)
    failed = [j for j in jobs if j.status == dispy.DispyJob.Terminated]
    assert len(failed) == 4
    await d.ws.until(lambda m: m.clusters["compute"]["jobs"]["failed"] == 4, what="4 failed on the dashboard")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (await d.value("bulk_preview", action="resubmit", filter={"states": ["failed"]}))["not_kept"]:
        assert loop.time() < deadline, "the failed jobs' arguments not kept"
        await asyncio.sleep(0.1)  # the guard pickles them off the loop: poll the preview
    action_id = (await d.value("bulk_start", action="resubmit", filter={"states": ["failed"]}))["action_id"]
    await poll(lambda: len(collected.others(jobs)) == 4, "four new jobs from dispy")
    new = collected.others(jobs)
    await ended(new)
    assert sorted(j.stdout for j in new) == sorted(j.stdout for j in failed)  # the same arguments ran again
    assert all(j.status == dispy.DispyJob.Terminated and "bad input" in j.exception for j in new)
    out = await d.value("bulk_outcomes", action_id=action_id)
    assert out["total"] == 4 and {i["outcome"] for i in out["items"]} == {"resubmitted"}
    for item in out["items"]:
        detail = await d.ended_detail("compute", key=item["new_key"])
        assert detail["resubmit_of"] == item["key"] and detail["state"] == "failed"
    await d.ws.until(lambda m: any(e["action"] == "bulk_resubmit" and e["message"] == "4 resubmitted" for e in m.audit),
                     what="the audit entry")  # fmt: skip
