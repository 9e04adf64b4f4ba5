"""Target 4: 100 WebSocket clients, 10,000 nodes, 5,000 events/s for 60 s.

The server (benchmarks/serve.py, simulator thread inside, node update_time
stamped at the event) and 100 headless clients (one other process; each
offers permessage-deflate as a browser does, 1 s interval — dispymon demo's
default and dispy.httpd's minimum poll_sec). Measured: the server process's
CPU without the simulator's own thread (psutil, per thread), its RSS every
5 s, and for each client every delta's lag (now − the newest update in it)
and, after the stream stops, whether it caught up with the server's final
state. A second, shorter run with clients that do not offer compression
shows what compression costs.
"""

from __future__ import annotations

import time

from .common import PYTHON, Child, CpuMeter, Result, Row, metrics, percentile, say

NODES = 10_000
RATE = 5000.0
CLIENTS = 100
SETTLED_LAG = 2.0  # intervals: a delta this fresh means a client is past the snapshots' backlog
FULL = 10  # clients decoding every record (lag); the others skip node records in C: one process stands for 100 browsers


# What the server keeps within its budgets (/metrics): the jobs' outputs and arguments
# (--outputs-budget, --resubmit-budget) and the nodes' resource rings, stores that fill up
# to their bound over a run, counted apart as benchmark 8 counts the jobs' budgets.
KEPT = ("dispymon_outputs_bytes", "dispymon_resubmit_args_bytes", "dispymon_resource_bytes")


def kept_bytes(port: int) -> float:
    return sum(metrics(port, KEPT).values())


def measure(duration: float, compress: bool, interval: float = 1.0, zlib_ng: bool = False) -> dict:
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(NODES), "--rate", str(RATE), "--realtime",
                    "--poll-sec", str(interval)], env={"DISPYMON_BENCH_ZLIB_NG": "1"} if zlib_ng else None)  # fmt: skip
    clients = None
    try:
        url = f"ws://127.0.0.1:{server.hello['port']}/ws"
        args = [PYTHON, "-m", "benchmarks.clients", "--url", url, "--clients", str(CLIENTS), "--interval", str(interval),
                "--full", str(FULL)]  # fmt: skip
        t = time.monotonic()
        clients = Child(args + ([] if compress else ["--no-compress"]), timeout=600)
        connect_s = time.monotonic() - t
        clients_meter = CpuMeter(clients.pid)
        # Measured from when the 100 snapshots are behind: every client has had
        # a delta since its snapshot, the decoding ones a fresh one (the burst
        # of snapshots alone is reported as settle_s).
        t = time.monotonic()
        while not clients.ask(f"settled {SETTLED_LAG * interval:g}")["settled"]:
            if time.monotonic() - t > 120:
                raise RuntimeError("the clients did not settle within 120 s of their snapshots")
            time.sleep(0.5)
        settle_s = time.monotonic() - t
        clients.ask("mark")
        c0 = clients_meter.sample()
        port = server.hello["port"]
        samples = [{**server.ask("stats"), "kept": kept_bytes(port)}]
        marks = []
        end = time.monotonic() + duration
        while time.monotonic() < end:
            time.sleep(5)
            samples.append({**server.ask("stats"), "kept": kept_bytes(port)})
            if len(samples) % 2 == 1:
                marks.append(clients.ask("mark"))
        final_mark = clients.ask("mark")
        marks.append(final_mark)
        c1 = clients_meter.sample()
        clients_cpu = (c1[1] - c0[1]) / (c1[0] - c0[0])
        # stop the stream; every client must then reach the server's final state
        server.ask("rate 0")
        time.sleep(3 * interval + 1)
        final = server.ask("stats")
        seen = clients.ask("state")
    finally:
        if clients is not None:
            clients.stop()
        server.stop()
    a, b = samples[0], samples[-1]
    wall = b["t"] - a["t"]
    cpu = (b["cpu"] - a["cpu"]) / wall
    sim = (b["sim_cpu"] - a["sim_cpu"]) / wall
    rss = [(s["t"] - a["t"], s["rss"]) for s in samples]
    kept = [(s["t"] - a["t"], s["kept"]) for s in samples]
    lags = [lag for m in marks for c in m["clients"] for lag in c["lags"]]
    last_window = [c["lag_max"] for c in final_mark["clients"]]
    frames = [sum(c["frames"] for c in m["clients"]) for m in marks]
    done_server = final["jobs_done"]
    caught_up = sum(1 for jobs in seen["jobs"] if jobs.get("simulated", {}).get("done") == done_server)
    gaps = sum(c["gaps"] for m in marks for c in m["clients"])
    return {
        "connect_s": connect_s, "settle_s": settle_s, "cpu": cpu, "sim_cpu": sim, "server_cpu": cpu - sim, "rss": rss, "kept": kept,
        "events_per_s": (b["applied"] - a["applied"]) / wall, "lag_p50": percentile(lags, 50),
        "lag_p99": percentile(lags, 99), "lag_max": max(lags, default=float("nan")),
        "last_window_lag_max": max(last_window, default=float("nan")), "caught_up": caught_up,
        "clients": CLIENTS, "gaps": gaps, "frames_per_s": sum(frames) / wall, "alive": final_mark["alive"],
        "bytes_per_client_s": sum(c["bytes"] for m in marks for c in m["clients"]) / CLIENTS / wall,
        "duration": wall, "clients_cpu": clients_cpu,
    }  # fmt: skip


