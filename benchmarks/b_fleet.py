"""Issue 20: a fleet, 50 programs publishing into one Redis, read by 2 central replicas with 100 browsers each.

Every part is a process of its own on loopback: a redis-server (started
here, its own port and directory, stopped by PID); 50 simulated programs
(benchmarks/fleet_programs.py: each a hub fed from the simulator's thread
and the fleet's Publisher, node update_time stamped with the wall clock when
the event is made) in 5 processes of 10; 2 centrals
(benchmarks/fleet_central.py: the Runtime with the FleetSource, what
`dispymon serve --broker` runs); per central 100 headless clients
(benchmarks/clients.py) at the live interval (0.05 s), offering
permessage-deflate as browsers do: 97 in one process read only each frame's
type, seq and job counters, 3 in another decode every record and time it.

The programs' rate goes up in steps (events/s per program) to the issue's
2,000; each step settles, then is measured over a window: the rates each
side reached (made and applied in the programs, entries published, applied
by each central), the CPU of each central (process, event loop thread,
deflate threads), of Redis, the programs and the clients, Redis's memory
(INFO used_memory and RSS; the streams' own bytes by MEMORY USAGE, and what
they would hold at the default retention of 10,000 entries), and how old
what a browser shows is when it decodes the frame (below). Before the
fleet starts, the publisher's CPU per event in the program is measured
with benchmarks/fleet_publish.py's method (the hub alone ÷ the hub with
the publisher, alternating, on this Redis).

    python -m benchmarks.b_fleet [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from .b_fleetjobs import start_redis
from dispymon.fleet.publisher import BATCH_EVENTS, FLUSH_EVERY

from .common import PYTHON, REPO, RESULTS, Child, Result, Row, median, percentile, say

PROGRAMS = 50
PROGRAM_PROCESSES = 5
NOMINAL = 2000.0  # events/s per program (the issue's)
STEPS = [20.0, 100.0, 400.0, NOMINAL]
NODES = 100  # per program, 8 CPUs each
REPLICAS = 2
BROWSERS = 100  # per replica
TIMED = 3  # of them, per replica, decode every record and time it
INTERVAL = 0.05  # the live interval (protocol.MIN_INTERVAL)
SETTLE = 6.0  # s after a rate change before its window
RETENTION = 10_000  # the publisher's default (entries per stream)
GOAL_P99 = 0.150
GOAL_PUBLISHER = 1.2
DEADLINE = 280.0  # s: the whole benchmark stays within 5 minutes


class Sampler:
    """Reads every child at once (one thread each): they answer on their own pipes."""

    @staticmethod
    def ask(children: list[Child], command: str) -> list[dict]:
        out: list[dict] = [{}] * len(children)

        def one(i: int) -> None:
            out[i] = children[i].ask(command, 120)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(children))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out


def redis_memory(client) -> dict:
    info = client.info("memory")
    streams = [f"dispymon:p:bench-{i:02d}:events" for i in range(PROGRAMS)]
    pipe = client.pipeline(transaction=False)
    for key in streams:
        pipe.memory_usage(key, samples=0)
        pipe.xlen(key)
    got = pipe.execute()
    stream_bytes = sum(b or 0 for b in got[0::2])
    entries = sum(n or 0 for n in got[1::2])
    return {"used": info["used_memory"], "rss": info["used_memory_rss"], "peak": info["used_memory_peak"],
            "stream_bytes": stream_bytes, "entries": entries}  # fmt: skip


def measure_step(rate: float, window: float, programs: list[Child], centrals: list[Child], light: list[Child],
                 timed: list[Child], redis_client, redis_proc: psutil.Process) -> dict:  # fmt: skip
    clients = [psutil.Process(c.pid) for c in light + timed]
    p0, c0 = Sampler.ask(programs, "stats"), Sampler.ask(centrals, "stats")
    Sampler.ask(centrals, "lat")
    Sampler.ask(timed, "mark")  # what came before the window is not counted
    r0 = sum(redis_proc.cpu_times()[:2])
    k0 = sum(sum(p.cpu_times()[:2]) for p in clients)
    ages: list[float] = []
    lags: list[float] = []
    read: list[float] = []
    fed: list[float] = []
    read_each: list[list[float]] = [[] for _ in centrals]
    seq_gaps = 0
    timed_alive = 0
    end = time.time() + window
    while True:
        time.sleep(max(0.0, min(5.0, end - time.time())))
        # every 5 s: the samples so far (bounded pipes and lists)
        marks = Sampler.ask(timed, "mark")
        timed_alive = sum(m["alive"] for m in marks)
        for m in marks:
            for c in m["clients"]:
                ages += c["ages"]
                lags += c["lags"]
                seq_gaps += c["gaps"]
        for i, lat in enumerate(Sampler.ask(centrals, "lat")):
            read += lat["read"]
            fed += lat["fed"]
            read_each[i] += lat["read"]
        if time.time() >= end:
            break
    p1, c1 = Sampler.ask(programs, "stats"), Sampler.ask(centrals, "stats")
    r1 = sum(redis_proc.cpu_times()[:2])
    k1 = sum(sum(p.cpu_times()[:2]) for p in clients)
    memory = redis_memory(redis_client)
    wall = median(b["t"] - a["t"] for a, b in zip(p0 + c0, p1 + c1))

    def total(rows0: list[dict], rows1: list[dict], key: str) -> float:
        return sum(b[key] - a[key] for a, b in zip(rows0, rows1))

    applied_programs = total(p0, p1, "applied")
    published = total(p0, p1, "published")
    entries = total(p0, p1, "entries")
    published_all = sum(p["published"] for p in p1)  # since the start: what the streams hold (none trimmed yet)
    light_alive = sum(m["alive"] for m in Sampler.ask(light, "mark"))
    return {
        "rate": rate, "nominal": rate * PROGRAMS, "window_s": wall,
        "made_s": total(p0, p1, "made") / wall,
        "program_applied_s": applied_programs / wall,
        "entries_s": entries / wall,
        "published_s": published / wall,
        "events_per_entry": published / entries if entries else float("nan"),
        "bytes_per_event": memory["stream_bytes"] / published_all if published_all else float("nan"),
        "dropped": total(p0, p1, "dropped"),
        "backlog_end": sum(p["backlog"] for p in p1), "inbox_end": sum(p["inbox"] for p in p1),
        "programs_cpu": total(p0, p1, "cpu") / wall, "programs_sim_cpu": total(p0, p1, "sim_cpu") / wall,
        "replica_applied_s": [(b["applied"] - a["applied"]) / (b["t"] - a["t"]) for a, b in zip(c0, c1)],
        "replica_cpu": [(b["cpu"] - a["cpu"]) / (b["t"] - a["t"]) for a, b in zip(c0, c1)],
        "replica_loop_cpu": [(b["loop_cpu"] - a["loop_cpu"]) / (b["t"] - a["t"]) for a, b in zip(c0, c1)],
        "replica_pool_cpu": [(b["pool_cpu"] - a["pool_cpu"]) / (b["t"] - a["t"]) for a, b in zip(c0, c1)],
        "replica_rss_mb": [c["rss"] / 2**20 for c in c1],
        "replica_connections": [c["connections"] for c in c1],
        "replica_clusters": [c["clusters"] for c in c1],
        "replica_resyncs": [b["resyncs"] - a["resyncs"] for a, b in zip(c0, c1)],
        # the central's log: each time it found the broker unreachable or slow (logged once per change)
        "replica_broker_failures": [_failures(c) for c in centrals],
        "redis_cpu": (r1 - r0) / wall, "clients_cpu": (k1 - k0) / wall,
        "redis_used_mb": memory["used"] / 2**20, "redis_rss_mb": memory["rss"] / 2**20,
        "redis_peak_mb": memory["peak"] / 2**20, "stream_mb": memory["stream_bytes"] / 2**20,
        "stream_entries": memory["entries"],
        "bytes_per_entry": memory["stream_bytes"] / memory["entries"] if memory["entries"] else float("nan"),
        "ages_n": len(ages), "age_p50": percentile(ages, 50), "age_p99": percentile(ages, 99),
        "age_max": max(ages, default=float("nan")),
        "lags_n": len(lags), "lag_p50": percentile(lags, 50), "lag_p99": percentile(lags, 99),
        "read_p50": percentile(read, 50), "read_p99": percentile(read, 99),
        "replica_read_p50": [percentile(r, 50) for r in read_each],
        "replica_read_p99": [percentile(r, 99) for r in read_each],
        "fed_p50": percentile(fed, 50), "fed_p99": percentile(fed, 99),
        "seq_gaps": seq_gaps,
        "alive": light_alive + timed_alive,
        "load": os.getloadavg()[0],
    }  # fmt: skip


def _failures(central: Child) -> int:
    return sum(1 for line in list(central._stderr) if "did not answer in time" in line or "cannot be reached" in line)


def kept_up(step: dict) -> bool:
    """Every side at the rate the programs made, nothing dropped, no entry waiting in Redis for long."""
    made = step["made_s"]
    return (step["dropped"] == 0 and min(step["replica_applied_s"]) >= 0.95 * made
            and step["program_applied_s"] >= 0.95 * made and step["read_p99"] < 1.0)  # fmt: skip


def run(quick: bool = False) -> Result:
    steps = [STEPS[1], NOMINAL] if quick else STEPS
    window = 8.0 if quick else 20.0
    pub_events, pub_runs = (20_000, 2) if quick else (100_000, 5)
    results, alone, published, load = fleet(steps, window, pub_events, pub_runs)
    return report(results, alone, published, window, pub_events, pub_runs, load)


def fleet(steps: list[float], window: float, pub_events: int, pub_runs: int,
          old_backend: str | None = None) -> tuple[list[dict], list[float], list[float], list[float]]:  # fmt: skip
    """The fleet at each step; `old_backend` (another tree's backend/): the first central runs that code."""
    import redis as redis_py

    from . import fleet_publish

    t_start = time.monotonic()
    alone: list[float] = []
    published: list[float] = []
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-fleet-"))
    redis_proc, url = start_redis(workdir)
    children: list[Child] = []
    results: list[dict] = []
    load = [os.getloadavg()[0]]
    try:
        rclient = redis_py.Redis.from_url(url)
        if pub_runs:
            say(f"fleet: the publisher's CPU per event, {pub_runs} runs of {pub_events:,} events (fleet_publish's method)")
            alone, published = asyncio.run(fleet_publish.measure(url, pub_events, pub_runs))
            rclient.flushall()  # its program is not one of the fleet's
        old_env = {"PYTHONPATH": os.pathsep.join([old_backend, str(REPO)])} if old_backend else None
        centrals = [Child([PYTHON, "-m", "benchmarks.fleet_central", "--url", url], env=old_env if i == 0 else None)
                    for i in range(REPLICAS)]  # fmt: skip
        children += centrals
        per = PROGRAMS // PROGRAM_PROCESSES
        programs = [Child([PYTHON, "-m", "benchmarks.fleet_programs", "--url", url, "--first", str(i * per),
                           "--count", str(per), "--rate", str(steps[0]), "--nodes", str(NODES),
                           "--retention", str(RETENTION)]) for i in range(PROGRAM_PROCESSES)]  # fmt: skip
        children += programs
        deadline = time.monotonic() + 90
        while True:  # every central follows every program
            seen = Sampler.ask(centrals, "stats")
            if all(s["clusters"] == PROGRAMS for s in seen):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the centrals see {[s['clusters'] for s in seen]} of {PROGRAMS} programs' clusters")
            time.sleep(0.5)  # polling the centrals' counters, a condition
        say(f"fleet: {PROGRAMS} programs in {PROGRAM_PROCESSES} processes, {REPLICAS} centrals on "
            f"{', '.join(str(c.hello['port']) for c in centrals)}; {BROWSERS} clients each at {INTERVAL} s")  # fmt: skip
        light: list[Child] = []
        timed: list[Child] = []
        for c in centrals:
            ws = f"ws://127.0.0.1:{c.hello['port']}/ws"
            common = ["-m", "benchmarks.clients", "--url", ws, "--interval", str(INTERVAL), "--stagger", "0.01"]
            light.append(Child([PYTHON, *common, "--clients", str(BROWSERS - TIMED), "--full", "0",
                                "--age-clients", "0"], timeout=180))  # fmt: skip
            children.append(light[-1])
            timed.append(Child([PYTHON, *common, "--clients", str(TIMED), "--age-clients", str(TIMED)], timeout=180))
            children.append(timed[-1])
        redis_ps = psutil.Process(redis_proc.pid)
        for i, rate in enumerate(steps):
            if i > 0:
                Sampler.ask(programs, f"rate {rate}")
            left = DEADLINE - (time.monotonic() - t_start)
            if left < SETTLE + 8:
                say(f"fleet: stopping before {rate:g}/s per program: the 5 minutes are nearly gone")
                break
            time.sleep(SETTLE)  # the new rate settles (a wait for time, not for a condition)
            step = measure_step(rate, min(window, left - SETTLE - 5), programs, centrals, light, timed, rclient,
                                redis_ps)  # fmt: skip
            results.append(step)
            load.append(step["load"])
            say(f"fleet: {rate:g}/s × {PROGRAMS}: made {step['made_s']:,.0f}/s, replicas applied "
                f"{', '.join(f'{a:,.0f}' for a in step['replica_applied_s'])}/s, replica CPU "
                f"{', '.join(f'{c * 100:.0f} %' for c in step['replica_cpu'])}, Redis {step['redis_used_mb']:.0f} MB, "
                f"age p99 {step['age_p99'] * 1000:.0f} ms (n={step['ages_n']}), read p99 {step['read_p99'] * 1000:.0f} ms, "
                f"load {step['load']:.1f}")  # fmt: skip
    finally:
        for child in reversed(children):
            child.stop()
        from dispymon.adapters.localnodes import stop_group

        stop_group(redis_proc, 5.0)
        shutil.rmtree(workdir, ignore_errors=True)
    return results, alone, published, load


def compare(old_backend: str, steps: list[float], window: float) -> None:
    """Side by side in one run: central 1 on `old_backend`'s code, central 2 on this tree's, same streams."""
    results, _, _, load = fleet(steps, window, 0, 0, old_backend=old_backend)
    import datetime

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = {"old": old_backend, "started": started, "steps": results, "load": load}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fleet-side-by-side.json").write_text(json.dumps(out, indent=1) + "\n")
    print("| events/s asked | central | applied events/s | CPU | XADD → read p50 / p99 | broker found unreachable or slow |")
    print("|---|---|---|---|---|---|")
    for s in results:
        for i, which in enumerate(("old", "new")):
            print(f"| {s['nominal']:,.0f} | {which} | {s['replica_applied_s'][i]:,.0f} | {s['replica_cpu'][i] * 100:.0f} % | "
                  f"{_ms(s['replica_read_p50'][i])} / {_ms(s['replica_read_p99'][i])} | "
                  f"{s['replica_broker_failures'][i]} |")  # fmt: skip
    made = ", ".join(f"{s['made_s']:,.0f}" for s in results)
    print(f"\nprograms made {made} events/s; load average {', '.join(f'{x:.1f}' for x in load)}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def report(steps: list[dict], alone: list[float], published: list[float], window: float, pub_events: int,
           pub_runs: int, load: list[float]) -> Result:  # fmt: skip
    result = Result("fleet", "Issue 20: a fleet, 50 programs into one Redis, 2 replicas × 100 browsers")
    a, p = median(alone), median(published)
    ratios = sorted(y / x for x, y in zip(alone, published))
    top = steps[-1]
    sustained = [s for s in steps if kept_up(s)]
    best = sustained[-1] if sustained else None

    def reached(s: dict) -> str:
        return (f"programs made {s['made_s']:,.0f} events/s and published {s['published_s']:,.0f} "
                f"({s['entries_s']:,.0f} entries/s), replicas applied "
                f"{' and '.join(f'{x:,.0f}' for x in s['replica_applied_s'])} events/s")  # fmt: skip

    result.rows.append(Row(
        "Fleet (issue 20): 50 programs × 2,000 events/s into one Redis, 2 replicas × 100 browsers: the rate reached",
        f"asked {top['nominal']:,.0f} events/s: {reached(top)}"
        + (f"; highest step kept up with: {best['nominal']:,.0f} events/s asked ({reached(best)})" if best and best is not top else "")
        + (f"; no step kept up" if best is None else "")
        + f"; 2 cores, load average {median(load):.1f}",
        "100,000 events/s end to end",
        min(top["replica_applied_s"]) >= 0.95 * top["nominal"],
    ))  # fmt: skip
    cpu_text = "; ".join(
        f"{s['nominal']:,.0f}/s asked: {' and '.join(f'{c * 100:.0f} %' for c in s['replica_cpu'])} "
        f"({' and '.join(f'{x:,.0f}' for x in s['replica_applied_s'])} events/s applied)" for s in steps
    )
    result.rows.append(Row(
        "Fleet (issue 20): CPU per replica (of one core), 100 browsers each at 0.05 s",
        cpu_text, "(no goal given; measured)", None,
    ))  # fmt: skip
    mem_text = "; ".join(
        f"{s['nominal']:,.0f}/s asked: used_memory {s['redis_used_mb']:,.0f} MB, RSS {s['redis_rss_mb']:,.0f} MB "
        f"({s['stream_entries']:,} entries, {s['bytes_per_event']:,.0f} bytes per event)" for s in steps
    )
    per_event = median(s["bytes_per_event"] for s in steps)
    # the retention counts entries; a publisher keeping up sends one entry per FLUSH_EVERY (0.1 s)
    per_entry = min(BATCH_EVENTS, max(1.0, NOMINAL * FLUSH_EVERY))
    proj = per_event * per_entry * RETENTION * PROGRAMS / 2**30
    result.rows.append(Row(
        "Fleet (issue 20): Redis memory",
        f"{mem_text}; at the default retention (10,000 entries per stream, counted in entries, not bytes) 50 "
        f"programs at 2,000 events/s ({per_entry:.0f} events per entry) would hold ≈ {proj:,.1f} GiB",
        "(no goal given; measured)", None,
    ))  # fmt: skip
    lat_text = "; ".join(
        f"{s['nominal']:,.0f}/s asked: p99 {_ms(s['age_p99'])} (p50 {_ms(s['age_p50'])}, {s['ages_n']:,} records)"
        for s in steps
    )
    result.rows.append(Row(
        "Fleet (issue 20): p99 event → browser at the live interval (0.05 s)",
        lat_text + (f"; {'met' if best['age_p99'] <= GOAL_P99 else 'not met'} at the highest rate kept up with "
                    f"({best['nominal']:,.0f}/s)" if best else ""),
        "≤ 150 ms (at 100,000 events/s)",
        top["age_p99"] <= GOAL_P99 and min(top["replica_applied_s"]) >= 0.95 * top["nominal"],
    ))  # fmt: skip
    result.rows.append(Row(
        "Fleet (issue 20): the publisher's CPU per event in the program",
        f"hub alone {a * 1e6:.2f} µs/event, hub + publisher {p * 1e6:.2f}: ×{p / a:.2f} "
        f"(runs {ratios[0]:.2f}–{ratios[-1]:.2f}, {pub_runs} runs of {pub_events:,} events)",
        "within 1.2× of the hub alone",
        p / a <= GOAL_PUBLISHER,
    ))  # fmt: skip
    result.method = (
        f"All on loopback, each part its own process. A redis-server (Debian's, `--save '' --appendonly no`, its "
        f"own port and directory, stopped by PID). {PROGRAMS} simulated programs in {PROGRAM_PROCESSES} processes "
        f"(benchmarks/fleet_programs.py): each a hub of its own fed from its simulator's thread ({NODES} nodes × 8 "
        f"CPUs, node addresses distinct per program) and the fleet's `Publisher` on the process's loop, retention "
        f"{RETENTION:,} entries (the default); the programs' own web server, history and series are not run. "
        f"{REPLICAS} centrals (benchmarks/fleet_central.py: `Runtime` with `FleetSource`, what `dispymon serve "
        f"--broker` runs), each with {BROWSERS} headless clients (benchmarks/clients.py) at the live interval "
        f"({INTERVAL} s), offering permessage-deflate: {BROWSERS - TIMED} in one process read each frame's type, seq "
        f"and job counters; {TIMED} in another decode every record. The programs' rate goes up in steps "
        f"({', '.join(f'{s:g}' for s in STEPS)} events/s per program); each step settles {SETTLE:g} s and is "
        f"measured over {window:g} s. **Event → browser**: for every node record in every delta a timed client "
        f"decodes, the client's wall clock once the frame is decoded − the record's `update_time`, which the "
        f"program's simulator stamped with `time.time()` when it made the node's latest event (job running, job "
        f"ended, avail info: the events that carry a node; a job created carries none). It spans the program's hub "
        f"(drains every 0.1 s while events come and nobody reads), the publisher (looks at its backlog every 0.1 s), "
        f"Redis, the central's read, its hub and the browser's tick (≤ 0.05 s), the frame's deflate and the "
        f"client's decode; same machine, same clock. On the way, the central times when it reads each entry (− the "
        f"entry id's time, Redis's clock at XADD) and when it feeds each batch (− its first and last node events' "
        f"stamps). CPU from psutil's process and thread clocks over the window; `kept up`: no event dropped, each "
        f"central applied ≥ 95 % of what the programs made, entries read within 1 s (p99). Redis memory: INFO "
        f"memory at the window's end, and MEMORY USAGE of the 50 streams ÷ their entries. The publisher's CPU per "
        f"event: benchmarks/fleet_publish.py's method on this Redis before the fleet starts ({pub_runs} alternating "
        f"runs of {pub_events:,} simulated events: the hub alone, then the hub with the publisher; this process's "
        f"CPU clock until the backlog is in Redis). The 2 cores were shared with the other helpers' work (load "
        f"average {min(load):.0f}–{max(load):.0f} over the run): the programs, Redis, the centrals and the clients "
        f"here got what was left, so these are the figures of a starved machine, not of the code's limits."
    )
    head = "| | " + " | ".join(f"{s['nominal']:,.0f}/s asked" for s in steps) + " |"
    rows = [head, "|---|" + "---|" * len(steps)]

    def line(label: str, fmt) -> None:
        rows.append(f"| {label} | " + " | ".join(fmt(s) for s in steps) + " |")

    line("events/s per program asked", lambda s: f"{s['rate']:,.0f}")
    line("made by the programs (events/s)", lambda s: f"{s['made_s']:,.0f}")
    line("applied by the programs' hubs (events/s)", lambda s: f"{s['program_applied_s']:,.0f}")
    line("published by the programs (events/s)", lambda s: f"{s['published_s']:,.0f}")
    line("entries published /s (events per entry)", lambda s: f"{s['entries_s']:,.0f} ({s['events_per_entry']:.0f})")
    line("dropped by the publishers; backlog at the end", lambda s: f"{s['dropped']:,}; {s['backlog_end']:,}")
    line("applied by each central (events/s)", lambda s: " / ".join(f"{x:,.0f}" for x in s["replica_applied_s"]))
    line("kept up", lambda s: "yes" if kept_up(s) else "**no**")
    line("CPU per central (process; loop thread; deflate threads)", lambda s: " / ".join(
        f"{c * 100:.0f} %; {lp * 100:.0f} %; {pl * 100:.0f} %"
        for c, lp, pl in zip(s["replica_cpu"], s["replica_loop_cpu"], s["replica_pool_cpu"])))  # fmt: skip
    line("RSS per central (MB)", lambda s: " / ".join(f"{x:,.0f}" for x in s["replica_rss_mb"]))
    line("CPU: the 5 program processes; of it the simulators", lambda s: f"{s['programs_cpu'] * 100:.0f} %; {s['programs_sim_cpu'] * 100:.0f} %")
    line("CPU: redis-server; the client processes", lambda s: f"{s['redis_cpu'] * 100:.0f} %; {s['clients_cpu'] * 100:.0f} %")
    line("Redis used_memory / RSS / peak (MB)", lambda s: f"{s['redis_used_mb']:,.0f} / {s['redis_rss_mb']:,.0f} / {s['redis_peak_mb']:,.0f}")
    line("the streams: entries, MB, bytes per entry, per event", lambda s: f"{s['stream_entries']:,}, {s['stream_mb']:,.1f}, "
         f"{s['bytes_per_entry']:,.0f}, {s['bytes_per_event']:,.0f}")
    line("event → browser p50 / p99 / max (records)", lambda s: f"{_ms(s['age_p50'])} / {_ms(s['age_p99'])} / {_ms(s['age_max'])} ({s['ages_n']:,})")
    line("newest record of a delta p50 / p99", lambda s: f"{_ms(s['lag_p50'])} / {_ms(s['lag_p99'])}")
    line("stamp → fed to the central's hub p50 / p99", lambda s: f"{_ms(s['fed_p50'])} / {_ms(s['fed_p99'])}")
    line("XADD → read by the central p50 / p99", lambda s: f"{_ms(s['read_p50'])} / {_ms(s['read_p99'])}")
    line("browsers connected at the end; sequence gaps (timed)", lambda s: f"{s['alive']} of {REPLICAS * BROWSERS}; {s['seq_gaps']}")
    line("resyncs from a snapshot (both centrals)", lambda s: f"{sum(s['replica_resyncs'])}")
    line("the broker found unreachable or slow, since the start (each central's log)",
         lambda s: " / ".join(str(x) for x in s["replica_broker_failures"]))
    line("load average (1 min)", lambda s: f"{s['load']:.1f}")
    rows += ["", "Publisher ÷ hub alone (fleet_publish's method), per run: "
             + ", ".join(f"{x * 1e6:.2f} → {y * 1e6:.2f} µs" for x, y in zip(alone, published)) + "."]  # fmt: skip
    rows += ["", "**Found and fixed on the way** (branch w22-fleetbench): (1) the central asked Redis for up to 1,000 "
             "entries per stream in one XREAD; behind 50 programs a reply was tens of MB, its reading outlasted "
             "redis-py's 5 s socket timeout, the central logged the broker \"did not answer in time\" and asked "
             "again for the same, for ever (it applied 2 events/s): now at most 200 entries per read in all "
             "(fleet/central.py, tests/test_fleet_read_bounded.py). (2) Past the resource series' budget (2,741 "
             "nodes by default; the central has 5,000), every sample of a node not kept looked through every kept "
             "node for one silent a day: a third of the central's CPU (py-spy); now only when one can be "
             "(features/resources.py, tests/test_resources.py). Where the central's CPU goes now (py-spy, 1,000 "
             "events/s, 100 clients): the browsers' frames (Connection.pump) a third, reading and decoding "
             "Redis's replies (redis-py's own parser: hiredis is not installed) and translating them a quarter, "
             "the per-second health and insight ticks over 5,000 nodes a fifth each."]
    side = RESULTS / "fleet-side-by-side.json"
    if side.exists():
        body = json.loads(side.read_text())
        rows += ["", f"Side by side, (1) and (2) (`python -m benchmarks.b_fleet --compare OLD/backend --steps 20,100`, "
                 f"{'run ' + body['started'] + ', ' if body.get('started') else ''}one run, both centrals reading the "
                 f"same streams with 100 clients each: the first on f1cd4a3's code, the second on this branch's; "
                 f"load average {', '.join(f'{x:.1f}' for x in body['load'])}):", "",
                 "| events/s asked | central | applied events/s | CPU (of one core) | XADD → read p50 / p99 | "
                 "the broker found unreachable or slow |", "|---|---|---|---|---|---|"]  # fmt: skip
        for st in body["steps"]:
            for i, which in enumerate(("f1cd4a3", "this branch")):
                rows.append(f"| {st['nominal']:,.0f} | {which} | {st['replica_applied_s'][i]:,.0f} | "
                            f"{st['replica_cpu'][i] * 100:.0f} % | {_ms(st['replica_read_p50'][i])} / "
                            f"{_ms(st['replica_read_p99'][i])} | {st['replica_broker_failures'][i]} |")  # fmt: skip
    result.details = "\n".join(rows)
    result.data = {"steps": steps, "publisher_alone": alone, "publisher_published": published, "load": load,
                   "window": window, "pub_events": pub_events, "pub_runs": pub_runs}  # fmt: skip
    return result


if __name__ == "__main__":
    import sys

    if "--compare" in sys.argv:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--compare", required=True, help="the old tree's backend/ directory")
        parser.add_argument("--window", type=float, default=20.0)
        parser.add_argument("--steps", default="100,400", help="events/s per program")
        a = parser.parse_args()
        compare(str(Path(a.compare).resolve()), [float(x) for x in a.steps.split(",")], a.window)
    else:
        from .common import main_for

        main_for(run)
