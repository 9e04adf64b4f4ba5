"""Keeping the job history and the per-minute series in SQLite (`--history-db`).

The event loop never touches the database after start-up: `add_job` and
`add_minute` put a row on a queue; one writer thread takes rows in batches
(every `batch_delay` seconds or `batch_rows` rows, whichever comes first) and
writes each batch in one transaction, in WAL mode. Reading happens once, at
start-up, before the writer starts. The file keeps the last `keep_jobs` jobs
and `keep_minutes` minutes of series, so it stays bounded too.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .history import FIELDS, Record
from .series import MinutePoint

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uid INTEGER, id TEXT, cluster TEXT, node TEXT, outcome TEXT,
    exception_type TEXT, exception_message TEXT,
    start_time REAL, end_time REAL, duration REAL
);
CREATE TABLE IF NOT EXISTS minutes (
    minute INTEGER, cluster TEXT, node TEXT, done INTEGER, busy REAL,
    PRIMARY KEY (minute, cluster, node)
);
"""
JOB_FIELDS = FIELDS  # the history's record, column for column
INSERT_JOB = f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) VALUES ({', '.join('?' * len(JOB_FIELDS))})"
# A minute written twice (a restart within it) adds up rather than losing the first part.
UPSERT_MINUTE = """INSERT INTO minutes (minute, cluster, node, done, busy) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (minute, cluster, node) DO UPDATE SET done = done + excluded.done, busy = max(busy, excluded.busy)"""

_STOP = object()


class Store:
    def __init__(self, path: str | Path, keep_jobs: int = 10_000, keep_minutes: int = 1440,
                 batch_rows: int = 500, batch_delay: float = 0.5) -> None:  # fmt: skip
        self.path = Path(path)
        self.keep_jobs = keep_jobs
        self.keep_minutes = keep_minutes
        self.batch_rows = batch_rows
        self.batch_delay = batch_delay
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.errors = 0
        with self._connect() as db:  # fails here, at start-up, for a path that cannot hold a database
            db.executescript(SCHEMA)
        db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # -- start-up (before the writer runs) -------------------------------------------

    def load_jobs(self, limit: int) -> list[Record]:
        """The last `limit` jobs, oldest first (history records: tuples in JOB_FIELDS order)."""
        db = self._connect()
        try:
            rows = db.execute(f"SELECT {', '.join(JOB_FIELDS)} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        finally:
            db.close()
        return [tuple(row) for row in reversed(rows)]

    def load_minutes(self, since: float) -> list[MinutePoint]:
        db = self._connect()
        try:
            rows = db.execute("SELECT minute, cluster, node, done, busy FROM minutes WHERE minute >= ? ORDER BY minute",
                              (int(since),)).fetchall()  # fmt: skip
        finally:
            db.close()
        return [MinutePoint(*row) for row in rows]

    # -- the writer ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dispymon-history-db", daemon=True)
        self._thread.start()

    def add_job(self, record: Record) -> None:
        """From the event loop: O(1), never waits for the disk."""
        self._queue.put(("j", record))

    def add_minute(self, point: MinutePoint) -> None:
        self._queue.put(("m", tuple(point)))

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer (blocks: call it off the loop)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the history database writer did not finish within %.0f s", timeout)
        self._thread = None

    def _run(self) -> None:
        db = self._connect()
        since_trim = 0
        stopping = False
        try:
            while not stopping:
                batch = [self._queue.get()]  # wait for the first row, however long
                deadline = time.monotonic() + self.batch_delay
                while len(batch) < self.batch_rows and batch[-1] is not _STOP:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                    batch.append(item)
                if any(item is _STOP for item in batch):
                    stopping = True
                    batch = [item for item in batch if item is not _STOP]
                    while True:  # and whatever was queued before the stop
                        try:
                            item = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if item is not _STOP:
                            batch.append(item)
                since_trim += self._write(db, batch)
                if since_trim >= 1000 or (stopping and since_trim):
                    self._trim(db)
                    since_trim = 0
        finally:
            db.close()

    def _write(self, db: sqlite3.Connection, batch: list[tuple[str, tuple]]) -> int:
        jobs = [row for kind, row in batch if kind == "j"]
        minutes = [row for kind, row in batch if kind == "m"]
        try:
            with db:  # one transaction
                if jobs:
                    db.executemany(INSERT_JOB, jobs)
                if minutes:
                    db.executemany(UPSERT_MINUTE, minutes)
        except sqlite3.Error:
            self.errors += 1
            log.exception("could not write %d rows to %s", len(batch), self.path)
            return 0
        self.rows_written += len(batch)
        return len(batch)

    def _trim(self, db: sqlite3.Connection) -> None:
        try:
            with db:
                db.execute("DELETE FROM jobs WHERE seq <= (SELECT MAX(seq) FROM jobs) - ?", (self.keep_jobs,))
                db.execute("DELETE FROM minutes WHERE minute < (SELECT MAX(minute) FROM minutes) - ?",
                           (self.keep_minutes * 60,))  # fmt: skip
        except sqlite3.Error:
            self.errors += 1
            log.exception("could not trim %s", self.path)
