"""History database faults, measured: `python -m benchmarks.hostile_history_db [--rate N] [--seconds S] [--lock S]`.

Not part of `./scripts/bench` (it measures faults, not speed): the figures
go to benchmarks/notes.md ("Hostile load"). It drives `persist.Store` as the
server does (one thread adding history records at a steady rate, the
store's writer thread writing them) and puts the file through three faults:

- read-only: the file made immutable (`chattr +i`; root ignores chmod): is
  the start refused, and if not, how many log lines and tracebacks follow;
- locked: another *process* holds `BEGIN EXCLUSIVE` for `--lock` seconds
  mid-run: rows waiting (peak), the process's RSS growth, log lines, and how
  many of the jobs fed are in the file at the end;
- deleted: the file removed (`rm`, its -wal/-shm left) mid-run: how many of
  the jobs fed after that are in a file at the path at the end.

Runs against whichever `dispymon` is importable, so the same command
measures the code before a change (PYTHONPATH=<old checkout>/backend).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dispymon.features.persist import Store


class Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.tracebacks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        self.tracebacks += record.exc_info is not None


def record(uid: int) -> tuple:
    now = time.time()
    return (uid, f"job-{uid}", "bench-cluster", "127.0.0.2", "finished", None, None, now - 1.5, now, 1.5)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def feed(store: Store, rate: int, seconds: float, at: dict[float, object] | None = None) -> dict:
    """Add `rate` jobs a second for `seconds`; call at[t]() once t seconds in; sample the queue each second."""
    at = dict(at or {})
    samples = []
    start = time.monotonic()
    uid = 0
    next_sample = 0.0
    while (elapsed := time.monotonic() - start) < seconds:
        for t in sorted(at):
            if elapsed >= t:
                at.pop(t)()
        due = int(elapsed * rate)
        while uid < due:
            store.add_job(record(uid))
            uid += 1
        if elapsed >= next_sample:
            samples.append((round(elapsed), store._queue.qsize(), round(rss_mb(), 1)))
            next_sample += 1.0
        time.sleep(0.01)  # pacing the feeder, not synchronisation
    return {"fed": uid, "samples": samples}


def rows_in(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def counters(store: Store) -> dict:
    return {k: getattr(store, k, None) for k in ("errors", "dropped", "reopened", "rows_written")}


def read_only(folder: Path, log: Counting) -> dict:
    path = folder / "ro.db"
    store = Store(path)
    store.start()
    store.add_job(record(0))
    store.close()
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        try:
            store = Store(path)
        except sqlite3.Error as exc:
            return {"start": f"refused: {exc}"}
        before = log.lines
        store.start()
        out = feed(store, 100, 5.0)
        store.close()
        return {"start": "accepted", "fed": out["fed"], "in file": rows_in(path) - 1, "log lines in 5 s": log.lines - before,
                "tracebacks": log.tracebacks, **counters(store)}
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


def locked(folder: Path, log: Counting, rate: int, seconds: float, lock: float) -> dict:
    path = folder / "locked.db"
    store = Store(path)
    store.start()
    holder: dict[str, subprocess.Popen] = {}

    def take() -> None:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        holder["p"] = proc

    def release() -> None:
        proc = holder["p"]
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(30)

    before, tracebacks = log.lines, log.tracebacks
    rss0 = rss_mb()
    out = feed(store, rate, seconds, {2.0: take, 2.0 + lock: release})
    lines_during = log.lines - before
    peak = max(q for _, q, _ in out["samples"])
    rss_peak = max(r for _, _, r in out["samples"])
    store.close(timeout=60)
    queue = [q for _, q, _ in out["samples"]]
    held = queue[2 : int(2 + lock) + 1]  # the samples while the lock was held
    written = store.rows_written
    return {"fed": out["fed"], "lock held s": lock, "queue peak rows": peak,
            "queue growth rows/min while locked": round((held[-1] - held[0]) / (len(held) - 1) * 60),
            "RSS growth MB": round(rss_peak - rss0, 1), "log lines": lines_during,
            "tracebacks": log.tracebacks - tracebacks, "never written": out["fed"] - written,
            "counted as dropped": getattr(store, "dropped", None), "failed attempts": store.errors,
            "queue by second": queue}  # fmt: skip


def deleted(folder: Path, log: Counting, rate: int, seconds: float) -> dict:
    path = folder / "deleted.db"
    store = Store(path, keep_jobs=10**7)  # nothing trimmed: every row written is counted in the file
    store.start()
    half = seconds / 2
    fed_at_delete: dict[str, int] = {}

    def remove() -> None:
        fed_at_delete["uid"] = int((time.monotonic() - t0) * rate)
        os.remove(path)

    before = log.lines
    t0 = time.monotonic()
    out = feed(store, rate, seconds, {half: remove})
    store.close(timeout=60)
    in_file = rows_in(path) if path.exists() else 0
    after = out["fed"] - fed_at_delete["uid"]
    return {"fed": out["fed"], "fed after the delete": after, "in file at the path": in_file,
            "log lines": log.lines - before, **counters(store)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="jobs a second (default 1000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the locked and deleted runs")
    parser.add_argument("--lock", type=float, default=40.0, help="seconds the other process holds the lock")
    args = parser.parse_args()
    log = Counting()
    logger = logging.getLogger("dispymon.features.persist")
    logger.addHandler(log)
    logger.propagate = False  # counted, not printed
    with tempfile.TemporaryDirectory(prefix="dispymon-hostile-db-") as tmp:
        folder = Path(tmp)
        results = {
            "read-only": read_only(folder, log),
            "locked": locked(folder, log, args.rate, args.seconds, args.lock),
            "deleted": deleted(folder, log, args.rate, args.seconds),
        }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
