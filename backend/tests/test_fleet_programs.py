"""Two real programs (each with its own dispynode processes) publish to one real Redis; a central shows both."""

from __future__ import annotations

import pytest

from fleettools import central_factory, dispy_jobs_record, jobs_of, programs, redis_server  # noqa: F401

pytestmark = pytest.mark.cluster


async def test_two_programs_counts_equal_dispy(redis_server, programs, central_factory) -> None:  # noqa: F811
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    a = programs("lab-A", first=2, jobs=24, fail_every=5)
    b = programs("lab-B", first=4, jobs=16, fail_every=4)
    dispy_a, dispy_b = a.dispy_counts(), b.dispy_counts()
    assert dispy_a["failed"] > 0 and dispy_b["failed"] > 0  # the mix reaches the dashboard, not just successes

    def shows(program: str, counts: dict) -> bool:
        names = [n for n, c in ws.clusters.items() if c and c.get("program") == program]
        return len(names) == 1 and jobs_of(ws, names[0]) == dispy_jobs_record(counts)

    await ws.until(lambda _: shows("lab-A", dispy_a) and shows("lab-B", dispy_b), 60, "both programs' counts")
    # one cluster per program, named by the program, with the program's nodes
    names = sorted(ws.clusters)
    assert [n.split("/")[0] for n in names] == ["lab-A", "lab-B"]
    assert sorted(ws.clusters[names[0]]["nodes"]) == sorted(n.ip for n in a.nodes.nodes)
    assert sorted(ws.clusters[names[1]]["nodes"]) == sorted(n.ip for n in b.nodes.nodes)
    # the fleet record: the broker reachable, both programs online
    snap = [m for m in ws.messages if m["type"] == "snapshot"][-1]
    fleet = snap["fleet"]
    assert fleet["role"] == "central" and fleet["reachable"] is True
    assert {p: v["online"] for p, v in fleet["programs"].items()} == {"lab-A": True, "lab-B": True}
    assert "lab-A/" + names[0].split("/", 1)[1] in fleet["programs"]["lab-A"]["clusters"]
