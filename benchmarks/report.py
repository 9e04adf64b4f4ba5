"""docs/benchmarks.md, written from benchmarks/results/*.json and benchmarks/notes.md."""

from __future__ import annotations

import json
from pathlib import Path

from .common import REPO, RESULTS, Result

DOC = REPO / "docs" / "benchmarks.md"
NOTES = REPO / "benchmarks" / "notes.md"
ORDER = ["callback", "cluster", "ingest", "fanout", "crowd", "crowd1000", "jobcost", "fleetjobs", "fleet", "costcurve", "stream", "browser", "memory", "jobmemory",
         "export", "bundle", "alerts", "timeline", "resources"]  # fmt: skip


def _met(met: bool | None) -> str:
    return "—" if met is None else ("**met**" if met else "**not met**")


def write_report() -> Path:
    results = {}
    for name in ORDER:
        path = RESULTS / f"{name}.json"
        if path.exists():
            results[name] = Result.load(path)
    facts = json.loads((RESULTS / "machine.json").read_text()) if (RESULTS / "machine.json").exists() else {}
    out = [
        "# Benchmarks",
        "",
        "<!-- Written by ./scripts/bench (python -m benchmarks) from benchmarks/results/*.json and",
        "     benchmarks/notes.md: change those, then `./scripts/bench --report-only`. -->",
        "",
        "`./scripts/bench` runs every benchmark below and rewrites this file; `./scripts/bench NAME` "
        "(`callback`, `cluster`, `ingest`, `fanout`, `crowd`, `crowd1000`, `jobcost`, `fleetjobs`, `fleet`, `costcurve`, `stream`, `browser`, `memory`, `jobmemory`, "
        "`export`, `bundle`, `alerts`, `timeline`, `resources`, or a target "
        "number) runs one and keeps the others' last results. Each benchmark runs in a fresh process; servers "
        "and clients in their own processes, on loopback. The machine is noisy (2 cores, shared): every "
        "comparison is made side by side within one run, and figures are medians unless said otherwise.",
        "",
        "## Results",
        "",
        "| target | measured | goal | |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        for row in r.rows:
            quick = " *(quick run)*" if r.data.get("quick") else ""
            out.append(f"| {row.target} | {row.figure}{quick} | {row.goal} | {_met(row.met)} |")
    if facts:
        out += [
            "",
            f"Machine: {facts.get('cores')} cores ({facts.get('cpu')}), {facts.get('memory_gb')} GB, "
            f"{facts.get('os')}; Python {facts.get('python')}, dispy {facts.get('dispy')}, aiohttp "
            f"{facts.get('aiohttp')}, msgpack {facts.get('msgpack')}, {facts.get('chromium')}, Node "
            f"{facts.get('node')}."
            + (f" Code: commit {facts['commit']}." if facts.get("commit") else ""),
        ]
    dates = sorted(r.started for r in results.values() if r.started)
    if dates:
        out.append(f"Measured {dates[0]}" + (f" to {dates[-1]}." if dates[-1] != dates[0] else "."))
    if NOTES.exists():
        out += ["", NOTES.read_text().strip()]
    for name, r in results.items():
        out += ["", f"## {r.title}", ""]
        quick = " — a quick run (`--quick`), not for comparison" if r.data.get("quick") else ""
        out.append(f"*Run {r.started}, {r.seconds:.0f} s{quick}; `./scripts/bench {name}`.*")
        if r.method:
            out += ["", f"**Method.** {r.method}"]
        if r.details:
            out += ["", r.details]
    DOC.write_text("\n".join(out).rstrip() + "\n")
    return DOC
