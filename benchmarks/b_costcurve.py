"""Issue 21, target 16: how the server's cost grows with browsers, nodes and events/s.

benchmarks/serve.py (the simulated cluster in the server's process) and
benchmarks/clients.py (headless clients in their own processes, from their own
loopback addresses: the server admits at most 256 connections per address).
Three curves, each a few points, a fresh server per point: browsers (10 →
1,000; 1,000 nodes, 1,000 events/s), nodes (1,000 → 100,000; 1,000 events/s,
10 browsers) and events/s (1,000 → 100,000; 1,000 nodes, 10 browsers). At each
point, once every client has its snapshot and a short settling pause: the
server's CPU over a short window (the process's CPU less the simulator's
thread, which stands for dispy and is not the server's) and its RSS at the
end. One client per process decodes every record; the others read only
sequence numbers and counters and do not offer compression, so the client
processes do not starve the server on a 2-core machine. Fitted: the exponent
b of cost = a·xᵇ (least squares in log-log; b ≤ 1 is at most linear) and the
linear slope. The plot is written to docs/cost_curves.png.
"""

from __future__ import annotations

import math
import os
import time

from .common import PYTHON, REPO, Child, Result, Row, say

PER_PROCESS = 250  # clients per process (and per loopback address)
SETTLE = 3.0
INTERVAL = 1.0


def point(nodes: int, rate: float, browsers: int, window: float) -> dict:
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(nodes), "--cpus", "2", "--rate", str(rate),
                    "--poll-sec", str(INTERVAL)], timeout=600)  # fmt: skip
    groups: list[Child] = []
    try:
        url = f"ws://127.0.0.1:{server.hello['port']}/ws"
        procs = max(1, math.ceil(browsers / PER_PROCESS))
        for i in range(procs):
            count = browsers // procs + (1 if i < browsers % procs else 0)
            # the first line a clients process prints: every one of its clients has its snapshot
            groups.append(Child([PYTHON, "-m", "benchmarks.clients", "--url", url, "--clients", str(count),
                                 "--interval", str(INTERVAL), "--full", "1", "--age-clients", "0", "--light-plain",
                                 "--stagger", "0.005", "--local-addr", f"127.0.2.{i + 1}"], timeout=600))  # fmt: skip
        time.sleep(SETTLE)
        s1 = server.ask("stats")
        time.sleep(window)
        s2 = server.ask("stats")
        wall = s2["t"] - s1["t"]
        cpu = ((s2["cpu"] - s2["sim_cpu"]) - (s1["cpu"] - s1["sim_cpu"])) / wall
        applied = (s2["applied"] - s1["applied"]) / wall
        return {"nodes": nodes, "rate": rate, "browsers": browsers, "cpu": cpu, "rss_mb": s2["rss"] / 1e6,
                "applied_per_s": applied, "connections": s2["connections"], "load": os.getloadavg()[0]}  # fmt: skip
    finally:
        for g in groups:
            g.stop()
        server.stop()


