"""Two real programs (each with its own dispynode processes) publish to one real Redis; a central shows both."""

from __future__ import annotations

import dispy
import pytest
from conftest import WSClient
from fleettools import central_factory, dispy_jobs_record, jobs_of, programs, redis_server  # noqa: F401
from prometheus_client.parser import text_string_to_metric_families

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
    # and /metrics says the same, in a format Prometheus reads
    async with central.session.get(f"{central.runtime.url}metrics") as response:
        text = await response.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("dispymon_fleet")
    }
    assert samples[("dispymon_fleet_broker_reachable", ())] == 1
    for program in ("lab-A", "lab-B"):
        assert samples[("dispymon_fleet_program_online", (("program", program),))] == 1
        assert samples[("dispymon_fleet_program_resyncs_total", (("program", program),))] == 0


async def test_a_node_two_programs_use_shows_each_ones_jobs(redis_server, programs, central_factory) -> None:  # noqa: F811
    """Two programs naming the same node address (docs/fleet.md: a node several programs use). A
    dispynode serves one client at a time ("Node busy" to another, dispynode.py), so the machine
    runs one dispynode per program, on each program's port: one address, two programs' jobs at once.
    The central lists the node in both programs' clusters (what the page's Programs column and the
    node's page read), and the node's view lists both programs' running jobs, which it can end."""
    central = await central_factory(redis_server.url)
    ws = await central.connect()
    a = programs("lab-A", first=2, jobs=4, fail_every=0, long_jobs=1, node_count=1)
    b = programs("lab-B", first=2, jobs=4, fail_every=0, long_jobs=1, node_count=1)
    shared = a.nodes.nodes[0].ip
    assert [n.ip for n in b.nodes.nodes] == [shared] and a.nodes.port_base != b.nodes.port_base
    await ws.send({"type": "view", "node": shared})

    def long_jobs(w: WSClient) -> dict[str, int]:
        jobs = ((w.node_jobs or {}).get("jobs") or {}).values()
        return {j["cluster"].split("/")[0]: j["uid"] for j in jobs if j and j["id"] == "long-0"}

    await ws.until(lambda w: sorted(long_jobs(w)) == ["lab-A", "lab-B"], 90, "both programs' long job on the node")
    owners = {c["program"]: name for name, c in ws.clusters.items() if c and shared in c["nodes"]}
    assert sorted(owners) == ["lab-A", "lab-B"]  # one address, in each program's cluster
    long = long_jobs(ws)
    await ws.send({"type": "command", "id": 1, "name": "terminate_jobs", "args": {"uids": sorted(long.values())}})
    await ws.until(lambda w: 1 in w.results, 60, "the terminate result", fresh=False)
    assert ws.results[1]["ok"] and set(ws.results[1]["value"]["results"].values()) == {"terminated"}, ws.results[1]
    # each program's dispy says its long job was terminated, and the central's counts are its own
    for lab in (a, b):
        counts = lab.dispy_counts()
        assert counts["statuses"]["long-0"] == dispy.DispyJob.Terminated and counts["terminated"] == 1
        name, record = owners[lab.name], dispy_jobs_record(counts)
        await ws.until(lambda w, name=name, record=record: jobs_of(w, name) == record, 60, f"{lab.name} = dispy")
