"""Issue 21, target 11: 1,000 browsers, 10,000 nodes, 5,000 events/s.

b12_crowd's method (benchmarks/b12_crowd.py) at another scale: 1,000
headless clients in 5 processes (each from its own loopback address: the
server admits at most 256 connections per address), all opening at one
moment, a 30 s window, 1 s interval. Most clients check only sequence
numbers and job counters (and, so that the clients' inflating does not
bound what is measured on a 2-core machine, do not offer compression: the
server then sends them the same shared bytes uncompressed); 4 per process
offer permessage-deflate as browsers do, decode every record, rebuild the
state from their snapshot and deltas and, once the stream has stopped,
compare it with a fresh snapshot. Measured: server CPU (thread clocks, the
simulator's thread excluded), every client's counters against the
simulator's once the stream stops, the decoding clients' delta lag (now −
the newest node update in a delta), and the server's RSS growth from before
the crowd to the end of the window, per browser.
"""

from __future__ import annotations

from .b12_crowd import FIGURES, measure
from .common import Result, Row, median, say

NODES = 10_000
RATE = 5000.0
BROWSERS = 1000
PROCESSES = 5
FULL = 4


def run(quick: bool = False) -> Result:
    rounds = 1 if quick else 2
    window = 10.0 if quick else 30.0
    say(f"crowd1000: {BROWSERS} clients at once, {NODES} nodes, {RATE:g} events/s, {rounds} round(s)")
    runs = []
    for i in range(rounds):
        runs.append(measure(window, nodes=NODES, rate=RATE, browsers=BROWSERS, processes=PROCESSES,
                            full_per_process=FULL, verify=True, light_plain=True))  # fmt: skip
        r = runs[-1]
        say(f"crowd1000: round {i + 1}: CPU {r['cpu_window'] * 100:.0f} % (storm {r['cpu_storm'] * 100:.0f} %), "
            f"caught up {r['caught_up']}/{BROWSERS} in {r['converge_s']:.1f} s, verified {r['verified']}/{r['verify_checked']}, lag p99 "
            f"{r['lag_p99']:.2f} s, {r['rss_per_browser_kb']:.0f} KB per browser, load {r['load'][0]:.1f}")  # fmt: skip

    def med(key: str) -> float:
        return median(r[key] for r in runs)

    converged = all(r["caught_up"] == BROWSERS and r["verified"] == r["verify_checked"] > 0 for r in runs)
    cpu, lag, per = med("cpu_window"), med("lag_p99"), med("rss_per_browser_kb")
    checked = ", ".join(f"{r['caught_up']}/{BROWSERS} counters within {r['converge_s']:.1f} s of the stream's end, "
                        f"{r['verified']}/{r['verify_checked']} rebuilt states" for r in runs)  # fmt: skip
    result = Result("crowd1000", "Issue 21, 11. 1,000 browsers")
    result.rows.append(Row(
        "21.11 1,000 browsers, 10,000 nodes, 5,000 events/s",
        f"server CPU {cpu * 100:.0f} % of one core once connected (arrival {med('cpu_storm') * 100:.0f} %, every "
        f"snapshot in {med('snapshot_s_max'):.1f} s); "
        + ("every client converged" if converged else "NOT every client converged")
        + f" ({checked}); "
        f"delta lag p99 {lag:.2f} s (p50 {med('lag_p50'):.2f} s); RSS +{per:.0f} KB per browser; medians of {rounds}",
        "< 1 core; every client converges; delta lag p99 < 1 s; ≤ 256 KB per extra browser",
        converged and cpu < 1.0 and lag < 1.0 and per <= 256,
    ))  # fmt: skip
    head = "| | " + " | ".join(f"round {i + 1}" for i in range(rounds)) + " |"
    rows = [head, "|---|" + "---|" * rounds]
    for label, key in FIGURES + [("delta lag p99 (s)", "lag_p99"), ("RSS growth per browser (KB)", "rss_per_browser_kb")]:
        rows.append(f"| {label} | " + " | ".join(f"{r[key]:,.2f}" for r in runs) + " |")
    rows.append("| load average (1 min) at the end | " + " | ".join(f"{r['load'][0]:.1f}" for r in runs) + " |")
    result.details = "\n".join(rows)
    result.method = (
        f"As b12 (crowd): {NODES:,} nodes, {RATE:,.0f} events/s, {BROWSERS} clients in {PROCESSES} processes from "
        f"their own loopback addresses, opening together; {FULL} per process decode every record and rebuild the "
        f"state; the others do not offer compression. CPU over the {window:g} s window after every snapshot (arrival: until then). After it the "
        f"stream stops; converged: the client's job counters equal the simulator's (polled for up to 60 s), and each "
        f"rebuilding client's "
        f"state equals a fresh snapshot. RSS per browser: (RSS at the end of the window − RSS before the crowd) / "
        f"{BROWSERS} (an upper bound: the server's own growth over the window counts too)."
    )
    result.data = {"runs": runs}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
