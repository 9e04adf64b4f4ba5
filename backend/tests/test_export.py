"""CSV export: /api/history.csv, /api/jobs.csv, /api/nodes.csv read back with `csv` equal the JSON API.

Everything is the real server's: the jobs feature, the history, the nodes,
the routes, the guard and the writer.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from dispymon.features.export import HISTORY_COLUMNS, JOBS_COLUMNS, NODES_COLUMNS, TIMES
from dispymon.model import events as ev
from dispymon.model.events import AvailInfo
from dispymon.transport.security import Access
from factories import node, status
from jobserver import feed_jobs, jinfo, make_served

HOSTILE = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", "plain, \"quoted\"\nline"]


@pytest.fixture
async def served(aiohttp_client, static_dir):
    hub, control, fake, client = await make_served(aiohttp_client, static_dir)
    await feed_jobs(hub, running=3, ended=6)
    # jobs whose ids a spreadsheet would run as formulas, ended and running
    for i, text in enumerate(HOSTILE):
        key = 500 + i
        hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), jinfo(key, "127.0.0.3", 1300.0 + i, job_id=text)))
        if i % 2:
            hub.feed(status("c", ev.JOB_TERMINATED, node("127.0.0.3"),
                            jinfo(key, "127.0.0.3", 1300.0 + i, 1400.0 + i, f"Traceback\n{text}Error: {text}", text)))  # fmt: skip
    hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.4", busy=0, avail=AvailInfo(55.5, 8 << 30, 9 << 30, 97.0)), None))
    await hub.settle()
    return hub, fake, client


def expected_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)


def expected_rows(records, columns):
    rows = []
    for r in records:
        row = []
        for c in columns:
            row.append(expected_cell(r.get(c)))
            if c in TIMES:
                v = r.get(c)
                row.append("" if v is None else datetime.fromtimestamp(v, UTC).isoformat(timespec="milliseconds")
                           .replace("+00:00", "Z"))  # fmt: skip
        rows.append(row)
    return rows


async def get_csv(client, path, **kwargs):
    r = await client.get(path, **kwargs)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    what = path.split("/")[-1].split(".")[0]
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="dispymon-{what}-') and disposition.endswith('Z.csv"')
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8"), newline="")))
    return rows[0], rows[1:]


async def test_history_csv_matches_the_json_api(served):
    hub, fake, client = served
    for params in ({}, {"outcome": "failed"}, {"text": "JOB-1", "cluster": "c"}, {"node": "127.0.0.3"}):
        head, rows = await get_csv(client, "/api/history.csv", params=params)
        body = await (await client.get("/api/history", params={**params, "limit": "1000"})).json()
        assert body["total"] > 0 or params.get("text")
        assert head[: len(HISTORY_COLUMNS) + 4][:2] == ["key", "id"]
        assert rows == expected_rows(body["jobs"], HISTORY_COLUMNS), params
        assert len(rows) == body["total"]
    # the formula ids, quoted; the plain text as it was
    _, rows = await get_csv(client, "/api/history.csv", params={"node": "127.0.0.3"})
    ids = {row[1] for row in rows}
    assert "'+1+1" in ids and "'@SUM(A1)" in ids and "'\rCR" in ids and not any(i.startswith("=") for i in ids)


async def test_jobs_csv_matches_the_json_api(served):
    hub, fake, client = served
    for params in ({}, {"states": "running,failed"}, {"exception": "ValueError"}, {"since": "1201.5"},
                   {"text": "job", "node": "127.0.0.2"}):  # fmt: skip
        head, rows = await get_csv(client, "/api/jobs.csv", params=params)
        body = await (await client.get("/api/jobs", params={**params, "limit": "1000"})).json()
        assert len(rows) == body["total"], params
        assert rows == expected_rows(body["jobs"], JOBS_COLUMNS), params
    head, rows = await get_csv(client, "/api/jobs.csv", params={"states": "running"})
    assert "state" in head and {r[head.index("state")] for r in rows} == {"running"}
    ids = {r[1] for r in rows}
    assert {"'=HYPERLINK(\"http://x\")", "'-2", "'\tTAB", "plain, \"quoted\"\nline"} <= ids


async def test_nodes_csv_matches_the_json_api(served):
    hub, fake, client = served
    head, rows = await get_csv(client, "/api/nodes.csv")
    body = await (await client.get("/api/clusters/c/nodes")).json()
    records = [{"cluster": "c", **n, **{f"avail_{k}": v for k, v in (n.get("avail_info") or {}).items()}}
               for n in body["nodes"]]  # fmt: skip
    assert sorted(rows) == sorted(expected_rows(records, NODES_COLUMNS)) and len(rows) == 3
    row = next(r for r in rows if r[1] == "127.0.0.4")
    assert row[head.index("avail_cpu")] == "55.5" and row[head.index("stuck")] == "false"
    _, only = await get_csv(client, "/api/nodes.csv", params={"cluster": "c", "status": "initialized"})
    assert sorted(only) == sorted(rows)
    _, none = await get_csv(client, "/api/nodes.csv", params={"status": "closed"})
    assert none == []


@pytest.mark.parametrize("path, params, status, code", [
    ("/api/history.csv", {"outcome": "exploded"}, 400, "invalid"),
    ("/api/history.csv", {"zzz": "1"}, 400, "invalid"),
    ("/api/jobs.csv", {"states": "running,sleeping"}, 400, "invalid"),
    ("/api/jobs.csv", {"since": "yesterday"}, 400, "invalid"),
    ("/api/jobs.csv", {"limit": "5"}, 400, "invalid"),
    ("/api/nodes.csv", {"cluster": "nope"}, 404, "not_found"),
    ("/api/jobs", {"states": ""}, 400, "invalid"),
    ("/api/jobs/c/job-1", {"key": "x"}, 400, "invalid"),
    ("/api/jobs/c/no-such-job", {}, 404, "not_found"),
])  # fmt: skip
async def test_bad_parameters_are_an_error_before_any_csv(served, path, params, status, code):
    hub, fake, client = served
    r = await client.get(path, params=params)
    assert r.status == status and r.content_type == "application/json"
    assert (await r.json())["error"]["code"] == code
    assert "Content-Disposition" not in r.headers


async def test_job_routes_answer_as_the_job_query(served):
    hub, fake, client = served
    body = await (await client.get("/api/jobs/c/job-102")).json()
    assert body == {"job": fake.detail(hub.read(), "c", 102)}
    assert (await (await client.get("/api/jobs/c/anything?key=2")).json())["job"]["key"] == 2
    # both segments URL-encoded: an id with a slash
    hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=1), jinfo(900, "127.0.0.2", 1500.0, job_id="a/b c")))
    await hub.settle()
    assert (await (await client.get("/api/jobs/c/a%2Fb%20c")).json())["job"]["key"] == 900
    page = await (await client.get("/api/jobs?states=failed&limit=1")).json()
    assert page["total"] == 6 and len(page["jobs"]) == 1 and page["counts"] == {"failed": 6}


async def test_export_needs_a_token_where_tokens_are_on_and_a_viewer_may_export(aiohttp_client, static_dir):
    access = Access(operator_token="op-secret", viewer_token="view-secret")
    hub, control, fake, client = await make_served(aiohttp_client, static_dir, access=access)
    await feed_jobs(hub)
    for path in ("/api/history.csv", "/api/jobs.csv", "/api/nodes.csv", "/api/jobs", "/api/jobs/c/job-1"):
        r = await client.get(path)
        assert r.status == 401, path
        r = await client.get(path, headers={"Authorization": "Bearer view-secret"})
        assert r.status == 200, path
