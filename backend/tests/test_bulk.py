"""Bulk actions over a real WebSocket, on a recording cluster control: preview, start, progress, cancel, outcomes.

The jobs feature, the runner, the commands, the audit entry and the
`actions` part are the real ones; the cluster is a recording control
(jobcontrol.py). Real dispy: test_jobs_cluster.py.
"""

from __future__ import annotations

import pickle

import pytest

from dispymon.features import bulk as bulk_module
from dispymon.model import events as ev
from dispymon.model.events import BulkChanged
from dispymon.transport.protocol import ACTIONS_KEPT, BULK_MAX
from dispymon.transport.security import Access
from factories import node, status
from jobserver import NODES, call, connect, feed_jobs, keep_args, make_served


@pytest.fixture
async def served(aiohttp_client, static_dir):
    return await make_served(aiohttp_client, static_dir)


def error_of(result):
    assert result["ok"] is False, result
    return result["error"]["code"], result["error"]["message"]


def action_of(ws, action_id):
    """The action's record as the browser last got it (snapshot or `actions` delta)."""
    for m in reversed(ws.messages):
        if m["type"] in ("snapshot", "delta") and "actions" in m:
            for a in m["actions"]:
                if a["id"] == action_id:
                    return a
    return None


def audit_entries(hub, action):
    return [e for e in hub.read().audit if e["action"] == action]


async def test_bulk_terminate_every_running_job_with_progress_counts_and_one_audit_entry(served):
    hub, control, fake, client = served
    await feed_jobs(hub, running=120, ended=3, ended_base=1001)
    ws = await connect(client)
    preview = (await call(ws, 1, "bulk_preview", {"action": "terminate", "filter": {"cluster": "c"}}))["value"]
    assert preview["count"] == 123 and preview["eligible"] == 120 and not preview["over_limit"]
    assert [r["key"] for r in preview["first"]] == list(range(1, 21))
    r = await call(ws, 2, "bulk_start", {"action": "terminate", "filter": {"cluster": "c"}, "expect": 120})
    assert r["ok"], r
    action_id = r["value"]["action_id"]
    await ws.until(lambda m: (action_of(m, action_id) or {}).get("state") == "done", what="the action done",
                   fresh=False)  # fmt: skip
    record = action_of(ws, action_id)
    assert record["total"] == 120 and record["done"] == 120 and record["counts"] == {"terminated": 120}
    assert record["filter"] == {"cluster": "c", "states": ["queued", "running"]} and record["ended"] is not None
    # every running job was sent to the cluster once, from the bulk pool's threads
    assert sorted(c[2].key for c in control.calls) == list(range(1, 121))
    assert control.cancel_threads and all(t.startswith("dispymon-bulk") for t in control.cancel_threads)
    assert hub.read().clusters["c"].running == {}
    entries = audit_entries(hub, "bulk_terminate")
    assert len(entries) == 1 and entries[0]["state"] == "ok" and entries[0]["message"] == "120 terminated"
    assert entries[0]["id"] == record["audit_id"] and entries[0]["target"] == "120 jobs"
    # outcomes, paged
    out = (await call(ws, 3, "bulk_outcomes", {"action_id": action_id, "limit": 50, "offset": 100}))["value"]
    assert out["total"] == 120 and len(out["items"]) == 20
    assert {i["outcome"] for i in out["items"]} == {"terminated"}
    keys = []
    for offset in range(0, 120, 50):
        page = (await call(ws, 10 + offset, "bulk_outcomes", {"action_id": action_id, "offset": offset,
                                                              "limit": 50}))["value"]  # fmt: skip
        keys += [i["key"] for i in page["items"]]
    assert sorted(keys) == list(range(1, 121))
    one = next(i for i in page["items"])
    assert one["id"] == f"job-{one['key']}" and one["cluster"] == "c" and one["new_key"] is None
    assert error_of(await call(ws, 4, "bulk_outcomes", {"action_id": 999}))[0] == "not_found"
    assert error_of(await call(ws, 5, "bulk_outcomes", {"action_id": action_id, "limit": 1001}))[0] == "invalid"


