"""A dispymon server whose history holds BARS jobs laid out on a timeline (for benchmarks/b_timeline.py).

    python -m benchmarks.timeline_serve --nodes 100 --cpus 8 --bars 50000 --span 600

The simulated cluster attaches NODES nodes of CPUS CPUs (`--rate 0`, the
default: no job runs; with `--rate R` it runs jobs live on top, `--fill` of
its CPUs busy, and the history has room for `--more` of them), and the
history is loaded with BARS ended jobs spread over the last
SPAN seconds: each CPU slot of each node runs jobs one after the other,
with small gaps, outcomes drawn at random (seeded: 90 % finished, the rest
failed, terminated, cancelled, abandoned). Prints one JSON line {"port",
"pid", "bars"} when it listens; `quit` (or EOF) stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time

from dispymon.adapters.simulated import SimulatedCluster, SimulatedControl
from dispymon.features.history import FIELDS
from dispymon.features.rest import INSIGHT
from dispymon.runtime.runtime import Runtime
from dispymon.runtime.settings import Settings

OUTCOMES = (("finished", 0.9), ("failed", 0.04), ("terminated", 0.02), ("cancelled", 0.02), ("abandoned", 0.02))


def records(ips: list[str], cpus: int, bars: int, span: float, now: float) -> list[tuple]:
    """BARS records (FIELDS order), oldest end first, each lane's jobs back to back over the last `span` s."""
    rng = random.Random(1)
    lanes = [(ip, slot) for ip in ips for slot in range(cpus)]
    per_lane, extra = divmod(bars, len(lanes))
    names = [name for name, _ in OUTCOMES]
    weights = [w for _, w in OUTCOMES]
    out = []
    key = 0
    for i, (ip, _slot) in enumerate(lanes):
        count = per_lane + (1 if i < extra else 0)
        if count == 0:
            continue
        step = (span - 2) / count
        t = now - span + rng.uniform(0, step / 2)
        for _ in range(count):
            duration = step * rng.uniform(0.6, 0.95)
            outcome = rng.choices(names, weights)[0]
            key += 1
            exc = ("ValueError", "boom") if outcome == "failed" else (None, None)
            out.append(
                (key, f"job-{key}", "simulated", ip, outcome, *exc, t, t + duration, duration, key, t - 1.0, None)
            )
            t += step
    out.sort(key=lambda r: r[8])
    assert all(len(r) == len(FIELDS) for r in out)
    return out


def wait_for_quit() -> None:
    for line in sys.stdin:
        if line.strip() == "quit":
            return


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    settings = Settings(host="127.0.0.1", port=args.port, poll_sec=args.poll_sec, stuck_after=1e9, stale_after=1e9,
                        history_size=max(args.bars + args.more, 1))  # fmt: skip
    sims: list[SimulatedCluster] = []
    runtime = Runtime(settings, loop, source=lambda hub, keys: SimulatedControl(sims))
    sim = SimulatedCluster(runtime.hub.feed, args.nodes, args.cpus, rate=args.rate, fill=args.fill if args.rate else 0,
                           seed=1, clock=time.time, keys=runtime.keys)  # fmt: skip
    sims.append(sim)
    port = await runtime.start()
    sim.start()
    ips = [info.ip_addr for info, _ in sim.attached_event().nodes]
    insight = runtime.app[INSIGHT]
    insight.history.load(records(ips, args.cpus, args.bars, args.span, time.time()))
    sys.stdout.write(json.dumps({"port": port, "pid": os.getpid(), "bars": len(insight.history.jobs)}) + "\n")
    sys.stdout.flush()
    await loop.run_in_executor(None, wait_for_quit)
    sim.stop()
    await runtime.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--bars", type=int, default=50_000)
    p.add_argument("--span", type=float, default=600.0)
    p.add_argument("--poll-sec", type=float, default=1.0)
    # a live cluster on top: the simulator's events per second (0: none), the share of CPUs busy,
    # and room in the history for the jobs it ends (beyond --bars)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--fill", type=float, default=0.75)
    p.add_argument("--more", type=int, default=0)
    p.add_argument("--port", type=int, default=0)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
