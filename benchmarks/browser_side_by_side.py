"""`python -m benchmarks.browser_side_by_side --old-tree DIR [--rounds N]`: issue 21's rows 13 and 14, old vs new.

Runs benchmarks/browser.mjs's `load` (100,000 nodes, desktop, then a click on
Jobs done; 1,000 nodes on a phone: Pixel 7, 4× CPU) and `churn` (100,000
nodes, 1,000 node changes/s) against two trees in one sitting, alternating
old, new, new, old, ... so that the machine's drift falls on both. Each tree
serves its own `backend/` (PYTHONPATH) and its own built frontend
(`backend/dispymon/static`: build it in the old tree first, or copy a build
of that commit there). Figures go to benchmarks/results/browser-side-by-side.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from .b7_browser import BIG, PHONE_NODES, browser
from .common import PYTHON, REPO, RESULTS, Child, median, say

RATE = 1000 / 0.7  # ≈ 1,000 node changes/s (b7_browser.py)


def measure(tree: Path, seconds: int) -> dict[str, Any]:
    env = {"PYTHONPATH": str(tree / "backend")}
    out: dict[str, Any] = {}
    with Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(BIG), "--rate", "0", "--poll-sec", "1"], env=env) as s:
        out["big"] = browser("load", f"http://127.0.0.1:{s.hello['port']}/", "3", "desktop", "Jobs done")
    with Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(BIG), "--rate", f"{RATE:.0f}", "--poll-sec", "0.1"],
               env=env) as s:  # fmt: skip
        out["churn"] = browser("churn", f"http://127.0.0.1:{s.hello['port']}/", str(seconds))
    phone = [PYTHON, "-m", "benchmarks.serve", "--nodes", str(PHONE_NODES), "--rate", "0", "--poll-sec", "1"]
    with Child(phone, env=env) as s:
        out["phone"] = browser("load", f"http://127.0.0.1:{s.hello['port']}/", "5", "phone")
    out["loadavg"] = os.getloadavg()
    return out


def figures(r: dict[str, Any]) -> dict[str, float]:
    big, churn, phone = r["big"], r["churn"], r["phone"]
    return {
        "13 navigation → painted ms": big["paintedMs"]["p50"],
        "13 snapshot in at ms": median([x["snapshotAtMs"] for x in big["runs"]]),
        "13 snapshot → painted ms": median([x["paintedMs"] - x["snapshotAtMs"] for x in big["runs"]]),
        "13 sort ms": big["sortMs"]["p50"],
        "13 churn long tasks": churn["longTasks"]["count"],
        "13 churn longest task ms": churn["longTasks"]["max"],
        "13 churn frame p50 ms": churn["frames"]["p50"],
        "14 phone ready ms": phone["readyMs"]["p50"],
        "14 phone painted ms": phone["paintedMs"]["p50"],
    }


def spread(values: list[float]) -> dict[str, float]:
    return {"median": median(values), "min": min(values), "max": max(values)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--old-tree", type=Path, required=True)
    p.add_argument("--old-name", default="f1cd4a3")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=int, default=20)
    args = p.parse_args()
    trees = {"old": args.old_tree, "new": REPO}
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for i in range(args.rounds):
        for side in ("old", "new") if i % 2 == 0 else ("new", "old"):
            say(f"round {i + 1}: {side}")
            runs[side].append(measure(trees[side], args.seconds))
    table = {side: [figures(r) for r in rs] for side, rs in runs.items()}
    summary = {side: {k: spread([f[k] for f in fs]) for k in fs[0]} for side, fs in table.items()}
    out = {"old": args.old_name, "rounds": args.rounds, "when": time.time(), "summary": summary, "runs": runs}
    (RESULTS / "browser-side-by-side.json").write_text(json.dumps(out, indent=1) + "\n")
    for k in summary["old"]:
        o, n = (summary[side][k] for side in ("old", "new"))
        cell = [f"{x['median']:.0f} ({x['min']:.0f}..{x['max']:.0f})" for x in (o, n)]
        print(f"| {k} | {cell[0]} | {cell[1]} |")


if __name__ == "__main__":
    main()
