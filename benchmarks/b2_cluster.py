"""Target 2: jobs/s of a real 2-node cluster with dispymon attached ÷ with nothing attached.

Two real `dispynode` processes on 127.0.0.x (dispymon.adapters.localnodes), a dispy
`JobCluster` with a `setup=` computation and jobs of 2 ms (dispynode 4.15.2's
short-job race, see docs/dispy-notes.md), so the scheduler's own speed — what
a dashboard could slow — is what limits the rate. Runs alternate: a fresh
cluster with nothing attached, then a fresh cluster attached to a running
dispymon server (a `Runtime` with `patch_dispy_queue=True`, as `dispymon serve`
attaches) with a browser-like client connected at a live interval; the
order is swapped every pair. jobs/s = jobs ÷ (last result − first submit).
The dashboard server stays up (idle) during the runs without dispymon.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .common import PYTHON, Child, Result, Row, free_port, median, say

NODES = ["127.0.0.40", "127.0.0.41"]
CPUS = 2


def setup():
    # A global made by `setup` puts dispynode on its setup-process path for
    # every job (dispynode.py: use_setup_proc); without one it forks per job
    # and 4.15.2's short-job race ("'NoneType' object has no attribute 'pid'",
    # or a node that stops answering) hit this benchmark.
    global ready
    ready = True
    return 0


def compute(n):
    import time

    time.sleep(0.002)  # jobs that last a little, besides `setup`: dispynode 4.15.2's short-job race
    return n * 2


def run(quick: bool = False) -> Result:
    import dispy
    import dispy.httpd
    from dispymon.adapters.localnodes import LocalCluster
    from dispymon.runtime.runtime import Runtime
    from dispymon.runtime.settings import Settings

    pairs = 2 if quick else 12
    jobs_per_run = 300 if quick else 1500
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-bench-"))
    nodes = LocalCluster(workdir, NODES, cpus=CPUS)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="dashboard").start()

    async def start_server():
        # as `dispymon serve` runs it (the queue patch opted in), on a port of its own
        runtime = Runtime(Settings(port=0, poll_sec=1.0, patch_dispy_queue=True), asyncio.get_running_loop())
        return runtime, await runtime.start()

    runtime, port = asyncio.run_coroutine_threadsafe(start_server(), loop).result(30)
    hub, adapter = runtime.hub, runtime.adapter
    client = None
    variants = ["not attached", "dispymon attached", "no-op cluster_status", "dispy.httpd attached"]
    rates: dict[str, list[float]] = {v: [] for v in variants}
    pollers: list[Child] = []
    try:
        nodes.start()
        say(f"cluster: nodes {', '.join(NODES)} ({CPUS} CPUs each), port base {nodes.port_base}; dashboard on {port}")
        client = Child([PYTHON, "-m", "benchmarks.clients", "--url", f"ws://127.0.0.1:{port}/ws", "--clients", "1",
                        "--interval", "0.25"])  # fmt: skip

        def wait_all(jobs) -> None:
            deadline = time.monotonic() + 120
            for job in jobs:
                if not job.finish.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("jobs did not finish within 120 s (a dispynode stopped answering?)")

        def one_run(variant: str) -> float:
            cluster = dispy.JobCluster(compute, nodes=NODES, host="127.0.0.1", dispy_port=nodes.port_base, setup=setup,
                                       pulse_interval=2, loglevel=dispy.logger.WARNING,
                                       recover_file=str(workdir / "dispy-recover"))  # fmt: skip
            attached = variant == "dispymon attached"
            httpd = None
            try:
                if attached:
                    adapter.attach(cluster)
                elif variant == "no-op cluster_status":
                    cluster.cluster_status = lambda status, node, job: None
                elif variant == "dispy.httpd attached":
                    hport = free_port()
                    httpd = dispy.httpd.DispyHTTPServer(cluster, host="127.0.0.1", port=hport, poll_sec=1)
                    pollers.append(Child([PYTHON, "-m", "benchmarks.poll_httpd", "--url", f"http://127.0.0.1:{hport}",
                                          "--poll-sec", "1"]))  # fmt: skip
                # warm up: both nodes set up and running jobs (not timed)
                wait_all([cluster.submit(i) for i in range(4 * CPUS * len(NODES))])
                t0 = time.perf_counter()
                jobs = [cluster.submit(i) for i in range(jobs_per_run)]
                wait_all(jobs)
                elapsed = time.perf_counter() - t0
                bad = [j for j in jobs if j.status != dispy.DispyJob.Finished]
                if bad:
                    raise RuntimeError(f"{len(bad)} jobs did not finish (status {bad[0].status}): {bad[0].exception}")
                return jobs_per_run / elapsed
            finally:
                if attached:
                    adapter.detach(cluster)
                while pollers:
                    pollers.pop().stop()
                if httpd is not None:
                    httpd.shutdown(wait=False)
                cluster.close(timeout=10, terminate=True)

        for rnd in range(pairs):
            # a rotating order, so slow drift on a noisy machine falls on every variant alike
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            for variant in order:
                rate = one_run(variant)
                rates[variant].append(rate)
                say(f"cluster: round {rnd + 1}/{pairs}, {variant}: {rate:.0f} jobs/s")
    finally:
        if client is not None:
            client.stop()
        for poller in pollers:
            poller.stop()
        asyncio.run_coroutine_threadsafe(runtime.stop(final=False), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        nodes.stop()
        try:
            dispy.Singleton.instance(dispy._Cluster).shutdown()
        except Exception:
            pass
        shutil.rmtree(workdir, ignore_errors=True)

    on, off = median(rates["dispymon attached"]), median(rates["not attached"])
    ratio = on / off
    # the load on a shared machine drifts: each round's own ratio, runs minutes apart at most
    per_round = sorted(a / b for a, b in zip(rates["dispymon attached"], rates["not attached"]))
    q1, q3 = per_round[len(per_round) // 4], per_round[(3 * len(per_round)) // 4]
    noop, httpd_rate = median(rates["no-op cluster_status"]), median(rates["dispy.httpd attached"])
    result = Result("cluster", "2. A real cluster, with and without dispymon")
    result.rows.append(Row(
        "2. Real cluster throughput",
        f"{on:.0f} jobs/s attached vs {off:.0f} not attached (medians of {pairs}): ratio {ratio:.3f} "
        f"(a no-op cluster_status: {noop / off:.3f}; dispy.httpd: {httpd_rate / off:.3f}); median of the rounds' "
        f"own ratios {median(per_round):.3f}, middle half {q1:.2f}–{q3:.2f}",
        "≥ 0.98", ratio >= 0.98,
    ))  # fmt: skip
    result.method = (
        f"2 dispynode processes ({', '.join(NODES)}, --cpus {CPUS}), a JobCluster with `setup=` and tiny jobs "
        f"(a 2 ms sleep), pulse_interval 2 s (avail info flowing). {pairs} rounds of four variants (order rotated every "
        f"round): nothing attached, dispymon, a no-op `cluster_status` (what dispy itself does for any callback: a "
        f"copy of the job and a queue hop per event), dispy.httpd with its page polling at 1 s; each run a fresh cluster, {4 * CPUS * len(NODES)} warm-up jobs, then {jobs_per_run:,} jobs submitted "
        f"at once; jobs/s from the first submit to the last result. Attached: a `Runtime` (`Settings(patch_dispy_queue=True)`) "
        f"on a running dispymon server with one headless client at a 0.25 s interval."
    )
    lines = ["| round | " + " | ".join(f"{v}, jobs/s" for v in variants) + " |", "|---" * (len(variants) + 1) + "|"]
    for i in range(pairs):
        lines.append(f"| {i + 1} | " + " | ".join(f"{rates[v][i]:.0f}" for v in variants) + " |")
    lines.append("| **median** | " + " | ".join(f"**{median(rates[v]):.0f}**" for v in variants) + " |")
    lines.append("| ratio to not attached | " + " | ".join(f"{median(rates[v]) / off:.3f}" for v in variants) + " |")
    lines.append("| median of the rounds' ratios | " + " | ".join(
        f"{median([a / b for a, b in zip(rates[v], rates['not attached'])]):.3f}" for v in variants) + " |")  # fmt: skip
    result.details = "\n".join(lines)
    result.data = {"rates": rates, "median_attached": on, "median_not_attached": off, "ratio": ratio,
                   "round_ratios": per_round,
                   "ratio_noop": noop / off, "ratio_httpd": httpd_rate / off}  # fmt: skip
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
