"""`python -m benchmarks.side_by_side --base COMMIT [NAME ...] [--rounds N]`

Runs benchmarks for an old commit and for HEAD side by side in one run, on
the same machine in the same hour: each tree is a detached git worktree
(HEAD's committed code, not the working copy), and the two alternate
(old, new, then new, old, ...) so that drift on a noisy machine falls on
both. Each tree runs its own benchmark modules against its own code
(PYTHONPATH points at the tree's `backend/`), with this venv's packages.
The results of record in benchmarks/results/ are left alone; the figures
go to benchmarks/results/side-by-side.json and a table on stdout (median of
the rounds and their range).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import PYTHON, REPO, RESULTS, median, say

Figures = dict[str, float]


def _callback(d: dict[str, Any]) -> Figures:
    m = d["median_us"]["dispymon"]
    return {"burst µs/call": m["burst"], "paced µs/call": m["paced"], "loop side µs/event": d["loop_side_us"]}


def _ingest(d: dict[str, Any]) -> Figures:
    return {"events/s, 10 browsers": d["median_with_browsers"], "events/s, none": d["median_without"]}


def _fanout(d: dict[str, Any]) -> Figures:
    deflate, plain = d["deflate"], d["plain"]
    return {
        "server CPU, deflate (core)": deflate["server_cpu"],
        "server CPU, plain (core)": plain["server_cpu"],
        "lag p99 s": deflate["lag_p99"],
        "caught up": deflate["caught_up"],
        "RSS growth MB": d["rss_growth_mb"],
    }


def _stream(d: dict[str, Any]) -> Figures:
    live = d["dispymon 0.05 s"]
    return {"p50 ms (0.05 s)": live["p50_ms"], "p99 ms (0.05 s)": live["p99_ms"], "bytes ratio": d["ratio_bytes"]}


def _jobcost(d: dict[str, Any]) -> Figures:
    on, off = d["runs"]["attached"], d["runs"]["not attached"]
    return {"dispymon µs/job (threads' clocks)": d["cost_us"], "event loop µs/job": d["by_group"].get("event loop", 0.0),
            "jobs/s ratio": median(d["ratios"]), "jobs/s attached": median(r["jobs_s"] for r in on),
            "jobs/s not attached": median(r["jobs_s"] for r in off)}  # fmt: skip


def _timeline(d: dict[str, Any]) -> Figures:
    out: Figures = {}
    for scenario, runs in d.items():
        if not isinstance(runs, list):
            continue
        out[f"{scenario}: long tasks"] = median(r["longTasks"]["count"] for r in runs)
        out[f"{scenario}: longest ms"] = median(r["longTasks"]["max"] for r in runs)
        out[f"{scenario}: draw p50 ms"] = median(r["draws"]["p50"] for r in runs)
        out[f"{scenario}: load average"] = median(r["load_before"] for r in runs)
    return out


# name: (module, what to read from its result's "data")
GROUPS: dict[str, tuple[str, Callable[[dict[str, Any]], Figures]]] = {
    "callback": ("b1_callback", _callback),
    "ingest": ("b3_ingest", _ingest),
    "fanout": ("b4_fanout", _fanout),
    "stream": ("b5_stream", _stream),
    "jobcost": ("b_jobcost", _jobcost),
    "timeline": ("b_timeline", _timeline),
}
# Benchmarks of the page, not the server: each tree's own frontend is built (the copied build is
# HEAD's), and HEAD's benchmark files run on both (the same gestures and figures for each page).
FRONTEND: dict[str, tuple[list[str], dict[str, str]]] = {
    "timeline": (["b_timeline.py", "timeline.mjs", "timeline_serve.py"], {"DISPYMON_TIMELINE_RUNS": "1"}),
}
_built: set[Path] = set()


def _frontend(tree: Path, name: str) -> dict[str, str]:
    files, env = FRONTEND[name]
    for file in files:
        shutil.copy(REPO / "benchmarks" / file, tree / "benchmarks" / file)
    if tree not in _built:
        if not (tree / "node_modules").exists():
            (tree / "node_modules").symlink_to(REPO / "node_modules")
        say(f"   building {tree.name}'s frontend")
        subprocess.run(["npm", "run", "build", "-w", "frontend", "--silent"], cwd=tree, check=True, capture_output=True)
        _built.add(tree)
    return env


def _worktree(commit: str, where: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), commit], cwd=REPO, check=True, capture_output=True
    )
    static = REPO / "backend" / "dispymon" / "static"
    if static.is_dir():  # the server refuses to start without a built frontend (gitignored)
        shutil.copytree(static, where / "backend" / "dispymon" / "static")
    return where


def _run(tree: Path, name: str, quick: bool) -> Figures:
    module, read = GROUPS[name]
    if not (tree / "benchmarks" / f"{module}.py").exists():  # a benchmark newer than the old tree: HEAD's, on its code
        shutil.copy(REPO / "benchmarks" / f"{module}.py", tree / "benchmarks" / f"{module}.py")
    extra = _frontend(tree, name) if name in FRONTEND else {}
    env = {**os.environ, **extra, "PYTHONPATH": f"{tree / 'backend'}{os.pathsep}{tree}"}
    subprocess.run(
        [PYTHON, "-m", f"benchmarks.{module}", *(["--quick"] if quick else [])], cwd=tree, env=env, check=True
    )
    return read(json.loads((tree / "benchmarks" / "results" / f"{name}.json").read_text())["data"])


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.side_by_side",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", default=list(GROUPS), help=f"of {', '.join(GROUPS)}")
    parser.add_argument("--base", required=True, help="the old commit")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree per benchmark (default 2)")
    parser.add_argument("--quick", action="store_true", help="short runs, to check the set-up (not for figures)")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    base = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="dispymon-sbs-"))
    trees = {}
    results: dict[str, dict[str, list[Figures]]] = {}
    try:
        trees = {base: _worktree(base, tmp / "old"), head: _worktree(head, tmp / "new")}
        for name in args.names:
            results[name] = {base: [], head: []}
            for r in range(args.rounds):
                order = [base, head] if r % 2 == 0 else [head, base]
                for commit in order:
                    say(f"== {name}, round {r + 1}, {commit}")
                    t0 = time.monotonic()
                    results[name][commit].append(_run(trees[commit], name, args.quick))
                    say(f"   {time.monotonic() - t0:.0f} s: {results[name][commit][-1]}")
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    out = {"base": base, "head": head, "rounds": args.rounds, "results": results}
    (RESULTS / "side-by-side.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"| benchmark | figure | {base} (old) | {head} (new) |\n|---|---|---|---|")
    for name, by in results.items():
        for key in by[base][0] if by[base] else []:
            cells = []
            for commit in (base, head):
                values = [f[key] for f in by[commit]]
                cells.append(f"{_fmt(median(values))} ({_fmt(min(values))}–{_fmt(max(values))})")
            print(f"| {name} | {key} | {cells[0]} | {cells[1]} |")
    return 0


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


if __name__ == "__main__":
    sys.exit(main())
