"""`python -m benchmarks [NAME ...] [--quick] [--report-only]` — what ./scripts/bench runs.

Runs the benchmarks (all, or those named: a name or a target number),
each in a fresh process one after the other, saves each result in
benchmarks/results/NAME.json, then writes docs/benchmarks.md from every
saved result. A benchmark that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from .common import PYTHON, REPO, RESULTS, machine, say
from .report import write_report

# run order: quick ones first, the real cluster (the longest) last
BENCHMARKS = {
    "bundle": ("b9_bundle", [9]),
    "callback": ("b1_callback", [1]),
    "ingest": ("b3_ingest", [3]),
    "memory": ("b8_memory", [8]),
    "jobmemory": ("b10_job_memory", [10]),
    "export": ("b11_export", [11]),
    "alerts": ("b_alerts", []),  # issue 19 (the numbers 10-16 are issue 21's)
    "timeline": ("b_timeline", []),  # issue 19 (no target number: issue 19's other benchmarks take 12 on)
    "resources": ("b_resources", []),  # issue 19: each node's resources over time (by name)
    "fanout": ("b4_fanout", [4]),
    "crowd": ("b12_crowd", []),  # issue 21's target 10 (its numbers clash with targets 10 and 11 above)
    "crowd1000": ("b13_crowd1000", []),  # issue 21's target 11
    "stream": ("b5_stream", [5, 6]),
    "browser": ("b7_browser", [7]),
    "jobcost": ("b_jobcost", []),  # issue 21's target 12
    "fleetjobs": ("b_fleetjobs", []),  # issue 20: publishing's cost to a real program
    "fleet": ("b_fleet", []),  # issue 20: 50 programs, one Redis, 2 replicas × 100 browsers
    "costcurve": ("b_costcurve", []),  # issue 21's target 16
    "cluster": ("b2_cluster", [2]),
}


def pick(names: list[str]) -> list[str]:
    if not names:
        return list(BENCHMARKS)
    chosen = []
    for name in names:
        found = [b for b, (_, targets) in BENCHMARKS.items() if name == b or (name.isdigit() and int(name) in targets)]
        if not found:
            raise SystemExit(f"unknown benchmark {name!r}: one of {', '.join(BENCHMARKS)} or a target number 1-12")
        chosen += [b for b in found if b not in chosen]
    return [b for b in BENCHMARKS if b in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)}, or target numbers")
    parser.add_argument("--quick", action="store_true", help="short runs for a smoke check (not for the report)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite docs/benchmarks.md from saved results")
    args = parser.parse_args()
    failed = []
    if not args.report_only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "machine.json").write_text(json.dumps(machine(), indent=1) + "\n")
        for name in pick(args.names):
            module, _ = BENCHMARKS[name]
            say(f"== {name} ({module})")
            t0 = time.monotonic()
            proc = subprocess.run([PYTHON, "-m", f"benchmarks.{module}", *(["--quick"] if args.quick else [])], cwd=REPO)
            say(f"== {name}: {'done' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'} "
                f"in {time.monotonic() - t0:.0f} s")  # fmt: skip
            if proc.returncode != 0:
                failed.append(name)
    path = write_report()
    say(f"wrote {path.relative_to(REPO)}")
    if failed:
        say(f"failed: {', '.join(failed)} (their previous results, if any, are in the report)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
