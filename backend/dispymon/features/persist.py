"""Keeping the job history and the per-minute series in SQLite (`--history-db`).

The event loop never touches the database after start-up: `add_job` and
`add_minute` put a row on a queue; one writer thread takes rows in batches
(every `batch_delay` seconds or `batch_rows` rows, whichever comes first) and
writes each batch in one transaction, in WAL mode. Reading happens once, at
start-up, before the writer starts. The file keeps the last `keep_jobs` jobs
and `keep_minutes` minutes of series, so it stays bounded too.

Faults (each tested in test_persist.py):
- a file that cannot be written (read-only, immutable, not a database) is
  refused at start-up: `Store()` raises `sqlite3.Error` after a real write
  (rolled back), since SQLite opens such a file read-only without a word;
- a file deleted or replaced under the server (its path no longer names the
  file the writer has open: device and inode compared before each write and
  every `check_every` seconds) is closed and the path opened again, created
  if need be; the writer's leftover `-wal`/`-shm` are removed first, so they
  are never replayed into the new file; the warning says so and
  `reopened` counts it;
- a write that fails (a lock held by another process, a full disk) is
  retried every `retry_delay` seconds with the same rows while new rows wait
  in the queue; the queue holds at most `max_queue` rows (default: the jobs
  and minutes the file keeps): beyond that the oldest are dropped and
  counted (`dropped`), so memory stays bounded however long the fault lasts.
A fault is logged when it begins (unless a line was logged within the last
`report_every` seconds: then only the summary tells of it) and, if its
beginning was, when it ends; in between a summary once a minute (failed
attempts and rows dropped, with counts). `status()` is what /metrics and the
History page show.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from dispymon.features.history import FIELDS, Record
from dispymon.features.series import MinutePoint

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
# the history's record, column for column, up to `duration` (B's interim: package D's
# migration adds the columns of key, created and resubmit_of; take D's lines on merge)
JOB_FIELDS = FIELDS[: FIELDS.index("duration") + 1]
INSERT_JOB = f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) VALUES ({', '.join('?' * len(JOB_FIELDS))})"
# A minute written twice (a restart within it) adds up rather than losing the first part.
UPSERT_MINUTE = """INSERT INTO minutes (minute, cluster, node, done, busy) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (minute, cluster, node) DO UPDATE SET done = done + excluded.done, busy = max(busy, excluded.busy)"""

_STOP = object()
# SQLite's primary result codes for "another connection holds the lock"
_BUSY = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
# Errors that the same rows would meet again: the batch is dropped (counted)
# rather than retried for ever, which would stop every later row too.
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
_PROBE_MINUTE = (-1, "", "", 0, 0.0)  # written and rolled back at start-up


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of what `path` names now, None if nothing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]


class Store:
    def __init__(
        self,
        path: str | Path,
        keep_jobs: int = 10_000,
        keep_minutes: int = 1440,
        batch_rows: int = 500,
        batch_delay: float = 0.5,
        max_queue: int | None = None,
        busy_timeout: float = 5.0,
        retry_delay: float = 1.0,
        check_every: float = 2.0,
        report_every: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.keep_jobs = keep_jobs
        self.keep_minutes = keep_minutes
        self.batch_rows = batch_rows
        self.batch_delay = batch_delay
        # Rows beyond the jobs and minutes the file keeps would be trimmed from it anyway.
        self.max_queue = max_queue if max_queue is not None else keep_jobs + keep_minutes
        self.busy_timeout = busy_timeout
        self.retry_delay = retry_delay
        self.check_every = check_every
        self.report_every = report_every
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.errors = 0  # failed attempts (write, trim, open): written by the writer thread only
        self.reopened = 0  # times the path was found deleted or replaced and opened again
        self.healthy = True  # the last attempt succeeded
        self.last_error: str | None = None
        # rows never written: dropped from a full queue (event loop) / by the writer (its own count,
        # so that no counter is written by two threads)
        self._queue_dropped = 0
        self._writer_dropped = 0
        self._file: tuple[int, int] | None = None  # (device, inode) of the file the writer has open
        self._leftovers: dict[str, tuple[int, int] | None] = {}  # the writer's -wal/-shm, same
        self._fault_since: float | None = None
        self._fault_logged = False  # the current fault's beginning was logged
        self._logged = (0, 0)  # errors, dropped at the last log line
        self._next_report = 0.0
        db = self._connect()  # fails here, at start-up, for a path that cannot hold a database
        try:
            db.executescript(SCHEMA)
            self._probe(db)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _probe(self, db: sqlite3.Connection) -> None:
        """Write one row and roll it back: SQLite opens a file it cannot write
        (read-only, immutable, on a read-only mount) read-only without a word,
        and reading the schema succeeds; only a write tells. A lock held by
        another process is not a reason to refuse: the writer retries."""
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute(UPSERT_MINUTE, _PROBE_MINUTE)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY:
                raise
            self.healthy = False
            self.last_error = _one_line(exc)
            log.warning(
                "the history database %s is locked by another process (%s): starting anyway, "
                "rows wait in memory until it is free",
                self.path,
                self.last_error,
            )
        finally:
            db.rollback()

    # -- start-up (before the writer runs) -------------------------------------------

    def load_jobs(self, limit: int) -> list[Record]:
        """The last `limit` jobs, oldest first (history records: tuples in JOB_FIELDS order)."""
        db = self._connect()
        try:
            rows = db.execute(
                f"SELECT {', '.join(JOB_FIELDS)} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            db.close()
        return [tuple(row) for row in reversed(rows)]

    def load_minutes(self, since: float) -> list[MinutePoint]:
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT minute, cluster, node, done, busy FROM minutes WHERE minute >= ? ORDER BY minute", (int(since),)
            ).fetchall()
        finally:
            db.close()
        return [MinutePoint(*row) for row in rows]

    # -- what the event loop calls -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dispymon-history-db", daemon=True)
        self._thread.start()

    def add_job(self, record: Record) -> None:
        """From the event loop: O(1), never waits for the disk; a full queue loses its oldest row."""
        if self._queue.qsize() >= self.max_queue:
            self._drop_oldest()
        self._queue.put(("j", record))

    def add_minute(self, point: MinutePoint) -> None:
        if self._queue.qsize() >= self.max_queue:
            self._drop_oldest()
        self._queue.put(("m", tuple(point)))

    def _drop_oldest(self) -> None:
        try:
            item = self._queue.get_nowait()
        except queue.Empty:  # the writer took it meanwhile
            return
        if item is _STOP:
            self._queue.put(item)
        else:
            self._queue_dropped += 1

    @property
    def dropped(self) -> int:
        """Rows that will never reach the file."""
        return self._queue_dropped + self._writer_dropped

    def status(self) -> dict[str, Any]:
        """For /metrics and the History page (read from any thread: plain values)."""
        return {
            "healthy": self.healthy,
            "errors": self.errors,
            "dropped": self.dropped,
            "reopened": self.reopened,
            "queued": self._queue.qsize(),
            "rows_written": self.rows_written,
            "last_error": self.last_error,
        }

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer (blocks: call it off the loop)."""
        if self._thread is None:
            return
        self._stop.set()
        self._queue.put(_STOP)  # wakes a writer waiting for rows
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the history database writer did not finish within %.0f s", timeout)
        self._thread = None

    # -- the writer ----------------------------------------------------------------------

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        pending: list[tuple[str, tuple]] = []  # rows taken from the queue, not yet written
        since_trim = 0
        next_check = 0.0
        try:
            while True:
                if not pending:
                    pending = self._take()
                stopping = self._stop.is_set()
                now = time.monotonic()
                if pending or db is None or now >= next_check:
                    db = self._check_file(db)
                    next_check = now + self.check_every
                if pending:
                    if db is not None and self._try_write(db, pending):
                        since_trim += len(pending)
                        pending = []
                    elif self._stop.is_set():  # one attempt after the stop, not one more busy wait
                        self._give_up(pending)
                        break
                    else:  # the same rows again later; meanwhile new ones wait in the (bounded) queue
                        self._report(time.monotonic())
                        self._stop.wait(self.retry_delay)
                        continue
                if db is not None and (since_trim >= 1000 or (stopping and since_trim)):
                    self._trim(db)
                    since_trim = 0
                self._report(time.monotonic())
                if stopping and self._queue.empty():
                    break
        except Exception:  # a bug: say so once, and the rows left are lost
            log.exception("the history database writer stopped")
            self.healthy = False
            self.last_error = "the writer stopped (see the log)"
        finally:
            if db is not None:
                db.close()
            self._report(float("inf"))

    def _take(self) -> list[tuple[str, tuple]]:
        """The next batch: waits at most `check_every` for its first row, then
        `batch_delay` or `batch_rows` rows, whichever comes first; once stopping,
        only what is queued."""
        batch: list[tuple[str, tuple]] = []
        try:
            item = self._queue.get(timeout=self.check_every)
        except queue.Empty:
            return batch
        if item is not _STOP:
            batch.append(item)
        deadline = time.monotonic() + self.batch_delay
        while len(batch) < self.batch_rows:
            try:
                if self._stop.is_set():
                    item = self._queue.get_nowait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    item = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if item is not _STOP:
                batch.append(item)
        return batch

    def _open(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        self._file = _identity(self.path)
        self._leftovers = {suffix: _identity(f"{self.path}{suffix}") for suffix in ("-wal", "-shm")}
        return db

    def _check_file(self, db: sqlite3.Connection | None) -> sqlite3.Connection | None:
        """The open connection if the path still names its file; else the path opened again (None if it cannot be)."""
        if db is not None:
            try:
                now = _identity(self.path)
            except OSError as exc:  # the folder cannot be read: keep writing to the file we have
                self._failed(exc)
                return db
            if now == self._file:
                return db
            db.close()
            self._remove_leftovers()
            self.reopened += 1
            log.warning(
                "the history database %s was %s while dispymon had it open: opening %s; rows written "
                "before are not in it",
                self.path,
                "deleted" if now is None else "replaced",
                "a new file at that path" if now is None else "the file now at that path",
            )
        try:
            return self._open()
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return None

    def _remove_leftovers(self) -> None:
        """SQLite leaves the -wal and -shm of a file deleted under it at the path,
        and would replay that WAL into the next file opened there (found by test:
        a file put in place by `mv` came back with the old tables). Remove them,
        only if they are still the ones the writer had."""
        for suffix, had in self._leftovers.items():
            name = f"{self.path}{suffix}"
            try:
                if had is not None and _identity(name) == had:
                    os.remove(name)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    log.warning("could not remove %s: %s", name, exc)
        self._leftovers = {}

    def _try_write(self, db: sqlite3.Connection, batch: list[tuple[str, tuple]]) -> bool:
        """True when the batch is done with (written, or dropped for good)."""
        try:
            self._write(db, batch)
        except _ROW_ERRORS as exc:
            self._writer_dropped += len(batch)
            self._failed(exc)
            return True
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return False
        if None in self._leftovers.values():  # created by this first write
            self._leftovers = {s: had or _identity(f"{self.path}{s}") for s, had in self._leftovers.items()}
        self._recovered()
        return True

    def _write(self, db: sqlite3.Connection, batch: list[tuple[str, tuple]]) -> int:
        jobs = [row[: len(JOB_FIELDS)] for kind, row in batch if kind == "j"]
        minutes = [row for kind, row in batch if kind == "m"]
        with db:  # one transaction
            if jobs:
                db.executemany(INSERT_JOB, jobs)
            if minutes:
                db.executemany(UPSERT_MINUTE, minutes)
        self.rows_written += len(batch)
        return len(batch)

    def _trim(self, db: sqlite3.Connection) -> None:
        try:
            with db:
                db.execute("DELETE FROM jobs WHERE seq <= (SELECT MAX(seq) FROM jobs) - ?", (self.keep_jobs,))
                db.execute(
                    "DELETE FROM minutes WHERE minute < (SELECT MAX(minute) FROM minutes) - ?",
                    (self.keep_minutes * 60,),
                )
        except sqlite3.Error as exc:
            self._failed(exc)

    def _give_up(self, pending: list[tuple[str, tuple]]) -> None:
        """Stopping while writes fail: what is left is lost; count it and say so."""
        lost = len(pending)
        while True:
            try:
                if self._queue.get_nowait() is not _STOP:
                    lost += 1
            except queue.Empty:
                break
        self._writer_dropped += lost
        log.error("the history database %s: %d rows not written at shutdown (%s)", self.path, lost, self.last_error)

    # -- telling about faults: at most a line when one begins and ends, else a summary a minute ----

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.healthy = False
        self.last_error = _one_line(exc)
        if self._fault_since is None:
            now = time.monotonic()
            self._fault_since = now
            # A fault that follows a line of the last minute (a lock taken every few
            # seconds) is left to the summary: lines stay a few a minute at most.
            self._fault_logged = now >= self._next_report
            if self._fault_logged:
                log.error(
                    "cannot write the history database %s (%s): retrying every %g s; rows wait in memory (at "
                    "most %d, the oldest dropped beyond); a summary follows every %g s while this lasts",
                    self.path,
                    self.last_error,
                    self.retry_delay,
                    self.max_queue,
                    self.report_every,
                )
                self._logged = (self.errors, self.dropped)
                self._next_report = now + self.report_every

    def _recovered(self) -> None:
        if self._fault_since is not None:
            if self._fault_logged:  # its beginning was said: so is its end
                log.warning(
                    "the history database %s is written again after %.0f s (%d failed attempts, %d rows "
                    "dropped in all)",
                    self.path,
                    time.monotonic() - self._fault_since,
                    self.errors,
                    self.dropped,
                )
                self._logged = (self.errors, self.dropped)
            self._fault_since = None
        self.healthy = True
        self.last_error = None

    def _report(self, now: float) -> None:
        """At most one line a period: the failed attempts and rows dropped since the last line."""
        errors, dropped = self.errors, self.dropped
        new_errors, new_dropped = errors - self._logged[0], dropped - self._logged[1]
        if (new_errors or new_dropped) and now >= self._next_report:
            log.warning(
                "the history database %s: %d failed attempts and %d rows dropped since the last report; "
                "%d rows waiting; %s",
                self.path,
                new_errors,
                new_dropped,
                self._queue.qsize(),
                f"still failing: {self.last_error}" if not self.healthy else "written again since",
            )
            self._logged = (errors, dropped)
            self._next_report = time.monotonic() + self.report_every