async def test_cancel_midway_counts_the_rest_cancelled(served, monkeypatch):
    hub, control, fake, client = served
    monkeypatch.setattr(bulk_module, "IN_FLIGHT", 1)
    await feed_jobs(hub, running=300, ended=0)
    ws = await connect(client)
    control.gate.clear()  # the first chunk's calls wait
    action_id = (await call(ws, 1, "bulk_start", {"action": "terminate", "filter": {}}))["value"]["action_id"]
    r = await call(ws, 2, "bulk_cancel", {"action_id": action_id})
    assert r["value"] == {"state": "cancelling"}
    control.gate.set()
    await ws.until(lambda m: (action_of(m, action_id) or {}).get("state") == "cancelled", fresh=False)
    record = action_of(ws, action_id)
    terminated = record["counts"]["terminated"]
    assert 0 < terminated < 300 and record["counts"]["cancelled"] == 300 - terminated and record["done"] == 300
    assert len(control.calls) == terminated
    assert len(hub.read().clusters["c"].running) == 300 - terminated
    [entry] = audit_entries(hub, "bulk_terminate")
    assert entry["message"].startswith(f"cancelled after {terminated} of 300")
    out = (await call(ws, 3, "bulk_outcomes", {"action_id": action_id, "outcome": "cancelled", "limit": 1000}))["value"]
    assert out["total"] == 300 - terminated
    assert error_of(await call(ws, 4, "bulk_cancel", {"action_id": 12345}))[0] == "not_found"


async def test_progress_is_published_as_chunks_complete(served, monkeypatch):
    hub, control, jobs, client = served
    monkeypatch.setattr(bulk_module, "PUBLISH_EVERY", 0.0)
    monkeypatch.setattr(bulk_module, "IN_FLIGHT", 1)
    await feed_jobs(hub, running=175, ended=0)
    published: list[dict] = []
    hub.subscribe(lambda batch, state: published.extend(e.action for e in batch if type(e) is BulkChanged))
    ws = await connect(client)
    action_id = (await call(ws, 1, "bulk_start", {"action": "terminate", "filter": {}}))["value"]["action_id"]
    await ws.until(lambda m: (action_of(m, action_id) or {}).get("state") == "done", fresh=False)
    await hub.settle()
    # one record at the start, one per chunk of 50 (50, 100, 150, 175), one at the end
    assert [(r["state"], r["done"]) for r in published] == [
        ("running", 0), ("running", 50), ("running", 100), ("running", 150), ("running", 175), ("done", 175)]


async def test_one_action_at_a_time(served):
    hub, control, fake, client = served
    await feed_jobs(hub, running=60, ended=0)
    ws = await connect(client)
    control.gate.clear()
    first = (await call(ws, 1, "bulk_start", {"action": "terminate", "filter": {}}))["value"]["action_id"]
    code, message = error_of(await call(ws, 2, "bulk_start", {"action": "terminate", "filter": {}}))
    assert code == "not_allowed" and f"bulk action {first} is running" in message
    control.gate.set()
    await ws.until(lambda m: (action_of(m, first) or {}).get("state") == "done", fresh=False)


async def test_the_cap_and_an_empty_filter_and_bad_arguments(served, monkeypatch):
    hub, control, fake, client = served
    await feed_jobs(hub, running=30, ended=2)
    ws = await connect(client)
    code, message = error_of(await call(ws, 1, "bulk_start", {"action": "terminate", "filter": {"text": "nothing"}}))
    assert (code, message) == ("not_found", "no job matches the filter")
    code, message = error_of(await call(ws, 2, "bulk_start", {"action": "resubmit", "filter": {"states": ["running"]}}))
    assert (code, message) == ("not_found", "no job matches the filter")
    monkeypatch.setattr("dispymon.commands.bulk.BULK_MAX", 25)
    preview = (await call(ws, 3, "bulk_preview", {"action": "terminate", "filter": {}}))["value"]
    assert preview["eligible"] == 30 and preview["over_limit"] is True and len(preview["first"]) == 20
    code, message = error_of(await call(ws, 4, "bulk_start", {"action": "terminate", "filter": {}}))
    assert (code, message) == ("invalid", "30 jobs match; at most 25")
    monkeypatch.setattr("dispymon.commands.bulk.BULK_MAX", 10_000)
    code, message = error_of(await call(ws, 5, "bulk_start", {"action": "terminate", "filter": {}, "expect": 29}))
    assert (code, message) == ("invalid", "30 jobs match now, more than the 29 confirmed: preview again")
    assert control.calls == [] and audit_entries(hub, "bulk_terminate") == []
    for i, args in enumerate([{"action": "explode", "filter": {}}, {"action": "terminate"},
                              {"action": "terminate", "filter": {"states": ["nope"]}},
                              {"action": "terminate", "filter": {"zzz": 1}},
                              {"action": "terminate", "filter": "all"}]):  # fmt: skip
        assert error_of(await call(ws, 10 + i, "bulk_start", args))[0] == "invalid", args
    assert BULK_MAX == 10_000


