"""The job commands over a real WebSocket: `job`, `jobs`, `resubmit`, and a browser following a job.

The jobs feature, the commands, their validation, the role checks, the
audit and the view are the real ones; the cluster is a recording control
(jobcontrol.py). Real dispy: test_jobs_cluster.py.
"""

from __future__ import annotations

import pickle

import pytest

from dispymon.model import events as ev
from dispymon.transport.security import Access
from factories import node, status
from jobserver import call, connect, feed_jobs, jinfo, keep_args, make_served


@pytest.fixture
async def served(aiohttp_client, static_dir):
    hub, control, fake, client = await make_served(aiohttp_client, static_dir)
    await feed_jobs(hub, depends=(104,))
    return hub, control, fake, client


def error_of(result):
    assert result["ok"] is False, result
    return result["error"]["code"], result["error"]["message"]


async def test_job_by_key_and_by_id_and_choices_and_not_found(served):
    hub, _, fake, client = served
    ws = await connect(client)
    r = await call(ws, 1, "job", {"cluster": "c", "key": 102})
    assert r["ok"] and r["value"]["job"] == fake.detail(hub.read(), "c", 102)
    assert r["value"]["job"]["state"] == "failed" and r["value"]["job"]["exception_type"] == "ValueError"
    r = await call(ws, 2, "job", {"cluster": "c", "id": "job-2"})
    assert r["value"]["job"]["key"] == 2 and r["value"]["job"]["state"] == "running"
    # an id that is not unique: the choices, newest first
    hub.feed(status("c", ev.JOB_CREATED, None, jinfo(7, None, start=None, job_id="job-2")))
    hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), jinfo(7, "127.0.0.3", start=1010.0, job_id="job-2")))
    r = await call(ws, 3, "job", {"cluster": "c", "id": "job-2"})
    assert [c["key"] for c in r["value"]["choices"]] == [7, 2] and r["value"]["more"] == 0
    assert error_of(await call(ws, 4, "job", {"cluster": "c", "id": "nope"}))[0] == "not_found"
    assert error_of(await call(ws, 5, "job", {"cluster": "c", "key": 999}))[0] == "not_found"
    assert error_of(await call(ws, 6, "job", {"cluster": "zz", "key": 102}))[0] == "not_found"
    assert error_of(await call(ws, 7, "job", {"cluster": "c"})) == ("invalid", "give either key or id")
    assert error_of(await call(ws, 8, "job", {"cluster": "c", "key": 1, "id": "x"}))[0] == "invalid"
    assert error_of(await call(ws, 9, "job", {"cluster": "c", "key": "1"}))[0] == "invalid"


async def test_jobs_pages_a_frozen_selection(served):
    hub, _, fake, client = served
    ws = await connect(client)
    r = (await call(ws, 1, "jobs", {"limit": 2}))["value"]
    assert r["total"] == 7 and {s: n for s, n in r["counts"].items() if n} == {"running": 3, "finished": 2, "failed": 2}
    assert [j["key"] for j in r["jobs"]] == [1, 2]  # running first, oldest start first
    sel = r["selection"]
    # a job that starts now is not in the frozen selection: the next page is stable
    hub.feed(status("c", ev.JOB_CREATED, None, jinfo(8, None, start=None)))
    hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), jinfo(8, "127.0.0.3", start=999.0)))
    r2 = (await call(ws, 2, "jobs", {"limit": 2, "offset": 2, "selection": sel}))["value"]
    assert r2["selection"] == sel and r2["total"] == 7 and [j["key"] for j in r2["jobs"]] == [3, 104]
    # the same selection id with another filter: a new selection
    r3 = (await call(ws, 3, "jobs", {"selection": sel, "states": ["failed"], "exception": "ValueError"}))["value"]
    assert r3["selection"] != sel and [j["key"] for j in r3["jobs"]] == [104, 102]
    r4 = (await call(ws, 4, "jobs", {"since": 1201.5, "states": ["finished", "failed"]}))["value"]
    assert [j["key"] for j in r4["jobs"]] == [104, 103]
    for i, bad in enumerate([{"states": ["sleeping"]}, {"states": []}, {"limit": 1001}, {"since": "yesterday"},
                             {"node": "<x>"}, {"offset": -1}, {"zzz": 1}]):  # fmt: skip
        assert error_of(await call(ws, 10 + i, "jobs", bad))[0] == "invalid", bad