def segments(xs: list, ys: list) -> list[float]:
    """The slope of each segment between consecutive points (the cost of one more unit there)."""
    return [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(exponent b of y = a·x^b, least squares in log-log; linear slope dy/dx, least squares)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    n = len(xs)
    mx, my = sum(lx) / n, sum(ly) / n
    b = sum((u - mx) * (v - my) for u, v in zip(lx, ly)) / sum((u - mx) ** 2 for u in lx)
    ax, ay = sum(xs) / n, sum(ys) / n
    slope = sum((u - ax) * (v - ay) for u, v in zip(xs, ys)) / sum((u - ax) ** 2 for u in xs)
    return b, slope


CURVES = {
    # name: (x key, label, unit for the slope, points, points when quick)
    "browsers": ("browsers", "browsers (1,000 nodes, 1,000 events/s)", 100, [10, 100, 300, 1000], [10, 100]),
    "nodes": ("nodes", "nodes (1,000 events/s, 10 browsers)", 10_000, [1000, 10_000, 30_000, 100_000], [1000, 10_000]),
    "events": ("rate", "events/s applied (1,000 nodes, 10 browsers)", 10_000, [1000, 10_000, 30_000, 100_000], [1000, 10_000]),
}


def plot(curves: dict[str, list[dict]], fits: dict, path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("costcurve: matplotlib not installed (pip install -r benchmarks/requirements.txt): no plot")
        return False
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=100)
    for ax, (name, points) in zip(axes, curves.items()):
        _, label, _, _, _ = CURVES[name]
        xs = xs_of(name, points)
        ax.plot(xs, [p["cpu"] * 100 for p in points], "o-", color="tab:blue", label="CPU, % of one core")
        # log-log: a straight line's slope is the exponent; the dotted line is linear growth from the first point
        c0 = points[0]["cpu"] * 100
        ax.plot(xs, [c0 * x / xs[0] for x in xs], ":", color="grey", label="linear from the first point")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(c0 / 2, max(points[-1]["cpu"] * 100, c0) * 4)
        ax.set_xlabel(label)
        ax.set_ylabel("server CPU, % of one core (log)", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(xs, [p["rss_mb"] for p in points], "s--", color="tab:red", label="RSS, MB")
        ax2.set_yscale("log")
        r0 = points[0]["rss_mb"]  # the same span of decades as the CPU's axis, so the two slopes compare
        ax2.set_ylim(r0 / 2, max(points[-1]["rss_mb"], r0) * 4)
        ax2.set_ylabel("server RSS, MB (log)", color="tab:red")
        f = fits[name]
        ax.set_title(f"{name}: CPU ∝ x^{f['cpu'][0]:.2f}, RSS ∝ x^{f['rss'][0]:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def run(quick: bool = False) -> Result:
    window = 3.0 if quick else 6.0
    curves: dict[str, list[dict]] = {}
    for name, (key, label, _, full, short) in CURVES.items():
        curves[name] = []
        for x in short if quick else full:
            args = {"nodes": 1000, "rate": 1000.0, "browsers": 10, key: x}
            p = point(args["nodes"], args["rate"], args["browsers"], window)
            curves[name].append(p)
            say(f"costcurve: {name} {x:,}: CPU {p['cpu'] * 100:.0f} %, RSS {p['rss_mb']:.0f} MB, applied "
                f"{p['applied_per_s']:,.0f} events/s, {p['connections']} connections, load {p['load']:.1f}")  # fmt: skip
    return build(curves, window)


def xs_of(name: str, points: list[dict]) -> list[float]:
    """A curve's x: for events/s the rate the server applied (the simulator, sharing the process and the
    GIL, may not reach the rate asked on a loaded machine), else the parameter set."""
    if name == "events":
        return [p["applied_per_s"] for p in points]
    return [float(p[CURVES[name][0]]) for p in points]


def build(curves: dict[str, list[dict]], window: float) -> Result:
    """The result (and the plot) from the measured points: `python -m benchmarks.b_costcurve --replot` redoes it."""
    fits = {}
    for name, points in curves.items():
        xs = xs_of(name, points)
        fits[name] = {"cpu": fit(xs, [p["cpu"] for p in points]), "rss": fit(xs, [p["rss_mb"] for p in points])}
    png = REPO / "docs" / "cost_curves.png"
    plotted = plot(curves, fits, png)
    result = Result("costcurve", "Issue 21, 16. How the server's cost grows")
    for name, points in curves.items():
        _, label, per, _, _ = CURVES[name]
        (b_cpu, s_cpu), (b_rss, s_rss) = fits[name]["cpu"], fits[name]["rss"]
        xs = [round(x) for x in xs_of(name, points)]
        # at most linear: the fitted exponents ≤ 1, and the cost of one more unit (each segment's slope) not
        # rising along the curve (the last segment's at most 1.5× the first's: one run per point, noise)
        seg_cpu, seg_rss = segments(xs, [p["cpu"] for p in points]), segments(xs, [p["rss_mb"] for p in points])
        rising = seg_cpu[-1] > 1.5 * max(seg_cpu[0], 1e-12) or seg_rss[-1] > 1.5 * max(seg_rss[0], 1e-12)
        linear = b_cpu <= 1.0 and b_rss <= 1.0 and not rising
        result.rows.append(Row(
            f"21.16 Cost against {label}",
            f"{xs[0]:,} → {xs[-1]:,}: CPU {points[0]['cpu'] * 100:.0f} → {points[-1]['cpu'] * 100:.0f} % of one core "
            f"(∝ x^{b_cpu:.2f}; {s_cpu * per * 100:+.1f} points per {per:,}), RSS {points[0]['rss_mb']:.0f} → "
            f"{points[-1]['rss_mb']:.0f} MB (∝ x^{b_rss:.2f}; {s_rss * per:+.1f} MB per {per:,})",
            "plotted; at most linear (fitted exponent ≤ 1, slope per segment not rising); slope stated",
            linear,
        ))  # fmt: skip
    result.method = (
        f"benchmarks/serve.py (a fresh server per point, the simulated cluster of nodes of 2 CPUs, 75 % busy, in its "
        f"process) and benchmarks/clients.py ({PER_PROCESS} clients per process at most, each process from its own "
        f"loopback address; one client per process decodes every record, the others only sequence numbers and "
        f"counters, uncompressed), {INTERVAL:g} s interval. At each point, once every client has its snapshot and "
        f"{SETTLE:g} s more: the server's CPU over {window:g} s (process CPU less the simulator's thread, psutil's "
        f"thread times) and its RSS at the end. Fitted per curve: the exponent b of y = a·xᵇ (least squares on "
        f"log x, log y; b ≤ 1: at most linear) and the linear slope (least squares). One run per point: a short "
        f"window on a shared machine, so single points carry its noise (the load average is in the table)."
    )
    lines = (["![Server CPU and RSS against browsers, nodes and events/s](cost_curves.png)", ""] if plotted else [])
    lines += ["| curve | x | server CPU, % of one core | RSS, MB | events applied/s | connections | load average |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, points in curves.items():
        key = CURVES[name][0]
        for p in points:
            lines.append(f"| {name} | {p[key]:,} | {p['cpu'] * 100:.1f} | {p['rss_mb']:.0f} | "
                         f"{p['applied_per_s']:,.0f} | {p['connections']} | {p['load']:.1f} |")  # fmt: skip
    lines += ["", "Slope of each segment (the cost of one more unit there), first to last point:", ""]
    for name, points in curves.items():
        _, _, per, _, _ = CURVES[name]
        xs = xs_of(name, points)
        cpu = ", ".join(f"{v * per * 100:.2f}" for v in segments(xs, [p["cpu"] for p in points]))
        rss = ", ".join(f"{v * per:.1f}" for v in segments(xs, [p["rss_mb"] for p in points]))
        lines.append(f"- {name}: CPU {cpu} points of a core per {per:,}; RSS {rss} MB per {per:,}")
    result.details = "\n".join(lines)
    result.data = {"curves": curves, "fits": fits, "window": window}
    return result


if __name__ == "__main__":
    import json
    import sys

    from .common import RESULTS, main_for

    if "--replot" in sys.argv:  # the report and the plot again from the saved points (no measuring)
        saved = Result.load(RESULTS / "costcurve.json")
        again = build(saved.data["curves"], saved.data["window"])
        again.started, again.seconds = saved.started, saved.seconds
        again.data["quick"] = saved.data.get("quick", False)
        again.save()
        print(json.dumps([r.figure for r in again.rows], indent=1, ensure_ascii=False))
    else:
        main_for(run)
