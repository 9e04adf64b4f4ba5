"""Target 7: the dashboard in Chromium (Playwright), measured from the page.

benchmarks/browser.mjs drives Debian's Chromium with the e2e tests' flags
and reads the Performance API in the page: the time from the snapshot frame
arriving to the nodes table painted (rAF, then a task after the frame),
long tasks (PerformanceObserver 'longtask', over 50 ms), frame intervals
(requestAnimationFrame) and the rows in the DOM. Servers: benchmarks/serve.py
with the simulated cluster, serving the built dashboard.
"""

from __future__ import annotations

import json
import subprocess
import time

from .common import PYTHON, REPO, Child, Result, Row, say

NODES = 10_000
BIG = 100_000  # target 13: `demo --simulate 100000`
PHONE_NODES = 1_000  # target 14: a phone (Pixel 7 viewport, 4× CPU throttling) on the Monitor page
QUEUED = 100_000  # the Jobs view's scenario: queued jobs (dispy's pending ones)
JOBS_WHEEL_PX = 6000  # per wheel event: 100,000 rows of 36 px in ~600 events


def browser(*args: str, timeout: float = 600) -> dict:
    proc = subprocess.run(["node", str(REPO / "benchmarks" / "browser.mjs"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"browser.mjs {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve(*args: str) -> Child:
    return Child([PYTHON, "-m", "benchmarks.serve", *args])


def repeated(times: int, measure) -> dict:
    """`measure()` `times` times: the run with the median long-task count (its
    figures are reported), with every run's count and longest long task."""
    runs = [measure() for _ in range(times)]
    ordered = sorted(runs, key=lambda r: (r["longTasks"]["count"], r["longTasks"]["max"]))
    chosen = dict(ordered[len(ordered) // 2])
    chosen["repeats"] = [(r["longTasks"]["count"], r["longTasks"]["max"]) for r in runs]
    if "answerToPainted" in chosen:
        chosen["answerMsRuns"] = [r["answerToPainted"] for r in runs]
    return chosen


def run(quick: bool = False) -> Result:
    seconds = 10 if quick else 30
    times = 1 if quick else 3  # long tasks come and go on a noisy 2-core machine: the median run of 3
    out: dict = {}

    say(f"browser: {NODES} nodes, snapshot to painted table")
    with serve("--nodes", str(NODES), "--rate", "0", "--poll-sec", "1") as s:
        out["snapshot"] = browser("snapshot", f"http://127.0.0.1:{s.hello['port']}/", "3" if quick else "9")

    # ~70 % of the simulator's events carry a node (running, finished, avail info)
    rate = 1000 / 0.7
    for sort in (None, "Jobs done"):
        key = "churn" if sort is None else "churn sorted"
        say(f"browser: 1,000 node changes/s for {seconds} s, live interval 0.1 s, sort {sort or 'default'}")
        with serve("--nodes", str(NODES), "--rate", f"{rate:.0f}", "--poll-sec", "0.1") as s:
            url = f"http://127.0.0.1:{s.hello['port']}/"
            out[key] = repeated(times, lambda: browser("churn", url, str(seconds), *([sort] if sort else [])))

    for churn in (0, 200):
        key = "scroll" if churn == 0 else "scroll churning"
        say(f"browser: Node page with 100,000 running jobs, scrolled ({churn} events/s)")
        with serve("--nodes", "1", "--cpus", "100000", "--fill", "1.0", "--rate", str(churn), "--poll-sec", "0.25") as s:
            url = f"http://127.0.0.1:{s.hello['port']}/node/10.0.0.1"
            out[key] = repeated(times, lambda: browser("scroll", url, "5"))

    say("browser: Jobs view with 100,000 queued jobs, first answer → painted, scrolled to the end")
    with serve("--nodes", "0", "--rate", "0", "--queue", str(QUEUED), "--poll-sec", "1") as s:
        s.ask(f"emit {QUEUED}")  # each event queues one job (no node to run it)
        while s.ask("stats")["applied"] < QUEUED:
            time.sleep(0.1)
        url = f"http://127.0.0.1:{s.hello['port']}/jobs"
        out["jobs"] = repeated(times, lambda: browser("jobs", url, str(JOBS_WHEEL_PX)))

    say(f"browser: {BIG:,} nodes, navigation → first rows painted, sorted by Jobs done; then 1,000 changes/s")
    with serve("--nodes", str(BIG), "--rate", "0", "--poll-sec", "1") as s:
        url = f"http://127.0.0.1:{s.hello['port']}/"
        out["big load"] = browser("load", url, "1" if quick else "3", "desktop", "Jobs done")
    with serve("--nodes", str(BIG), "--rate", f"{rate:.0f}", "--poll-sec", "0.1") as s:
        out["big churn"] = browser("churn", f"http://127.0.0.1:{s.hello['port']}/", str(seconds))

    say(f"browser: a phone (Pixel 7, 4× CPU), {PHONE_NODES:,} nodes, navigation → table painted and free for input")
    with serve("--nodes", str(PHONE_NODES), "--rate", "0", "--poll-sec", "1") as s:
        out["phone"] = browser("load", f"http://127.0.0.1:{s.hello['port']}/", "3" if quick else "7", "phone")

    snap, churn, scroll = out["snapshot"], out["churn"], out["scroll"]
    result = Result("browser", "7. The dashboard in the browser")
    result.rows.append(Row(
        "7. Browser: 10,000 nodes, snapshot → painted",
        f"median {snap['ms']['p50']:.0f} ms (max {snap['ms']['max']:.0f} ms of {snap['ms']['count']}); "
        f"{snap['runs'][0]['rowsInDom']} rows in the DOM once virtualised",
        "≤ 300 ms", snap["ms"]["p50"] <= 300,
    ))  # fmt: skip
    worst = max(out["churn"]["longTasks"]["max"], out["churn sorted"]["longTasks"]["max"])
    result.rows.append(Row(
        "7. Browser: 1,000 node changes/s",
        f"median run of {times}: {churn['longTasks']['count']} long tasks over {seconds} s (sorted by Jobs done: "
        f"{out['churn sorted']['longTasks']['count']}, longest {worst:.0f} ms); frames p99 {churn['frames']['p99']:.0f} ms; "
        f"{churn['rowsInDomAtEnd']} of {NODES:,} rows in the DOM",
        "no long task over 50 ms; only visible rows in the DOM",
        out["churn"]["longTasks"]["count"] == 0 and out["churn sorted"]["longTasks"]["count"] == 0
        and churn["rowsInDomAtEnd"] < 100,
    ))  # fmt: skip
    churning = out["scroll churning"]
    result.rows.append(Row(
        "7. Browser: 100,000 jobs on a Node page, scrolled",
        f"median run of {times}: static list: {scroll['longTasks']['count']} long tasks, frames p95 {scroll['frames']['p95']:.0f} ms / max "
        f"{scroll['frames']['max']:.0f} ms; while jobs churn (200 events/s): {churning['longTasks']['count']} long tasks "
        f"(longest {churning['longTasks']['max']:.0f} ms), frames p95 {churning['frames']['p95']:.0f} ms",
        "scrolls smoothly (no long task)",
        scroll["longTasks"]["count"] == 0 and churning["longTasks"]["count"] == 0,
    ))  # fmt: skip
    jv = out["jobs"]
    result.rows.append(Row(
        "7. Browser: Jobs view with 100,000 jobs",
        f"median run of {times}: first answer → painted {jv['answerToPainted']:.0f} ms (page load → painted "
        f"{jv['loadToPainted']:.0f} ms); scrolled to row {jv['jobs']:,} in {jv['scrolledMs'] / 1000:.1f} s: "
        f"{jv['longTasks']['count']} long tasks (longest {jv['longTasks']['max']:.0f} ms), frames p95 "
        f"{jv['frames']['p95']:.0f} ms; at most {jv['maxRowsInDom']} rows in the DOM",
        "snapshot → painted; scrolling with no long task",
        jv["longTasks"]["count"] == 0,
    ))  # fmt: skip
    big, big_churn, phone = out["big load"], out["big churn"], out["phone"]
    arrived = sorted(r["snapshotAtMs"] for r in big["runs"])[len(big["runs"]) // 2]
    result.rows.append(Row(
        "13. Browser: 100,000 nodes",
        f"median of {big['paintedMs']['count']}: navigation → first rows painted {big['paintedMs']['p50']:.0f} ms "
        f"(the snapshot frame in at {arrived:.0f} ms); sorted by Jobs done {big['sortMs']['p50']:.0f} ms; "
        f"1,000 changes/s for {seconds} s: {big_churn['longTasks']['count']} long tasks (longest "
        f"{big_churn['longTasks']['max']:.0f} ms), {big_churn['rowsInDomAtEnd']} rows in the DOM",
        "≤ 1.0 s; ≤ 200 ms; no task > 50 ms",
        big["paintedMs"]["p50"] <= 1000 and big["sortMs"]["p50"] <= 200 and big_churn["longTasks"]["count"] == 0,
    ))  # fmt: skip
    result.rows.append(Row(
        "14. Phone (Pixel 7, 4× CPU): Monitor page, 1,000 nodes",
        f"median of {phone['readyMs']['count']}: navigation → table painted and free for input "
        f"{phone['readyMs']['p50']:.0f} ms (painted {phone['paintedMs']['p50']:.0f} ms; "
        f"max {phone['readyMs']['max']:.0f} ms)",
        "≤ 500 ms", phone["readyMs"]["p50"] <= 500,
    ))  # fmt: skip
    lines = ["| scenario | long tasks (> 50 ms) | longest | frame p50 / p95 / p99 / max | rows in the DOM | "
             "every run: long tasks (longest) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for key in ("churn", "churn sorted", "scroll", "scroll churning", "jobs"):
        o = out[key]
        f = o["frames"]
        rows_dom = o.get("rowsInDomAtEnd", o.get("maxRowsInDom"))
        every = ", ".join(f"{n} ({longest:.0f} ms)" if n else "0" for n, longest in o["repeats"])
        lines.append(f"| {key} | {o['longTasks']['count']} | {o['longTasks']['max']:.0f} ms | {f['p50']:.0f} / "
                     f"{f['p95']:.0f} / {f['p99']:.0f} / {f['max']:.0f} ms | {rows_dom} | {every} |")  # fmt: skip
    runs = ", ".join(f"{r['ms']:.0f}" for r in snap["runs"])
    virtual = snap.get("virtualMs")
    lazy = (f" The first paint shows the first {snap['runs'][0]['rowsPainted']} rows plainly while the virtualised body's "
            f"module (loaded only for tables over 100 rows) comes in: snapshot → virtualised table, median "
            f"{virtual['p50']:.0f} ms (max {virtual['max']:.0f} ms)." if virtual else "")  # fmt: skip
    lines.append(f"\nSnapshot → painted, each page load (ms): {runs}.{lazy} Node page with 100,000 jobs, snapshot → "
                 f"painted: {scroll['snapshotToPaintedMs']:.0f} ms (static), {churning['snapshotToPaintedMs']:.0f} ms "
                 f"(churning). Scrolled {scroll['scrolledPx']:,} px in 5 s of wheel input. Jobs view: "
                 f"{jv['wheels']} wheel events to its end ({jv['scrolledPx']:,} px), the last rows there "
                 f"{jv['lastRowsMs']:.0f} ms after the wheel stopped; every run: first answer → painted "
                 f"{', '.join(f'{r:.0f}' for r in jv['answerMsRuns'])} ms.")  # fmt: skip
    result.details = "\n".join(lines)
    result.method = (
        f"Chromium {snap['chromium']} headless (flags of the e2e tests), viewport 1280×900. Snapshot: {NODES:,} "
        f"nodes, each page load timed from the snapshot frame's arrival (a listener added before the app's) to the "
        f"first frame painted with the table's rows. Churn: {rate:,.0f} events/s ≈ 1,000 node changes/s, the "
        f"page's interval 0.1 s, {seconds} s, default sort (IP) then sorted by Jobs done (re-sorted on every delta). "
        f"Churn and scroll: {times} runs each on one server, the run with the median long-task count reported. "
        f"Scroll: one node with 100,000 running jobs, 5 s of mouse-wheel input (600 px every 16 ms), jobs static, "
        f"then starting and ending at 200 events/s. Jobs view: a simulated cluster with no node and "
        f"{QUEUED:,} queued jobs (the simulator's `queue`), `/jobs` opened (no filter), timed from the arrival of "
        f"its first page's answer (a `result` frame with a `selection`) to the first frame painted with real "
        f"rows, then wheel input ({JOBS_WHEEL_PX:,} px every 16 ms) until the table's end, and the wait for "
        f"the last rows' page. 13: {BIG:,} simulated nodes, each round a fresh browser context: navigation "
        f"start → the first rows painted (performance.now(), whose origin is the navigation), then a click on "
        f"Jobs done dispatched in the page → the re-sorted rows painted; 1,000 node changes/s as above, one run. "
        f"14: Playwright's Pixel 7 (412×915, DPR 2.625, touch), CDP Emulation.setCPUThrottlingRate 4, "
        f"{PHONE_NODES:,} nodes; 'free for input' is when an input arriving at the paint would be handled (the "
        f"end of the long task running then, and of those it runs into)."
    )
    result.data = out
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