async def test_jobs_says_how_many_queued_jobs_are_not_listed(served, monkeypatch):
    from dispymon.model import state as state_module

    hub, _, _, client = served
    monkeypatch.setattr(state_module, "MAX_QUEUED_TRACKED", 2)  # the state lists 2 queued jobs per cluster
    for k in range(201, 206):
        hub.feed(status("c", ev.JOB_CREATED, None, jinfo(k, None, start=None, created=950.0 + k)))
    ws = await connect(client)
    r = (await call(ws, 1, "jobs", {}))["value"]
    c = hub.read().clusters["c"]
    assert c.queued_unlisted == 3 and len(c.queued) == 2  # the state counts what it does not list
    assert r["unlisted"] == c.queued_unlisted and r["counts"]["queued"] == len(c.queued)
    assert (await call(ws, 2, "jobs", {"cluster": "c", "states": ["queued"]}))["value"]["unlisted"] == 3
    # a filter that leaves queued jobs out leaves them out of the count too
    assert (await call(ws, 3, "jobs", {"states": ["running", "failed"]}))["value"]["unlisted"] == 0
    assert (await call(ws, 4, "jobs", {"exception": "ValueError"}))["value"]["unlisted"] == 0
    # an unlisted job that starts is no longer queued
    hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), jinfo(205, "127.0.0.3", start=1300.0)))
    r = (await call(ws, 5, "jobs", {}))["value"]
    assert r["unlisted"] == hub.read().clusters["c"].queued_unlisted == 2


async def test_resubmit_runs_the_kept_arguments_and_links_both(served):
    hub, control, fake, client = served
    payload = pickle.dumps(((102,), {}))
    keep_args(fake, 102, "c", "127.0.0.2", payload)
    ws = await connect(client)
    r = await call(ws, 1, "resubmit", {"cluster": "c", "key": 102})
    assert r["ok"], r
    new = r["value"]["key"]
    assert control.calls == [("submit", "c", payload, "127.0.0.2")]
    assert r["value"]["id"] == f"new-{new}"
    assert dict(fake.links) == {new: 102}
    detail = (await call(ws, 2, "job", {"cluster": "c", "key": 102}))["value"]["job"]
    assert detail["resubmitted_as"] == [new]
    await ws.until(lambda m: any(a["action"] == "resubmit" and a["state"] == "ok" for a in m.audit), what="audit")
    # not kept: not_allowed with the feature's reason; nothing sent to the cluster
    code, message = error_of(await call(ws, 3, "resubmit", {"cluster": "c", "key": 104}))
    assert code == "not_allowed" and fake.why_not(104) in message
    assert error_of(await call(ws, 4, "resubmit", {"cluster": "c", "key": 555}))[0] == "not_found"
    # the cluster refuses: its reason, audited as failed
    keep_args(fake, 103, "c", "127.0.0.9", b"refused")
    control.refuse.add(b"refused")
    code, message = error_of(await call(ws, 5, "resubmit", {"cluster": "c", "key": 103}))
    assert code == "cluster_error" and "not in the cluster" in message
    assert len(control.calls) == 2


async def test_a_viewer_may_read_jobs_but_not_resubmit(aiohttp_client, static_dir):
    access = Access(operator_token="op-secret", viewer_token="view-secret")
    hub, control, fake, client = await make_served(aiohttp_client, static_dir, access=access)
    await feed_jobs(hub)
    keep_args(fake, 102, "c", None, pickle.dumps(((1,), {})))
    ws = await connect(client, headers={"Authorization": "Bearer view-secret"})
    assert (await call(ws, 1, "job", {"cluster": "c", "key": 102}))["ok"]
    assert (await call(ws, 2, "jobs", {}))["ok"]
    code, _ = error_of(await call(ws, 3, "resubmit", {"cluster": "c", "key": 102}))
    assert code == "not_allowed" and control.calls == []


async def test_a_browser_following_a_job_gets_its_detail_when_it_changes(served):
    hub, _, fake, client = served
    ws = await connect(client)
    await ws.send({"type": "view", "job": {"cluster": "c", "key": 3}})
    snap = await ws.recv()
    while snap["type"] != "snapshot":
        snap = await ws.recv()
    assert snap["job"] == fake.detail(hub.read(), "c", 3) and snap["job"]["state"] == "running"
    hub.feed(status("c", ev.JOB_FINISHED, node("127.0.0.3"), jinfo(3, "127.0.0.3", 1003.0, 1300.0)))
    await ws.until(lambda m: any(msg.get("job", {}) and msg["job"]["state"] == "finished"
                                 for msg in m.messages if msg["type"] == "delta"), what="ended detail", fresh=False)  # fmt: skip
    # sent once per change: nothing more about the job while it does not change
    hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.4", busy=0, jobs_done=9), None))
    await ws.until(lambda m: m.messages[-1]["type"] == "delta" and "clusters" in m.messages[-1], fresh=False)
    assert sum(1 for m in ws.messages if m["type"] == "delta" and "job" in m) == 1
    await ws.send({"type": "view", "job": {"cluster": "c", "key": "x"}})
    await ws.until(lambda m: any(msg["type"] == "error" and "view.job" in msg["message"] for msg in m.messages),
                   fresh=False)  # fmt: skip
    await ws.send({"type": "view", "job": None})
    await ws.until(lambda m: m.messages[-1]["type"] == "snapshot" and m.messages[-1]["job"] is None, fresh=False)
