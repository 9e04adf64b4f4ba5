"""Issue 20: what publishing to a broker costs a real dispy program.

b_jobcost's set-up (two real `dispynode` processes, b2's `JobCluster` with
`setup=` and 2 ms jobs, a fresh cluster each run, dispymon's `Runtime` on
its own loop thread in the same process, one headless client at 0.25 s),
the cluster attached in both variants; the variants differ only by the
fleet's `Publisher` (fleet/publisher.py) tee'd to the hub and publishing to
a real `redis-server` on loopback (started here, stopped by PID). Runs
alternate, the order swapped each round. Per variant and run: jobs/s, and
the CPU of every dispymon thread per job (each thread's own clock; the
publisher's encoding and its redis-py I/O run on the loop thread). Reported:
jobs/s publishing ÷ not, and dispymon's CPU per job publishing ÷ not (the
publisher's cost against what dispymon costs the program without it), each
with the rounds' spread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .b2_cluster import CPUS, compute, setup
from .b_jobcost import LOOP_THREAD, alternate, dispymon_threads, wait_all
from .common import PYTHON, Child, Result, Row, free_port, median, say

NODES = ["127.0.0.46", "127.0.0.47"]
VARIANTS = ["not publishing", "publishing"]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server of our own on loopback (Debian's package; scripts/lib.sh installs it)."""
    from dispymon.adapters.localnodes import wait_for_tcp

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    wait_for_tcp("127.0.0.1", port, 15.0, proc, what="redis-server")
    return proc, f"redis://127.0.0.1:{port}/0"


