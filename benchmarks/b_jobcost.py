"""Issue 21, target 12: dispy's cost — CPU time per job that dispymon adds in the user's process.

b2's set-up (two real `dispynode` processes on 127.0.0.x, a `JobCluster` with
`setup=` and 2 ms jobs, a fresh cluster each run), with dispymon in the same
process as the cluster, as a user's program runs it: a `Runtime` on its own
event-loop thread (`Settings(patch_dispy_queue=True)`, as `dispymon serve`
and the `dispymon.httpd` drop-in attach) and one headless browser-like client
at a live interval (0.25 s). Runs alternate, the order swapped each round:
the cluster not attached (the server idle) and attached. Each run reads,
around its timed jobs, the CPU clock of every dispymon thread
(`time.pthread_getcpuclockid`: the event loop, the default executor's threads
where aiohttp compresses frames, the guard's pool, the history writer — every
thread this process started for dispymon) and the process's CPU clock. Per
job: (attached − not attached of the same round) ÷ jobs, the rounds' median
and spread. A thread clock counts only that thread's time on a CPU, so other
processes' load on the shared machine does not add to it. The tap dispymon
runs on dispy's scheduler thread (an append) is not in any of dispymon's
threads; the process's CPU difference bounds it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .b2_cluster import CPUS, compute, setup
from .common import PYTHON, Child, Result, Row, median, say

NODES = ["127.0.0.44", "127.0.0.45"]
LOOP_THREAD = "dispymon-loop"


def dispymon_threads() -> dict[str, float]:
    """CPU seconds of each live dispymon thread (by name), from its own CPU clock."""
    out: dict[str, float] = {}
    for t in threading.enumerate():
        name = t.name
        if not (name.startswith("dispymon") or name.startswith("asyncio_")) or t.ident is None:
            continue
        try:
            clock = time.pthread_getcpuclockid(t.ident)
            out[f"{name}#{t.native_id}"] = time.clock_gettime(clock)
        except (OSError, ProcessLookupError):  # the thread ended meanwhile
            pass
    return out


def group(name: str) -> str:
    base = name.split("#")[0]
    if base == LOOP_THREAD:
        return "event loop"
    if base.startswith("asyncio_"):
        return "executor"
    return base.rstrip("_0123456789")


def wait_all(jobs) -> None:
    """Every job ended, within 120 s (RuntimeError otherwise: the run is made again)."""
    deadline = time.monotonic() + 120
    for job in jobs:
        if job is None:  # seen once at a load average of 7: dispy refused a submit
            raise RuntimeError("dispy did not take a job (submit returned None)")
        if not job.finish.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError("jobs did not finish within 120 s (a dispynode stopped answering?)")


def alternate(
    name: str,
    rounds: int,
    variants: list[str],
    one_run: Callable[[str], dict],
    runs: dict[str, list[dict]],
    load: list[float],
    more: Callable[[dict], str],
) -> None:
    """`rounds` rounds of one run per variant, the order swapped every round (a run dispy spoils,
    a refused submit, is made again, at most twice, and said); the load average after each."""
    for rnd in range(rounds):
        order = variants if rnd % 2 == 0 else variants[::-1]
        for variant in order:
            for attempt in range(3):
                try:
                    r = one_run(variant)
                    break
                except RuntimeError as exc:
                    if attempt == 2:
                        raise
                    say(f"{name}: round {rnd + 1}, {variant}: run again ({exc})")
            runs[variant].append(r)
            say(
                f"{name}: round {rnd + 1}/{rounds}, {variant}: {r['jobs_s']:.0f} jobs/s, dispymon threads "
                f"{r['dispymon_us']:.1f} µs/job, {more(r)}"
            )
        load.append(os.getloadavg()[0])


def run(quick: bool = False) -> Result:
    import dispy

    from dispymon.adapters.localnodes import LocalCluster
    from dispymon.runtime.runtime import Runtime
    from dispymon.runtime.settings import Settings

    rounds = 2 if quick else int(os.environ.get("DISPYMON_JOBCOST_ROUNDS", "8"))
    jobs_per_run = 300 if quick else 1500
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-jobcost-"))
    nodes = LocalCluster(workdir, NODES, cpus=CPUS)
    loop = asyncio.new_event_loop()
    profile_to = os.environ.get("DISPYMON_BENCH_CPROFILE")  # a file: cProfile of the loop thread (not timed)

    def loop_thread() -> None:
        if not profile_to:
            loop.run_forever()
            return
        import cProfile

        # the thread's own CPU clock, not the wall clock: time spent waiting for the GIL (dispy's threads
        # hold it) or preempted on the loaded machine is not the loop's cost
        prof = cProfile.Profile(time.thread_time)
        prof.runcall(loop.run_forever)
        prof.dump_stats(profile_to)

    threading.Thread(target=loop_thread, daemon=True, name=LOOP_THREAD).start()

    async def start_server():
        runtime = Runtime(Settings(port=0, poll_sec=1.0, patch_dispy_queue=True), asyncio.get_running_loop())
        return runtime, await runtime.start()

    runtime, port = asyncio.run_coroutine_threadsafe(start_server(), loop).result(30)
    adapter = runtime.adapter
    client = None
    variants = ["not attached", "attached"]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    load = [os.getloadavg()[0]]
    try:
        nodes.start()
        say(f"jobcost: nodes {', '.join(NODES)} ({CPUS} CPUs each); dashboard on {port}")
        client = Child([PYTHON, "-m", "benchmarks.clients", "--url", f"ws://127.0.0.1:{port}/ws", "--clients", "1",
                        "--interval", "0.25"])  # fmt: skip

        def one_run(variant: str) -> dict:
            cluster = dispy.JobCluster(compute, nodes=NODES, host="127.0.0.1", dispy_port=nodes.port_base, setup=setup,
                                       pulse_interval=2, loglevel=dispy.logger.WARNING,
                                       recover_file=str(workdir / "dispy-recover"))  # fmt: skip
            attached = variant == "attached"
            try:
                if attached:
                    adapter.attach(cluster)
                wait_all([cluster.submit(i) for i in range(4 * CPUS * len(NODES))])
                threads0, p0, t0 = dispymon_threads(), time.process_time(), time.perf_counter()
                jobs = [cluster.submit(i) for i in range(jobs_per_run)]
                wait_all(jobs)
                elapsed = time.perf_counter() - t0
                # the events of the last jobs are in the hub's inbox: the loop's work on them counts (both variants)
                asyncio.run_coroutine_threadsafe(runtime.flush(30), loop).result(60)
                threads1, p1 = dispymon_threads(), time.process_time()
                bad = [j for j in jobs if j.status != dispy.DispyJob.Finished]
                if bad:
                    raise RuntimeError(f"{len(bad)} jobs did not finish (status {bad[0].status}): {bad[0].exception}")
                per: dict[str, float] = {}
                for name, c1 in threads1.items():
                    g = group(name)
                    per[g] = per.get(g, 0.0) + c1 - threads0.get(name, 0.0)
                return {"jobs_s": jobs_per_run / elapsed, "process_us": (p1 - p0) / jobs_per_run * 1e6,
                        "threads_us": {g: v / jobs_per_run * 1e6 for g, v in per.items()},
                        "dispymon_us": sum(per.values()) / jobs_per_run * 1e6}  # fmt: skip
            finally:
                if attached:
                    adapter.detach(cluster)
                cluster.close(timeout=10, terminate=True)

        alternate("jobcost", rounds, variants, one_run, runs, load,
                  lambda r: f"process {r['process_us']:.0f} µs/job")  # fmt: skip
    finally:
        if client is not None:
            client.stop()
        asyncio.run_coroutine_threadsafe(runtime.stop(final=False), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        if profile_to:
            time.sleep(1.0)  # the loop thread writes its profile as run_forever returns
        nodes.stop()
        try:
            dispy.Singleton.instance(dispy._Cluster).shutdown()
        except Exception:
            pass
        shutil.rmtree(workdir, ignore_errors=True)

    on, off = runs["attached"], runs["not attached"]
    added = sorted(a["dispymon_us"] - b["dispymon_us"] for a, b in zip(on, off))
    process_added = sorted(a["process_us"] - b["process_us"] for a, b in zip(on, off))
    ratios = sorted(a["jobs_s"] / b["jobs_s"] for a, b in zip(on, off))
    groups = sorted({g for r in on for g in r["threads_us"]})
    by_group = {g: median(r["threads_us"].get(g, 0.0) for r in on) for g in groups}
    cost = median(added)
    result = Result("jobcost", "Issue 21, 12. dispy's cost: CPU per job in the user's process")
    result.rows.append(Row(
        "21.12 dispy's cost: dispymon's CPU per job, real 2-node cluster, one browser",
        f"{cost:.1f} µs per job ({added[0]:.1f}–{added[-1]:.1f} over {rounds} rounds; attached "
        f"{median(r['dispymon_us'] for r in on):.1f}, idle {median(r['dispymon_us'] for r in off):.1f}; "
        + ", ".join(f"{g} {v:.1f}" for g, v in by_group.items())
        + f"); the whole process +{median(process_added):.0f} µs ({process_added[0]:.0f}–{process_added[-1]:.0f}); "
        f"jobs/s attached ÷ not {median(ratios):.3f} ({ratios[0]:.3f}–{ratios[-1]:.3f}); load average "
        f"{median(load):.1f}",
        "≤ 10 µs per job; jobs/s with ÷ without, with the rounds' spread",
        cost <= 10.0,
    ))  # fmt: skip
    result.method = (
        f"2 dispynode processes ({', '.join(NODES)}, --cpus {CPUS}), b2's JobCluster (`setup=`, 2 ms jobs, "
        f"pulse_interval 2 s); {rounds} rounds of two runs (not attached, attached; the order swapped every round), "
        f"each a fresh cluster, {4 * CPUS * len(NODES)} warm-up jobs, then {jobs_per_run:,} jobs submitted at once. "
        f"dispymon in the same process: a `Runtime` (`patch_dispy_queue=True`) on its own loop thread, one headless "
        f"client at 0.25 s. CPU from each dispymon thread's own clock (`time.pthread_getcpuclockid`) from the first "
        f"submit to the last result and the hub flushed to the browser; per job: attached − not attached of the same "
        f"round. The whole process's CPU (`time.process_time`) the same way, which also holds dispy's side of each "
        f"callback (its job copy and the tap) and its noise."
    )
    lines = ["| round | jobs/s not attached | jobs/s attached | ratio | dispymon µs/job idle | attached | added | process µs/job not attached | attached |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for i, (a, b) in enumerate(zip(on, off)):
        lines.append(f"| {i + 1} | {b['jobs_s']:.0f} | {a['jobs_s']:.0f} | {a['jobs_s'] / b['jobs_s']:.3f} | "
                     f"{b['dispymon_us']:.1f} | {a['dispymon_us']:.1f} | {a['dispymon_us'] - b['dispymon_us']:.1f} | "
                     f"{b['process_us']:.0f} | {a['process_us']:.0f} |")  # fmt: skip
    lines.append("")
    lines.append("Attached, by thread (median µs per job): " + ", ".join(f"{g} {v:.2f}" for g, v in by_group.items())
                 + f". Load average (1 min) over the rounds: {min(load):.1f}–{max(load):.1f}.")  # fmt: skip
    result.details = "\n".join(lines)
    result.data = {"runs": runs, "added_us": added, "process_added_us": process_added, "ratios": ratios,
                   "by_group": by_group, "load": load, "cost_us": cost}  # fmt: skip
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
