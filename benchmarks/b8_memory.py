"""Target 8: server memory after 1,000,000 simulated jobs vs after the first 10,000.

The server (benchmarks/serve.py: 10,000 nodes, 60,000 jobs running at any
time, two clients connected at 1 s) is fed in equal chunks of events; after
each chunk, once the loop has applied it, the process's RSS is read. Jobs
that finish leave the live state (only the counters and a bounded list of
recently finished uids remain), so memory should not follow the job count
beyond what the jobs feature keeps on purpose: the ended jobs' details and
arguments (tracebacks of the 5 % that fail, pickled arguments), each within
its budget, oldest first. Those bytes are read from /metrics after 10,000
jobs and at the end, and the goal is judged on the growth beyond them.
"""

from __future__ import annotations

import time

from .common import PYTHON, Child, Result, Row, emit_applied, metrics, say

NODES = 10_000
BUDGETS = ("dispymon_outputs_bytes", "dispymon_resubmit_args_bytes")
SLACK = 0.10  # on the budgets' bytes: Python objects and the allocator around the bytes counted
CHUNK = 30_000  # events; the same size throughout, so allocator high-water marks compare


def run(quick: bool = False) -> Result:
    target_jobs = 100_000 if quick else 1_000_000
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(NODES), "--rate", "0", "--poll-sec", "1"])
    clients = None
    timeline: list[tuple[int, int, float]] = []  # (jobs done, rss, seconds)
    try:
        url = f"ws://127.0.0.1:{server.hello['port']}/ws"
        clients = Child([PYTHON, "-m", "benchmarks.clients", "--url", url, "--clients", "2", "--interval", "1"])
        t0 = time.monotonic()
        at_10k = None
        while True:
            s = emit_applied(server, CHUNK)
            timeline.append((s["jobs_done"], s["rss"], time.monotonic() - t0))
            if at_10k is None and s["jobs_done"] >= 10_000:
                at_10k = timeline[-1]
                kept_10k = sum(metrics(server.hello["port"], BUDGETS).values())
                say(f"memory: {s['jobs_done']:,} jobs done, RSS {s['rss'] / 2**20:.1f} MB")
            if s["jobs_done"] >= target_jobs:
                break
        say(f"memory: {s['jobs_done']:,} jobs done, RSS {s['rss'] / 2**20:.1f} MB")
        kept_end = sum(metrics(server.hello["port"], BUDGETS).values())
        frames = clients.ask("mark")
    finally:
        if clients is not None:
            clients.stop()
        server.stop()
    end = timeline[-1]
    growth = (end[1] - at_10k[1]) / 2**20
    kept = (kept_end - kept_10k) / 2**20  # what the budgets took meanwhile
    beyond = growth - kept * (1 + SLACK)
    peak = max(r for _, r, _ in timeline)
    result = Result("memory", "8. Server memory over a million jobs")
    result.rows.append(Row(
        "8. Memory after 1,000,000 jobs",
        f"RSS {at_10k[1] / 2**20:.1f} MB after {at_10k[0]:,} jobs, {end[1] / 2**20:.1f} MB after {end[0]:,} "
        f"({growth:+.1f} MB, of which the jobs' budgets took {kept:.1f} MiB: {beyond:+.1f} MB beyond them, +10 %)",
        "≤ 20 MB above the level after 10,000, beyond what the budgets keep (+10 %)", beyond <= 20,
    ))  # fmt: skip
    step = max(1, len(timeline) // 12)
    picks = timeline[::step] + ([timeline[-1]] if timeline[-1] not in timeline[::step] else [])
    result.details = (
        "| jobs done | RSS, MB | seconds |\n|---|---|---|\n"
        + "\n".join(f"| {j:,} | {r / 2**20:.1f} | {t:.0f} |" for j, r, t in picks)
        + f"\n\nPeak RSS {peak / 2**20:.1f} MB. The two clients received "
        f"{sum(c['frames'] for c in frames['clients'])} frames meanwhile."
    )
    result.method = (
        f"{NODES:,} simulated nodes (8 CPUs each, 75 % busy: 60,000 jobs running at any time), chunks of {CHUNK:,} "
        f"events fed as fast as the loop takes them, RSS (psutil) read once each chunk is applied; two clients "
        f"connected at a 1 s interval. The bytes the jobs feature keeps on purpose (ended jobs' details and "
        f"arguments, within --outputs-budget and --resubmit-budget) are read from /metrics after 10,000 jobs and at "
        f"the end; the goal is on the growth beyond them (+10 % on them for the objects around the bytes)."
    )
    result.data = {"timeline": timeline, "growth_mb": growth, "at_10k": at_10k, "end": end, "kept_mb": kept,
                   "beyond_mb": beyond}  # fmt: skip
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