def run(quick: bool = False) -> Result:
    import dispy

    from dispymon.adapters.dispy import DispyControl
    from dispymon.adapters.localnodes import LocalCluster, stop_group
    from dispymon.fleet.broker import parse
    from dispymon.fleet.publisher import Publisher
    from dispymon.runtime.runtime import Runtime
    from dispymon.runtime.settings import Settings

    rounds = 2 if quick else int(os.environ.get("DISPYMON_FLEETJOBS_ROUNDS", "6"))
    jobs_per_run = 300 if quick else 1500
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-fleetjobs-"))
    redis, url = start_redis(workdir)
    nodes = LocalCluster(workdir, NODES, cpus=CPUS)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name=LOOP_THREAD).start()

    def on_loop(coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def start_server():
        runtime = Runtime(Settings(port=0, poll_sec=1.0, patch_dispy_queue=True), asyncio.get_running_loop())
        return runtime, await runtime.start()

    runtime, port = on_loop(start_server())
    adapter = runtime.adapter
    client = None
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    entries: list[int] = []
    load = [os.getloadavg()[0]]
    try:
        nodes.start()
        say(f"fleetjobs: nodes {', '.join(NODES)} ({CPUS} CPUs each); dashboard on {port}; broker {url}")
        client = Child([PYTHON, "-m", "benchmarks.clients", "--url", f"ws://127.0.0.1:{port}/ws", "--clients", "1",
                        "--interval", "0.25"])  # fmt: skip

        def one_run(variant: str) -> dict:
            cluster = dispy.JobCluster(compute, nodes=NODES, host="127.0.0.1", dispy_port=nodes.port_base, setup=setup,
                                       pulse_interval=2, loglevel=dispy.logger.WARNING,
                                       recover_file=str(workdir / "dispy-recover"))  # fmt: skip
            publisher = None
            adapter.attach(cluster)
            try:
                if variant == "publishing":
                    publisher = Publisher(runtime.hub, DispyControl(adapter), parse(url), "bench")
                    on_loop(publisher.start())
                wait_all([cluster.submit(i) for i in range(4 * CPUS * len(NODES))])
                if publisher is not None:
                    on_loop(publisher.publish_pending())  # the warm-up's entries out before the clock
                threads0, t0 = dispymon_threads(), time.perf_counter()
                jobs = [cluster.submit(i) for i in range(jobs_per_run)]
                wait_all(jobs)
                elapsed = time.perf_counter() - t0
                on_loop(runtime.flush(30), 60)  # the last jobs' events applied (and tee'd)
                if publisher is not None:
                    on_loop(publisher.publish_pending(), 60)  # and published
                threads1 = dispymon_threads()
                bad = [j for j in jobs if j.status != dispy.DispyJob.Finished]
                if bad:
                    raise RuntimeError(f"{len(bad)} jobs did not finish (status {bad[0].status}): {bad[0].exception}")
                spent = sum(c1 - threads0.get(name, 0.0) for name, c1 in threads1.items())
                published = publisher.entries if publisher is not None else 0
                if publisher is not None:
                    entries.append(published)
                return {
                    "jobs_s": jobs_per_run / elapsed,
                    "dispymon_us": spent / jobs_per_run * 1e6,
                    "entries": published,
                }
            finally:
                if publisher is not None:
                    on_loop(publisher.stop())
                adapter.detach(cluster)
                cluster.close(timeout=10, terminate=True)

        alternate("fleetjobs", rounds, VARIANTS, one_run, runs, load,
                  lambda r: f"{r['entries']} entries published")  # fmt: skip
    finally:
        if client is not None:
            client.stop()
        on_loop(runtime.stop(final=False))
        loop.call_soon_threadsafe(loop.stop)
        nodes.stop()
        stop_group(redis, 5.0)
        try:
            dispy.Singleton.instance(dispy._Cluster).shutdown()
        except Exception:
            pass
        shutil.rmtree(workdir, ignore_errors=True)

    on, off = runs["publishing"], runs["not publishing"]
    ratios = sorted(a["jobs_s"] / b["jobs_s"] for a, b in zip(on, off))
    cpu = sorted(a["dispymon_us"] / b["dispymon_us"] for a, b in zip(on, off))
    added = sorted(a["dispymon_us"] - b["dispymon_us"] for a, b in zip(on, off))
    result = Result("fleetjobs", "Issue 20: publishing to a broker, a real dispy program's cost")
    result.rows.append(Row(
        "Fleet (issue 20): a real 2-node cluster's jobs/s, publishing ÷ not",
        f"{median(ratios):.3f} ({ratios[0]:.3f}–{ratios[-1]:.3f} over {rounds} rounds); load average "
        f"{median(load):.1f}",
        "≥ 0.98, with the noise band of the runs",
        median(ratios) >= 0.98,
    ))  # fmt: skip
    result.rows.append(Row(
        "Fleet (issue 20): the publisher's CPU in the program, per job",
        f"dispymon's threads {median(r['dispymon_us'] for r in on):.1f} µs per job publishing, "
        f"{median(r['dispymon_us'] for r in off):.1f} not: ×{median(cpu):.2f} ({cpu[0]:.2f}–{cpu[-1]:.2f}); "
        f"+{median(added):.1f} µs per job ({added[0]:.1f}–{added[-1]:.1f})",
        "within 1.2× of dispymon's cost without it",
        median(cpu) <= 1.2,
    ))  # fmt: skip
    result.method = (
        f"2 dispynode processes ({', '.join(NODES)}, --cpus {CPUS}), b2's JobCluster (`setup=`, 2 ms jobs, "
        f"pulse_interval 2 s); {rounds} rounds of two runs (not publishing, publishing; the order swapped every "
        f"round), each a fresh cluster attached to dispymon's `Runtime` (`patch_dispy_queue=True`, its own loop "
        f"thread, one headless client at 0.25 s), {4 * CPUS * len(NODES)} warm-up jobs, then {jobs_per_run:,} "
        f"jobs submitted at once. Publishing: a `Publisher` to a redis-server of its own on loopback (its CPU not "
        f"counted: another process, usually another machine), started before the warm-up, its backlog published "
        f"before the clock starts and again before it stops. CPU from each dispymon thread's own clock from the "
        f"first submit to the last result applied and published."
    )
    lines = ["| round | jobs/s not publishing | publishing | ratio | dispymon µs/job not publishing | publishing | × |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for i, (a, b) in enumerate(zip(on, off)):
        lines.append(f"| {i + 1} | {b['jobs_s']:.0f} | {a['jobs_s']:.0f} | {a['jobs_s'] / b['jobs_s']:.3f} | "
                     f"{b['dispymon_us']:.1f} | {a['dispymon_us']:.1f} | {a['dispymon_us'] / b['dispymon_us']:.2f} |")  # fmt: skip
    lines.append("")
    lines.append(f"Entries published per run: {', '.join(str(e) for e in entries)}. Load average (1 min) over the "
                 f"rounds: {min(load):.1f}–{max(load):.1f}.")  # fmt: skip
    result.details = "\n".join(lines)
    result.data = {"runs": runs, "ratios": ratios, "cpu_ratios": cpu, "added_us": added, "load": load}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
