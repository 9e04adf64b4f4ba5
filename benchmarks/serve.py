"""A dispymon server fed by the simulated cluster, in its own process (for the benchmarks).

    python -m benchmarks.serve --nodes 10000 --cpus 8 --rate 5000 --poll-sec 1

Prints one JSON line {"port", "pid", "sim_tid"} when it listens, then answers
one JSON line per command read from stdin:

    stats         RSS (and its peak), events applied, simulated events, CPU of the process, of the
                  simulator thread and of the event loop's thread
    emit N        N more events now (from the stdin thread), on top of the rate
    ingest N      make N events (untimed), hand them to the loop at once, time how long the loop takes
    rate R        change the simulator's events per second
    quit

`--via-dispy`: the simulator's events go through real dispy objects and
dispymon's own tap (adapter._make_tap, deferred copy), as from dispy's
callback thread, instead of straight into the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from dispymon.adapters.simulated import QUEUE_LIMIT, SimulatedCluster, SimulatedControl
from dispymon.entry.cli import size
from dispymon.model.events import ClusterAttached
from dispymon.runtime.runtime import Runtime
from dispymon.runtime.settings import Settings
from dispymon.transport.server import CONNECTIONS

try:
    from dispymon.transport.server import SNAPSHOTS
except ImportError:  # the code before issue 21 (side-by-side runs)
    SNAPSHOTS = None  # type: ignore[assignment]


def main() -> None:
    if os.environ.get("DISPYMON_BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start()
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--rate", type=float, default=1000.0)
    p.add_argument("--fill", type=float, default=0.75)
    p.add_argument("--poll-sec", type=float, default=1.0)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--via-dispy", action="store_true")
    p.add_argument("--realtime", action="store_true", help="node update_time = wall clock at the callback")
    p.add_argument("--stale-after", type=float, default=1e9, help="(health flags off by default: not measured here)")
    # the budgets as `dispymon serve` takes them (sizes such as 65536 or 64MiB)
    p.add_argument("--history-size", type=int, default=10_000)
    p.add_argument("--outputs-budget", type=size, default=64 * 2**20)
    p.add_argument("--resubmit-budget", type=size, default=64 * 2**20)
    p.add_argument("--history-bytes", type=size, default=256 * 2**20)
    # the simulator's jobs: output per job, an extra argument, queued jobs at most
    p.add_argument("--stdout-bytes", type=int, default=0)
    p.add_argument("--stderr-bytes", type=int, default=0)
    p.add_argument("--args-bytes", type=int, default=0)
    p.add_argument("--queue", type=int, default=QUEUE_LIMIT)
    args = p.parse_args()
    asyncio.run(serve(args))


async def serve(args: argparse.Namespace) -> None:
    if os.environ.get("DISPYMON_BENCH_ZLIB_NG"):  # a measured proposal, not what dispymon ships
        import aiohttp
        import zlib_ng.zlib_ng

        aiohttp.set_zlib_backend(zlib_ng.zlib_ng)
    loop = asyncio.get_running_loop()
    settings = Settings(host="127.0.0.1", port=args.port, poll_sec=args.poll_sec, stuck_after=1e9,
                        stale_after=args.stale_after, history_size=args.history_size,
                        outputs_budget=args.outputs_budget, resubmit_budget=args.resubmit_budget,
                        history_bytes=args.history_bytes)  # fmt: skip
    sims: list[SimulatedCluster] = []
    runtime = Runtime(settings, loop, source=lambda hub, keys: SimulatedControl(sims))
    hub, app = runtime.hub, runtime.app
    sim_feed = hub.feed
    if args.via_dispy:
        from dispymon.adapters.dispy import _make_tap

        from .replay import DispyReplay

        def on_attach(name: str) -> None:
            hub.feed(ClusterAttached(name, "JobCluster", (), (), 0))

        tap = _make_tap(hub.feed, "simulated", None, None, True)
        sim_feed = DispyReplay(tap, realtime=args.realtime, on_attach=on_attach)
    sim = SimulatedCluster(sim_feed, args.nodes, args.cpus, rate=args.rate, fill=args.fill, seed=1,
                           clock=time.time, keys=runtime.keys, queue=args.queue, stdout_bytes=args.stdout_bytes,
                           stderr_bytes=args.stderr_bytes, args_bytes=args.args_bytes)  # fmt: skip
    if args.realtime and not args.via_dispy:
        sim._now = time.time  # type: ignore[method-assign]  # update_time = the moment of the event
    sims.append(sim)
    port = await runtime.start()
    sim.start()
    sim_tid = sim._thread.native_id if sim._thread is not None else None
    me = psutil.Process()
    out = sys.stdout

    def answer(body: dict) -> None:
        out.write(json.dumps(body) + "\n")
        out.flush()

    done = asyncio.Event()

    def stats() -> dict:
        times = me.cpu_times()
        tid = sim._thread.native_id if sim._thread is not None else None
        threads = me.threads()
        sim_cpu = sum(t.user_time + t.system_time for t in threads if t.id == tid)
        # the event loop runs on the main thread (native id = pid): its own CPU clock
        loop_cpu = sum(t.user_time + t.system_time for t in threads if t.id == me.pid)
        # aiohttp compresses frames over 16 KiB in the loop's default executor (threads asyncio_N)
        pool_cpu = sum(t.user_time + t.system_time for t in threads if _thread_name(t.id).startswith("asyncio_"))
        return {
            "loop_cpu": loop_cpu,
            "pool_cpu": pool_cpu,
            "rss_peak": _rss_peak(),
            "t": time.time(),
            "rss": me.memory_info().rss,
            "applied": hub.events_applied,
            "sim_events": sim.events,
            "jobs_done": sim.jobs_done,
            "running": sim.running,
            "cpu": times.user + times.system,
            "sim_cpu": sim_cpu,
            "connections": len(app[CONNECTIONS]),
            # snapshot batches built (server.SnapshotBatches; None on code without them)
            "snapshot_batches": app[SNAPSHOTS].batches if SNAPSHOTS is not None else None,
            "snapshot_recent": list(app[SNAPSHOTS].recent) if SNAPSHOTS is not None else None,
        }

    gc_time = [0.0, 0.0, 0.0]  # seconds spent collecting, per generation
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_time[info["generation"]] += time.perf_counter() - gc_started[0]

    gc.callbacks.append(on_gc)

    async def fresh_cluster(attach: ClusterAttached) -> None:
        hub.feed(attach)
        await runtime.flush(60)  # every browser sent the fresh cluster

    def ingest(n: int) -> dict:
        # make the events first (untimed), then hand them over in one go
        made: list = []
        maker = SimulatedCluster(made.append, args.nodes, args.cpus, name="simulated", rate=max(args.rate, 1.0),
                                 fill=args.fill, seed=2)  # fmt: skip
        attach = maker.attached_event()
        maker.emit(n)
        # Every measurement starts from the same state: the maker's cluster
        # attached afresh (untimed), and the browsers sent the result. A
        # maker stops mid-stream, so without this the jobs each measurement
        # leaves running would pile up in the state run after run (60,000
        # more each time, on nodes of 8 CPUs): later runs would measure a
        # state no real cluster has, its running-jobs tables ever larger.
        asyncio.run_coroutine_threadsafe(fresh_cluster(attach), loop).result(120)
        # The pile of made events exists only for this measurement: keep the
        # garbage collector from scanning it again and again (gc.freeze).
        gc.collect()
        gc.freeze()
        target = hub.events_applied + len(made)
        finished = threading.Event()
        timing: dict = {}

        def start() -> None:
            timing["t0"] = time.perf_counter()
            timing["c0"] = time.thread_time()  # the loop's own CPU (this runs on it)
            timing["gc0"] = list(gc_time)
            timing["gcn0"] = [g["collections"] for g in gc.get_stats()]
            hub._inbox.extend(made)
            hub._drain_scheduled = True
            loop.call_soon(hub._drain)

            def check() -> None:
                if hub.events_applied >= target:
                    timing["t1"] = time.perf_counter()
                    timing["c1"] = time.thread_time()
                    timing["gc1"] = list(gc_time)
                    timing["gcn1"] = [g["collections"] for g in gc.get_stats()]
                    finished.set()
                else:
                    loop.call_later(0.001, check)

            loop.call_soon(check)

        loop.call_soon_threadsafe(start)
        finished.wait(600)
        count = len(made)
        made.clear()
        gc.unfreeze()
        seconds = timing["t1"] - timing["t0"]
        return {"events": count, "seconds": seconds, "per_sec": count / seconds,
                "loop_cpu": timing["c1"] - timing["c0"],
                "gc_seconds": [b - a for a, b in zip(timing["gc0"], timing["gc1"])],
                "gc_collections": [b - a for a, b in zip(timing["gcn0"], timing["gcn1"])]}  # fmt: skip

    spy: dict = {}

    def profile(action: str, path: str | None) -> dict:
        if action == "start":
            spy["proc"] = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(me.pid), "-r", "200", "--nonblocking",
                 "--format", "raw", "-o", path, "-d", "3600"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(1.0)  # py-spy attaches
            return {"profiling": spy["proc"].pid}
        proc = spy.pop("proc", None)
        if proc is not None:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            proc.wait(60)
        return {"profiled": True}

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "stats":
                    answer(stats())
                elif words[0] == "emit":
                    t = time.perf_counter()
                    n = sim.emit(int(words[1]))
                    answer({"emitted": n, "seconds": time.perf_counter() - t})
                elif words[0] == "ingest":
                    answer(ingest(int(words[1])))
                elif words[0] == "rate":
                    sim.stop()
                    sim.rate = float(words[1])
                    if sim.rate > 0:
                        sim._stop.clear()
                        sim._thread = threading.Thread(target=sim._run, name="simulated-bench", daemon=True)
                        sim._thread.start()
                    answer({"rate": sim.rate, "sim_tid": sim._thread.native_id if sim._thread else None})
                elif words[0] == "profile":  # profile start PATH | profile stop: py-spy on this process
                    answer(profile(words[1], words[2] if len(words) > 2 else None))
                elif words[0] == "tracemalloc":  # with DISPYMON_BENCH_TRACEMALLOC=1: the top allocation sites
                    import tracemalloc

                    # `tracemalloc N`: the top N sites; `tracemalloc mark`, then `tracemalloc diff N`: what grew since
                    if words[1] == "mark":
                        spy["snapshot"] = tracemalloc.take_snapshot()
                        answer({"marked": True})
                        continue
                    if words[1] == "diff":
                        diff = tracemalloc.take_snapshot().compare_to(spy["snapshot"], "lineno")[: int(words[2])]
                        answer({"diff": [f"{s.size_diff / 2**20:+.1f} MB {s.count_diff:+d} {s.traceback}" for s in diff]})
                        continue
                    top = tracemalloc.take_snapshot().statistics("lineno")[: int(words[1])]
                    traced, peak = tracemalloc.get_traced_memory()
                    answer({"top": [f"{s.size / 2**20:.1f} MB {s.count} {s.traceback}" for s in top],
                            "traced_mb": traced / 2**20, "peak_mb": peak / 2**20})  # fmt: skip
                elif words[0] == "quit":
                    break
                else:
                    answer({"error": f"unknown command {words[0]}"})
            except Exception as exc:  # report, keep serving
                answer({"error": f"{type(exc).__name__}: {exc}"})
        loop.call_soon_threadsafe(done.set)

    answer({"port": port, "pid": me.pid, "sim_tid": sim_tid})
    threading.Thread(target=commands, daemon=True).start()
    try:
        await done.wait()
    finally:
        sim.stop()
        await runtime.stop(final=False)


def _thread_name(tid: int) -> str:
    try:
        return Path(f"/proc/self/task/{tid}/comm").read_text().strip()
    except OSError:
        return ""


def _rss_peak() -> int:
    """The process's peak RSS so far (VmHWM), in bytes; 0 where /proc has none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    main()