def run(quick: bool = False) -> Result:
    duration = 20 if quick else 60
    say(f"fanout: {CLIENTS} clients (deflate), {NODES} nodes, {RATE:g} events/s, {duration} s")
    main = measure(duration, compress=True)
    say(f"fanout: server CPU {main['server_cpu'] * 100:.0f} % (+ simulator {main['sim_cpu'] * 100:.0f} %)")
    say(f"fanout: again without compression, {duration // 2} s")
    plain = measure(duration / 2, compress=False)
    say(f"fanout: server CPU {plain['server_cpu'] * 100:.0f} % without compression")
    try:
        import zlib_ng  # noqa: F401
    except ImportError:
        ng = None
    else:
        say(f"fanout: again with aiohttp's zlib backend set to zlib-ng, {duration // 2} s")
        ng = measure(duration / 2, compress=True, zlib_ng=True)
        say(f"fanout: server CPU {ng['server_cpu'] * 100:.0f} % with zlib-ng")

    rss = main["rss"]
    after_warmup = [r for t, r in rss if t >= 10] or [r for _, r in rss]
    growth = (after_warmup[-1] - after_warmup[0]) / 2**20
    kept = [b for t, b in main["kept"] if t >= 10] or [b for _, b in main["kept"]]
    kept_growth = (kept[-1] - kept[0]) / 2**20
    beyond = growth - kept_growth
    ok_cpu = main["server_cpu"] < 0.5
    ok_clients = main["caught_up"] == CLIENTS and main["alive"] == CLIENTS
    ok_memory = beyond <= 10
    result = Result("fanout", "4. Fan-out to 100 clients")
    result.rows.append(Row(
        "4. Fan-out: server CPU",
        f"{main['server_cpu'] * 100:.0f} % of one core (simulator's thread excluded: {main['sim_cpu'] * 100:.0f} %); "
        f"{plain['server_cpu'] * 100:.0f} % when clients do not offer compression"
        + (f"; {ng['server_cpu'] * 100:.0f} % with zlib-ng as aiohttp's zlib (not shipped)" if ng else ""),
        "< 50 % of one core", ok_cpu,
    ))  # fmt: skip
    result.rows.append(Row(
        "4. Fan-out: clients keep up",
        f"{main['caught_up']}/{CLIENTS} clients caught up with the final state; delta lag p50 {main['lag_p50']:.2f} s, "
        f"p99 {main['lag_p99']:.2f} s, max {main['lag_max']:.2f} s",
        "no client falls behind for good", ok_clients,
    ))  # fmt: skip
    result.rows.append(Row(
        "4. Fan-out: server memory",
        f"RSS {after_warmup[0] / 2**20:.0f} MB at 10 s, {after_warmup[-1] / 2**20:.0f} MB at the end ({growth:+.1f} MB, "
        f"of which the budgets' stores filling {kept_growth:+.1f} MB: {beyond:+.1f} MB beyond)",
        "flat (≤ 10 MB growth beyond what the budgets keep)", ok_memory,
    ))  # fmt: skip
    variants = [main, plain] + ([ng] if ng else [])
    rows = ["| | with permessage-deflate (as browsers) | without | " + ("deflate by zlib-ng (not shipped) |" if ng else ""),
            "|---|---|---|" + ("---|" if ng else "")]  # fmt: skip
    for label, key, fmt in [
        ("server CPU (simulator thread excluded)", "server_cpu", lambda v: f"{v * 100:.0f} % of a core"),
        ("simulator thread", "sim_cpu", lambda v: f"{v * 100:.0f} %"),
        ("events applied", "events_per_s", lambda v: f"{v:,.0f} /s"),
        ("frames sent", "frames_per_s", lambda v: f"{v:,.0f} /s"),
        ("payload per client", "bytes_per_client_s", lambda v: f"{v / 1000:,.0f} KB/s (decompressed)"),
        ("delta lag p50 / p99", "lag_p50", None),
        ("clients caught up after the stream stopped", "caught_up", lambda v: f"{v}/{CLIENTS}"),
        ("sequence gaps (resyncs)", "gaps", lambda v: f"{v}"),
        ("100 clients connected in", "connect_s", lambda v: f"{v:.1f} s"),
        ("then settled (fresh deltas for all) in", "settle_s", lambda v: f"{v:.1f} s"),
        ("the clients' process (for scale)", "clients_cpu", lambda v: f"{v * 100:.0f} % of a core"),
    ]:
        if key == "lag_p50":
            rows.append(f"| {label} | " + " | ".join(f"{v['lag_p50']:.2f} s / {v['lag_p99']:.2f} s" for v in variants) + " |")
        else:
            rows.append(f"| {label} | " + " | ".join(fmt(v[key]) for v in variants) + " |")
    rows.append("\nRSS of the server (MB) every 5 s: " + ", ".join(f"{r / 2**20:.0f}" for _, r in rss))
    result.details = "\n".join(rows)
    result.method = (
        f"{NODES:,} simulated nodes, {RATE:,.0f} events/s from the simulator's thread in the server process, "
        f"{CLIENTS} clients in one other process at a 1 s interval, {duration} s measured once the snapshots are behind "
        f"(every client has had a delta since its snapshot, and the clients that decode node records one at most "
        f"{SETTLED_LAG:g} intervals old; polled every 0.5 s) "
        f"(and {duration // 2} s without compression). CPU from psutil: the process minus the simulator's thread. "
        f"Lag: for each delta, now − the newest node update in it (so it includes the interval). Caught up: after the "
        f"stream stopped, the client's jobs counters equal the server's."
    )
    result.data = {"deflate": main, "plain": plain, "zlib_ng": ng, "rss_growth_mb": growth, "kept_growth_mb": kept_growth}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
