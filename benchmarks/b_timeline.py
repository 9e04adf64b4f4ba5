"""Issue 19: the job timeline with 50,000 bars in view, zoomed and panned, in Chromium.

benchmarks/timeline_serve.py loads a server's history with 50,000 ended jobs
over the last 560 s on 100 nodes of 8 CPUs (800 lanes, ~62 bars each: every
bar in the page's first view, the last ten minutes); benchmarks/timeline.mjs
opens /timeline in Debian's Chromium and, for SECONDS, zooms (ten wheel steps
in, ten out, at the plot's middle) and pans (mouse drags of 300 px there and
back) without pause, while the page records long tasks (PerformanceObserver
'longtask': over 50 ms), animation-frame intervals and each canvas frame's
drawing time. Three ways:

- still: browser updates paused (interval 0): the cost of zooming and panning alone;
- live: updates every second (the page asks what changed since its last answer), nothing changes;
- live cluster: the same, with the simulated cluster running jobs on the same nodes
  (300 events/s, 75 % of the CPUs busy): every refresh brings new and ended bars.
"""

from __future__ import annotations

import json
import os
import subprocess

from .common import PYTHON, REPO, Child, Result, Row, median, say

BARS = 50_000
NODES, CPUS = 100, 8
SPAN = 560  # seconds of history: inside the page's first view (the last 600 s)
SCENARIOS = {
    "still": ["--poll-sec", "0"],
    "live": ["--poll-sec", "1"],
    "live cluster": ["--poll-sec", "1", "--rate", "300", "--more", "20000"],
}


def once(extra: list[str], seconds: int) -> dict:
    load = os.getloadavg()[0]
    with Child([PYTHON, "-m", "benchmarks.timeline_serve", "--nodes", str(NODES), "--cpus", str(CPUS), "--bars",
                str(BARS), "--span", str(SPAN), *extra]) as server:  # fmt: skip
        url = f"http://127.0.0.1:{server.hello['port']}/timeline"
        proc = subprocess.run(["node", str(REPO / "benchmarks" / "timeline.mjs"), url, str(BARS), str(seconds)],
                              capture_output=True, text=True, timeout=600, cwd=REPO)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"timeline.mjs failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load_before"] = load
    out["load_after"] = os.getloadavg()[0]
    return out


def spread(values: list[float], fmt: str) -> str:
    middle = format(median(values), fmt)
    return middle + (f" ({format(min(values), fmt)}-{format(max(values), fmt)})" if len(values) > 1 else "")


def run(quick: bool = False) -> Result:
    seconds = 8 if quick else 20
    # DISPYMON_TIMELINE_RUNS: runs of each scenario (benchmarks/side_by_side.py takes one per round)
    times = int(os.environ.get("DISPYMON_TIMELINE_RUNS", "1" if quick else "3"))
    # DISPYMON_TIMELINE_SCENARIOS: some of them, comma-separated (e.g. "live cluster")
    chosen = [n.strip() for n in os.environ.get("DISPYMON_TIMELINE_SCENARIOS", ",".join(SCENARIOS)).split(",")]
    out: dict = {}
    for i in range(times):  # the scenarios in turn, so the machine's swings fall on each
        for name, extra in SCENARIOS.items():
            if name not in chosen:
                continue
            say(f"timeline: {name}, {BARS:,} bars, {seconds} s of zoom and pan (run {i + 1}/{times})")
            r = once(extra, seconds)
            say(f"  long tasks {r['longTasks']['count']} (longest {r['longTasks']['max']:.0f} ms), draw p50 "
                f"{r['draws']['p50']:.1f} ms p95 {r['draws']['p95']:.1f} ms, load {r['load_before']:.1f}")  # fmt: skip
            out.setdefault(name, []).append(r)

    result = Result("timeline", "Timeline (issue 19): 50,000 bars, zoomed and panned")
    for name, runs in out.items():
        counts = [r["longTasks"]["count"] for r in runs]
        longest = [r["longTasks"]["max"] for r in runs]
        result.rows.append(Row(
            f"Timeline (issue 19), 50,000 bars in view, zoom and pan ({name})",
            f"long tasks over 50 ms: {spread(counts, '.0f')} in {seconds} s, the longest {spread(longest, '.0f')} ms; "
            f"a frame drawn in {spread([r['draws']['p50'] for r in runs], '.1f')} ms (p95 "
            f"{spread([r['draws']['p95'] for r in runs], '.1f')} ms); load average "
            f"{spread([r['load_before'] for r in runs], '.1f')} on 2 cores",
            "no long task over 50 ms", median(counts) == 0,
        ))  # fmt: skip
    lines = [
        "| scenario | run | bars in view | long tasks (ms) | draw p50 / p95 / max, ms "
        "| frame interval p50 / p95 / max, ms | wheel steps, drags | first view, ms | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in out.items():
        for i, r in enumerate(runs, 1):
            d, f = r["draws"], r["frames"]
            tasks = ", ".join(str(t) for t in r["longTasks"]["all"]) or "none"
            lines.append(f"| {name} | {i} | {r['inView'].split(' ')[0]} | {r['longTasks']['count']}: {tasks} | "
                         f"{d['p50']:.1f} / {d['p95']:.1f} / {d['max']:.1f} | {f['p50']:.1f} / {f['p95']:.1f} / "
                         f"{f['max']:.1f} | {r['wheels']}, {r['drags']} | {r['firstMs']} | "
                         f"{r['load_before']:.1f} → {r['load_after']:.1f} |")  # fmt: skip
    result.details = "\n".join(lines)
    result.method = (
        f"benchmarks/timeline_serve.py: {NODES} simulated nodes of {CPUS} CPUs, the history loaded with {BARS:,} "
        f"ended jobs over the last {SPAN} s (each CPU slot's jobs one after the other, seeded outcomes: 90 % "
        "finished); benchmarks/timeline.mjs: Chromium "
        f"({out['still'][0]['chromium'] if 'still' in out else '?'}), 1280x900, opens /timeline, waits until "
        f"the page says {BARS:,} jobs are in view, then zooms and pans for {seconds} s without pause (Playwright "
        "mouse: wheel steps of 120 px at the plot's middle, ten in and ten out; drags of 300 px there and back) "
        "while the page records long tasks (PerformanceObserver 'longtask'), animation-frame intervals and the "
        "time of each canvas frame (draw.ts). Scenarios: *still* (updates paused), *live* (the page refreshes "
        "every second; nothing changes), *live cluster* (the simulator runs jobs on the same nodes, 300 events/s: "
        f"every refresh brings bars). {times} runs of each, in turn; medians, range in brackets. The machine is "
        "shared (2 cores, other work running: its load average is in each row); a long task is wall-clock time, "
        "so a loaded machine lengthens every task."
    )
    result.data = out
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
