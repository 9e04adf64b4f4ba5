"""Target 11 (issue 18): CSV export of 100,000 history rows, its time and the server's RSS while streaming.

A server (benchmarks/serve.py, 100 simulated nodes, `--history-size 100000`)
is fed until more than 100,000 jobs have ended, so its history is full. Then
`GET /api/history.csv` is read to the end, by a fast reader (as fast as the
socket gives) and by a slow one (64 KiB every 10 ms), while the server's RSS is
sampled every 50 ms from this process (psutil): the figure is the peak during
the download minus the RSS just before it.
"""

from __future__ import annotations

import http.client
import threading
import time

import psutil

from .common import PYTHON, Child, Result, Row, median, say

ROWS = 100_000
NODES = 100
SLOW_CHUNK = 64 * 2**10
SLOW_PAUSE = 0.010


def download(port: int, slow: bool) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", "/api/history.csv")
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"/api/history.csv: {resp.status} {resp.read()[:300]!r}")
    size = lines = 0
    first = None
    while True:
        chunk = resp.read1(SLOW_CHUNK) if slow else resp.read1(1 << 20)
        if not chunk:
            break
        if first is None:
            first = time.perf_counter() - t0
        size += len(chunk)
        lines += chunk.count(b"\n")
        if slow:
            time.sleep(SLOW_PAUSE)
    seconds = time.perf_counter() - t0
    conn.close()
    return {"seconds": seconds, "first_byte": first, "bytes": size, "rows": lines - 1}


def measured(server: Child, slow: bool) -> dict:
    proc = psutil.Process(server.pid)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(proc.memory_info().rss)
            stop.wait(0.05)

    before = proc.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = download(server.hello["port"], slow)
    finally:
        stop.set()
        sampler.join()
    after = proc.memory_info().rss
    out.update(rss_before=before, rss_peak=max([*samples, after]), rss_after=after, samples=len(samples))
    out["peak_growth_mb"] = (out["rss_peak"] - before) / 2**20
    return out


def run(quick: bool = False) -> Result:
    times = 1 if quick else 3
    out: dict = {"fast": [], "slow": []}
    with Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(NODES), "--rate", "0", "--poll-sec", "1",
                "--history-size", str(ROWS)]) as server:  # fmt: skip
        while True:  # fill the history (the loop applies each chunk before the next)
            server.ask("emit 50000")
            while True:
                s = server.ask("stats")
                if s["applied"] >= s["sim_events"]:
                    break
                time.sleep(0.05)
            if s["jobs_done"] > ROWS + 1000:
                break
        say(f"export: {s['jobs_done']:,} jobs ended, RSS {s['rss'] / 2**20:.1f} MB")
        for i in range(times):  # alternating (and which goes first), so the machine's swings fall on both
            for kind in ("slow", "fast") if i % 2 else ("fast", "slow"):
                r = measured(server, kind == "slow")
                say(f"export {kind}: {r['rows']:,} rows, {r['bytes'] / 2**20:.1f} MB in {r['seconds']:.2f} s, "
                    f"RSS +{r['peak_growth_mb']:.1f} MB at the peak")  # fmt: skip
                out[kind].append(r)
    fast, slow = out["fast"], out["slow"]

    def spread(runs: list[dict], key: str, fmt: str) -> str:
        values = [r[key] for r in runs]
        middle = format(median(values), fmt)
        return middle + (f" ({format(min(values), fmt)}–{format(max(values), fmt)})" if len(values) > 1 else "")

    result = Result("export", "11. CSV export of the history (issue 18)")
    result.rows.append(Row(
        "11. CSV export of 100,000 history rows",
        f"{fast[0]['rows']:,} rows ({fast[0]['bytes'] / 2**20:.1f} MB) in {spread(fast, 'seconds', '.2f')} s "
        f"read fast, "
        f"{spread(slow, 'seconds', '.2f')} s read 64 KiB per 10 ms; server RSS at the peak +"
        f"{spread(fast, 'peak_growth_mb', '.1f')} MB (fast), +{spread(slow, 'peak_growth_mb', '.1f')} MB (slow)",
        "time and server RSS while streaming (no goal set)", None,
    ))  # fmt: skip
    lines = ["| reader | seconds | first byte, s | MB | RSS before → peak → after, MB |", "|---|---|---|---|---|"]
    for kind in ("fast", "slow"):
        for r in out[kind]:
            lines.append(f"| {kind} | {r['seconds']:.2f} | {r['first_byte']:.3f} | {r['bytes'] / 2**20:.1f} | "
                         f"{r['rss_before'] / 2**20:.1f} → {r['rss_peak'] / 2**20:.1f} → "
                         f"{r['rss_after'] / 2**20:.1f} |")  # fmt: skip
    result.details = "\n".join(lines)
    result.method = (
        f"benchmarks/serve.py with {NODES} simulated nodes and `--history-size {ROWS}`, fed (rate 0, chunks of 50,000 "
        f"events) until over {ROWS:,} jobs had ended; no browser connected. `GET /api/history.csv` (no filter) read "
        f"to its end by http.client in this process: fast (1 MiB reads as they come) and slow ({SLOW_CHUNK // 1024} "
        f"KiB, then {SLOW_PAUSE * 1000:.0f} ms asleep), {times} times each, alternating which goes first; the "
        f"server's RSS sampled every "
        f"50 ms during each download. Medians, range in brackets."
    )
    result.data = out
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