async def test_the_real_cap_is_ten_thousand(served):
    hub, control, fake, client = served
    await feed_jobs(hub, running=BULK_MAX + 1, ended=0)
    ws = await connect(client)
    code, message = error_of(await call(ws, 1, "bulk_start", {"action": "terminate", "filter": {}}))
    assert (code, message) == ("invalid", "10,001 jobs match; at most 10,000")
    ok = await call(ws, 2, "bulk_start", {"action": "terminate", "filter": {"node": NODES[0]}})
    assert ok["ok"], ok


async def test_bulk_resubmit_of_the_failed_jobs(served):
    hub, control, fake, client = served
    await feed_jobs(hub, running=1, ended=8, depends=(108,))  # 102, 104, 106, 108 failed
    payloads = {key: pickle.dumps(((key, "again"), {})) for key in (102, 104, 106)}
    for key, payload in payloads.items():
        keep_args(fake, key, "c", None, payload)
    control.refuse.add(payloads[106])
    ws = await connect(client)
    preview = (await call(ws, 1, "bulk_preview", {"action": "resubmit", "filter": {"states": ["failed"]}}))["value"]
    assert preview["eligible"] == 4 and preview["not_kept"] == 1
    action_id = (await call(ws, 2, "bulk_start", {"action": "resubmit", "filter": {"states": ["failed"]}}))["value"]["action_id"]
    await ws.until(lambda m: (action_of(m, action_id) or {}).get("state") == "done", fresh=False)
    record = action_of(ws, action_id)
    assert record["counts"] == {"resubmitted": 2, "not_kept": 1, "failed_to_submit": 1}
    items = {i["key"]: i for i in (await call(ws, 3, "bulk_outcomes", {"action_id": action_id}))["value"]["items"]}
    assert items[108]["outcome"] == "not_kept" and items[108]["reason"] == fake.why_not(108)
    assert items[106]["outcome"] == "failed_to_submit" and "not in the cluster" in items[106]["reason"]
    new = {k: items[k]["new_key"] for k in (102, 104)}
    assert dict(fake.links) == {new[102]: 102, new[104]: 104}
    assert [c[2] for c in control.calls if c[0] == "submit"] == [payloads[k] for k in (106, 104, 102)]  # newest end first
    [entry] = audit_entries(hub, "bulk_resubmit")
    assert entry["state"] == "failed" and entry["message"] == "2 resubmitted, 1 not kept, 1 failed to submit"


async def test_a_viewer_may_preview_and_read_outcomes_but_not_act(aiohttp_client, static_dir):
    access = Access(operator_token="op-secret", viewer_token="view-secret")
    hub, control, fake, client = await make_served(aiohttp_client, static_dir, access=access)
    await feed_jobs(hub, running=5, ended=0)
    op = await connect(client, headers={"Authorization": "Bearer op-secret"})
    viewer = await connect(client, headers={"Authorization": "Bearer view-secret"})
    assert (await call(viewer, 1, "bulk_preview", {"action": "terminate", "filter": {}}))["ok"]
    code, _ = error_of(await call(viewer, 2, "bulk_start", {"action": "terminate", "filter": {}}))
    assert code == "not_allowed" and control.calls == []
    action_id = (await call(op, 3, "bulk_start", {"action": "terminate", "filter": {}}))["value"]["action_id"]
    assert error_of(await call(viewer, 4, "bulk_cancel", {"action_id": action_id}))[0] == "not_allowed"
    await viewer.until(lambda m: (action_of(m, action_id) or {}).get("state") == "done", fresh=False)
    assert (await call(viewer, 5, "bulk_outcomes", {"action_id": action_id}))["value"]["total"] == 5
    assert action_of(viewer, action_id)["who"] == "operator@127.0.0.1"


async def test_only_the_last_actions_are_listed(served):
    hub, control, fake, client = served
    await feed_jobs(hub, running=ACTIONS_KEPT + 2, ended=0)
    ws = await connect(client)
    ids = []
    for k in range(ACTIONS_KEPT + 2, 0, -1):  # "job-1" would match job-10 too: that one goes first
        r = await call(ws, k, "bulk_start", {"action": "terminate", "filter": {"text": f"job-{k}", "node": NODES[k % 3]}})
        ids.append(r["value"]["action_id"])
        await ws.until(lambda m: (action_of(m, ids[-1]) or {}).get("state") == "done", fresh=False)
    await ws.send({"type": "resync"})
    await ws.until(lambda m: m.messages[-1]["type"] == "snapshot", fresh=False)
    assert [a["id"] for a in ws.messages[-1]["actions"]] == ids[-ACTIONS_KEPT:]
    assert error_of(await call(ws, 99, "bulk_outcomes", {"action_id": ids[0]}))[0] == "not_found"
