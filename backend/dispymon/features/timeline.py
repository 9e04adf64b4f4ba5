"""The job timeline (issue 19): the bars of the jobs that ran in a window of time, columnar.

Read-only and pure: it reads the history (features/history.py, which holds
the `--history-db` file's jobs of earlier runs from the start, history.load),
the jobs running now and the jobs queued now from the state, and answers
columns rather than a map per bar: 100,000 bars are seven lists, not 100,000
dicts (a fifth of the bytes in msgpack, and a browser reads them straight
into typed arrays).

Which CPU slot of its node a job ran on is not something dispy says: the
browser packs each node's bars into slots (frontend pages/timeline/packing.ts),
so the answer only names the node.

Bounded: at most `limit` bars (100,000 at most), the ones that ended last
when more overlap the window (`more` says so), and at most QUEUED_MARKS
queued jobs' submit times (`queued.count` counts them all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispymon.features.history import CLUSTER, END, ID, KEY, NODE, OUTCOME, START, History
from dispymon.model.state import State
from dispymon.transport.protocol import TIMELINE_LIMIT, TIMELINE_LIMIT_MAX, TIMELINE_OUTCOMES, TIMELINE_QUEUED_MARKS

RUNNING = TIMELINE_OUTCOMES.index("running")
_OUTCOME_INDEX = {name: i for i, name in enumerate(TIMELINE_OUTCOMES)}
LIMIT_MAX = TIMELINE_LIMIT_MAX
DEFAULT_LIMIT = TIMELINE_LIMIT
QUEUED_MARKS = TIMELINE_QUEUED_MARKS  # queued jobs whose submit time is marked (the newest); `count` says how many


def timeline(
    state: State,
    history: History,
    id_text: Callable[[int, Any], str],
    cluster: str,
    start: float,
    end: float,
    node: str | None = None,
    limit: int = DEFAULT_LIMIT,
    now: float | None = None,
) -> dict[str, Any]:
    """The `timeline` query's value (docs/protocol.md "Timeline").

    `cluster`: a cluster's name or '*' (every cluster); `id_text(key, id)`: the text of a running
    job's id (the jobs feature's, which makes a user object's text off the loop)."""
    if not end > start:
        raise ValueError("end must be after start")
    clusters: dict[str, int] = {}
    nodes: dict[str, int] = {}
    rows: list[tuple[float, float | None, int, int, int, int | None, str]] = []  # start, end, cluster, node, ...
    total = 0
    unplaced = 0
    every = cluster == "*"

    def index(table: dict[str, int], name: str) -> int:
        found = table.get(name)
        if found is None:
            found = table[name] = len(table)
        return found

    # Running jobs first: when the window is cut, they are the ones kept (they end last).
    for name, c in state.clusters.items():
        if not every and name != cluster:
            continue
        for job in c.running.values():
            ip, began = job.ip_addr, job.start_time
            if began is None or not ip or began > end or (node is not None and ip != node):
                continue
            total += 1
            if len(rows) < limit:
                key = job.key or None
                text = id_text(job.key, job.id)
                rows.append((began, None, index(clusters, name), index(nodes, ip), RUNNING, key, text))
    # Ended jobs, newest end first (the history's sorted list, made once per change): stop at the
    # first that ended before the window.
    for r in history.by_end():
        if r[END] < start:
            break
        if not every and r[CLUSTER] != cluster:
            continue
        began, ip = r[START], r[NODE]
        if began is None or not ip:  # never ran (cancelled while queued): no lane to draw it in
            if node is None:
                unplaced += 1
            continue
        if began > end or (node is not None and ip != node):
            continue
        total += 1
        if len(rows) < limit:
            where = index(clusters, r[CLUSTER]), index(nodes, ip)
            rows.append((began, r[END], *where, _OUTCOME_INDEX[r[OUTCOME]], r[KEY], r[ID]))
    rows.sort(key=lambda row: row[0])
    cpus: dict[str, int] = {}
    for c in state.clusters.values():
        for ip in nodes:
            held = c.nodes.get(ip)
            if held is not None:
                cpus[ip] = max(cpus.get(ip, 0), held[0].cpus)
    queued_times: list[float] = []
    queued_clusters: list[int] = []
    queued_count = 0
    for name, c in state.clusters.items():
        if not every and name != cluster:
            continue
        queued_count += max(c.submitted - c.done - len(c.running), 0)
        for job in c.queued.values():
            if job.created is not None and start <= job.created <= end:
                queued_times.append(job.created)
                queued_clusters.append(index(clusters, name))
    if len(queued_times) > QUEUED_MARKS:
        newest = sorted(range(len(queued_times)), key=queued_times.__getitem__)[-QUEUED_MARKS:]
        queued_times = [queued_times[i] for i in newest]
        queued_clusters = [queued_clusters[i] for i in newest]
    return {
        "start": start,
        "end": end,
        "now": now,
        "outcomes": list(TIMELINE_OUTCOMES),
        "clusters": list(clusters),
        "nodes": [{"ip": ip, "cpus": cpus.get(ip, 0)} for ip in nodes],
        "bars": {
            "start": [row[0] for row in rows],
            "end": [row[1] for row in rows],
            "cluster": [row[2] for row in rows],
            "node": [row[3] for row in rows],
            "outcome": [row[4] for row in rows],
            "key": [row[5] for row in rows],
            "id": [row[6] for row in rows],
        },
        "total": total,
        "more": total > len(rows),
        "unplaced": unplaced,
        "queued": {"count": queued_count, "created": queued_times, "cluster": queued_clusters},
    }
