"""Keeping the job history and the per-minute series in SQLite (`--history-db`).

The event loop never touches the database after start-up: `add_job` and
`add_minute` put a row on a queue; one writer thread takes rows in batches
(every `batch_delay` seconds or `batch_rows` rows, whichever comes first) and
writes each batch in one transaction, in WAL mode. Reading happens once, at
start-up, before the writer starts, and afterwards only through `read_detail`
and `find`: a read-only connection each, in a worker thread, at most two at a
time (WAL readers do not block the writer, nor it them). The file keeps the
last `keep_jobs` jobs and `keep_minutes` minutes of series, so it stays
bounded too.

Job details (issue 18: the outputs, traceback, result and argument texts of
an ended job, `add_detail`) are bounded on disk by `history_bytes`: after each
batch the writer reads the file's size (`page_count * page_size`, less the
free pages) and, over the budget, deletes the oldest details and gives their
pages back (`auto_vacuum=INCREMENTAL`, `incremental_vacuum`) until it is
under, with room kept for the WAL and one batch. Details waiting for the
writer are bounded by bytes too (`max_detail_bytes`): beyond it the oldest are
dropped and counted (`details_dropped`). Nothing pickled is ever written:
details are text, numbers and the outputs' bytes.

The schema has a version (`PRAGMA user_version`, `SCHEMA_VERSION`); a file of
an earlier version is migrated when it is opened (in one transaction), and a
file made before auto_vacuum is vacuumed once by the writer, at its first
start (logged with how long it took).

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

import asyncio
import collections
import contextlib
import errno
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from dispymon.features.failures import Failures
from dispymon.features.history import FIELDS, Record
from dispymon.features.resources import ResourceMinute
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
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, rule TEXT, severity TEXT, cluster TEXT, node TEXT, job_key INTEGER, job_id TEXT,
    summary TEXT, started REAL, resolved REAL, action TEXT
);
CREATE TABLE IF NOT EXISTS node_resources (
    minute INTEGER, node TEXT, cpu INTEGER, memory INTEGER, disk INTEGER, swap INTEGER,
    PRIMARY KEY (minute, node)
) WITHOUT ROWID;
"""
# Version 1 (issue 18): the jobs' keys, creation times and resubmission links, and their details.
SCHEMA_VERSION = 1
JOB_COLUMNS_V1 = (("key", "INTEGER"), ("created", "REAL"), ("resubmit_of", "INTEGER"))
# `bytes` comes before the outputs so that reading it (budget, status) never reads their overflow pages.
DETAIL_COLUMNS = (
    "key",
    "cluster",
    "bytes",
    "stdout",
    "stdout_len",
    "stdout_kind",
    "stderr",
    "stderr_len",
    "stderr_kind",
    "traceback",
    "traceback_len",
    "result",
    "result_len",
    "args",
    "kwargs",
    "pinned",
    "resubmitted_as",
)
MIGRATION_V1 = """
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key);
CREATE INDEX IF NOT EXISTS jobs_cluster_id ON jobs(cluster, id);
CREATE TABLE IF NOT EXISTS job_details (
    key INTEGER PRIMARY KEY, cluster TEXT NOT NULL, bytes INTEGER NOT NULL,
    stdout BLOB, stdout_len INTEGER, stdout_kind TEXT, stderr BLOB, stderr_len INTEGER, stderr_kind TEXT,
    traceback TEXT, traceback_len INTEGER, result TEXT, result_len INTEGER,
    args TEXT, kwargs TEXT, pinned TEXT, resubmitted_as TEXT
);
"""
INSERT_DETAIL = (
    f"INSERT OR REPLACE INTO job_details ({', '.join(DETAIL_COLUMNS)}) VALUES ({', '.join('?' * len(DETAIL_COLUMNS))})"
)
# Columns a detail may hold as bytes: the outputs (a program's are bytes). Nothing else, so that no
# pickle (the resubmission's arguments are bytes) can reach the disk by mistake.
_BYTES_COLUMNS = frozenset({"stdout", "stderr"})
_INT_COLUMNS = frozenset({"key", "bytes", "stdout_len", "stderr_len", "traceback_len", "result_len"})
_DETAIL_INDEX = {name: i for i, name in enumerate(DETAIL_COLUMNS)}
_BYTES_AT = DETAIL_COLUMNS.index("bytes")
DETAIL_OVERHEAD = 64  # a row's own bytes on disk beyond its texts (key, lengths, cell header), roughly
MiB = 2**20
DEFAULT_HISTORY_BYTES = 256 * MiB
DEFAULT_DETAIL_BYTES = 16 * MiB  # details waiting for the writer
TRIM_ROWS = 200  # details deleted at a time when the file is over its budget
CHECKPOINT_EVERY = 60.0  # seconds between wal_checkpoint(TRUNCATE)s
FIND_LIMIT = 1000  # keys `find` answers at most

JOB_FIELDS = FIELDS  # the history's record, column for column
INSERT_JOB = f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) VALUES ({', '.join('?' * len(JOB_FIELDS))})"
# A minute written twice (a restart within it) adds up rather than losing the first part.
UPSERT_MINUTE = """INSERT INTO minutes (minute, cluster, node, done, busy) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (minute, cluster, node) DO UPDATE SET done = done + excluded.done, busy = max(busy, excluded.busy)"""

# The alerts' history (issue 19, features/alerts): one row per alert, replaced when it resolves.
ALERT_COLUMNS = (
    "id",
    "rule",
    "severity",
    "cluster",
    "node",
    "job_key",
    "job_id",
    "summary",
    "started",
    "resolved",
    "action",
)
UPSERT_ALERT = (
    f"INSERT OR REPLACE INTO alerts ({', '.join(ALERT_COLUMNS)}) VALUES ({', '.join('?' * len(ALERT_COLUMNS))})"
)
DEFAULT_KEEP_ALERTS = 10_000


def alert_row(alert: dict[str, Any]) -> tuple:
    job = alert.get("job") or {}
    return (
        alert["id"], alert["rule"], alert["severity"], alert["cluster"], alert["node"], job.get("key"), job.get("id"),
        alert["summary"], alert["started"], alert["resolved"], alert["action"],
    )  # fmt: skip


def row_alert(row: tuple) -> dict[str, Any]:
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    key, job_id = values.pop("job_key"), values.pop("job_id")
    job = {"key": key, "id": job_id} if key is not None else None
    return {**{k: values[k] for k in ALERT_COLUMNS[:5]}, "job": job,
            **{k: values[k] for k in ALERT_COLUMNS[7:]}}  # fmt: skip


# Each node's resources per minute (features/resources.py, quantised as there). A minute written
# twice (a restart within it) keeps the mean of both parts.
UPSERT_RESOURCES = """INSERT INTO node_resources (minute, node, cpu, memory, disk, swap) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (minute, node) DO UPDATE SET cpu = (cpu + excluded.cpu) / 2, memory = (memory + excluded.memory) / 2,
disk = (disk + excluded.disk) / 2, swap = (swap + excluded.swap) / 2"""
# The resource rows the file keeps at most (beyond a day's minutes): the oldest minutes go first.
# About what the memory budget's nodes fill in a day (features/resources.py: ~2,700 nodes x 1440).
KEEP_RESOURCE_ROWS = 4_000_000
# Minutes of resources (one queue item each, all nodes) waiting for the writer at most: beyond it
# a new minute is dropped and its rows counted in `dropped`.
MAX_RESOURCE_MINUTES_WAITING = 60

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


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _migrate(db: sqlite3.Connection) -> bool:
    """Bring the file's schema to SCHEMA_VERSION, in one transaction (True if it changed anything).

    The version is read again under the write lock, so two processes opening
    the same old file migrate it once. Columns are added only where missing."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            db.rollback()
            return False
        have = _columns(db, "jobs")
        for name, kind in JOB_COLUMNS_V1:
            if name not in have:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        for statement in MIGRATION_V1.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return True


def _max_key(db: sqlite3.Connection) -> int:
    found = 0
    if "key" in _columns(db, "jobs"):
        found = max(found, db.execute("SELECT MAX(key) FROM jobs").fetchone()[0] or 0)
    if _columns(db, "job_details"):
        found = max(found, db.execute("SELECT MAX(key) FROM job_details").fetchone()[0] or 0)
    return int(found)


def stored_max_key(path: str | os.PathLike[str]) -> int:
    """The largest job key in the history database at `path`, 0 if none (no file, a file of before
    keys, or one that cannot be read: the Store made next says why). For the jobs' keys of a run,
    which must start above it before any cluster is attached (runtime.py); only reads."""
    if not os.path.isfile(path):
        return 0
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5.0)) as db:
            return _max_key(db)
    except sqlite3.Error:
        return 0


def _text_bytes(value: str) -> int:
    """Its size in UTF-8 (SQLite's TEXT), without encoding a plain ASCII string."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _plain(value: Any) -> Any:
    return value if value is None or type(value) in (int, float, str) else str(value)


def _plain_record(record: Record, width: int) -> Record:
    """A history record as SQLite takes it: our own text objects (a job's id made off the
    loop, model/jobtext.py) become their text; a shorter record (of before issue 18's
    fields) reads None for the rest. (Most records need neither: the writer checks first.)"""
    return (*map(_plain, record), *(None,) * (width - len(record)))


def detail_row(row: dict[str, Any]) -> tuple:
    """A detail (a dict keyed by DETAIL_COLUMNS) as the tuple the writer inserts, with its `bytes`.

    Raises ValueError or TypeError on a row the table cannot take: without a
    key or a cluster, with an unknown column, or bytes anywhere but in the
    outputs (nothing pickled goes to disk)."""
    unknown = row.keys() - _DETAIL_INDEX.keys()
    if unknown:
        raise ValueError(f"job_details has no column {', '.join(sorted(unknown))}")
    if type(row.get("key")) is not int or not isinstance(row.get("cluster"), str):
        raise ValueError("a job detail needs an int key and a str cluster")
    values: list[Any] = [None] * len(DETAIL_COLUMNS)
    size = DETAIL_OVERHEAD
    for name, value in row.items():
        if value is None:
            continue
        kind = type(value)
        if name == "resubmitted_as":  # a list of keys, or it as JSON text
            if isinstance(value, list | tuple) and all(type(k) is int for k in value):
                value = json.dumps(list(value))
            elif type(value) is not str:
                raise TypeError("resubmitted_as must be a list of keys (ints) or it as JSON text")
            size += _text_bytes(value)
        elif kind is bytes:
            if name not in _BYTES_COLUMNS:
                raise TypeError(f"job_details.{name} takes no bytes (only stdout and stderr do)")
            size += len(value)
        elif kind is str:
            if name in _INT_COLUMNS:
                raise TypeError(f"job_details.{name} is an int")
            size += _text_bytes(value)
        elif kind is int:
            if name not in _INT_COLUMNS:
                raise TypeError(f"job_details.{name} takes text, not an int")
        else:
            raise TypeError(f"job_details.{name} takes text, bytes or an int, not {kind.__name__}")
        values[_DETAIL_INDEX[name]] = value
    values[_BYTES_AT] = size  # what the row costs, whatever the caller said
    return tuple(values)


# What read_detail adds from the job's record, when the file still has it.
_RECORD_COLUMNS = tuple(name for name in FIELDS if name not in ("key", "cluster"))
READ_DETAIL = (
    f"SELECT {', '.join(f'd.{name}' for name in DETAIL_COLUMNS)}, {', '.join(f'j.{name}' for name in _RECORD_COLUMNS)} "
    "FROM job_details d LEFT JOIN jobs j ON j.key = d.key WHERE d.key = ? ORDER BY j.seq DESC LIMIT 1"
)


def _detail_dict(values: tuple) -> dict[str, Any]:
    detail = dict(zip(DETAIL_COLUMNS + _RECORD_COLUMNS, values, strict=True))
    links = detail.get("resubmitted_as")
    try:
        detail["resubmitted_as"] = [int(k) for k in json.loads(links)] if links else []
    except (ValueError, TypeError):  # not written by us: no links rather than no page
        detail["resubmitted_as"] = []
    return detail


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
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        max_detail_bytes: int = DEFAULT_DETAIL_BYTES,
        keep_alerts: int = DEFAULT_KEEP_ALERTS,
        keep_resource_rows: int = KEEP_RESOURCE_ROWS,
    ) -> None:
        if history_bytes < 1:
            raise ValueError("history_bytes must be positive (--history-bytes)")
        self.path = Path(path)
        self.keep_jobs = keep_jobs
        self.keep_minutes = keep_minutes
        self.keep_alerts = keep_alerts
        self.batch_rows = batch_rows
        self.batch_delay = batch_delay
        # Rows beyond the jobs and minutes the file keeps would be trimmed from it anyway.
        self.max_queue = max_queue if max_queue is not None else keep_jobs + keep_minutes
        self.busy_timeout = busy_timeout
        self.retry_delay = retry_delay
        self.check_every = check_every
        self.report_every = report_every
        self.history_bytes = history_bytes
        self.max_detail_bytes = max_detail_bytes
        self.keep_resource_rows = keep_resource_rows
        # resource minutes put (event loop), shed from a full queue (event loop), taken (writer)
        self._resources_in = self._resources_shed = self._resources_taken = 0
        # The WAL's share of the budget: a batch holds at most `batch_bytes` of details (and one more),
        # the WAL is checkpointed every `batch_bytes` and truncated to twice that; the file's pages are
        # kept under the budget less room for both (_keep_budget: a 256 MiB budget, 4 MiB batches and
        # details of 256 KiB at most keep pages under 239 MiB).
        self.batch_bytes = max(1, min(4 * MiB, history_bytes // 64))
        self._largest = 0  # the largest detail written (a batch holds one such row even if bigger)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Details waiting for the writer, oldest first: (row, bytes). The queue carries a token for each
        # (so that it wakes the writer and its row count bounds them too); the bytes bound the deque.
        self._details: collections.deque[tuple[tuple, int]] = collections.deque()
        self._details_in = 0  # bytes put in the deque (event loop)
        self._details_shed = 0  # bytes dropped from it by the event loop
        self._details_taken = 0  # bytes taken from it by the writer
        self._details_queue_dropped = 0  # details dropped by the event loop (bytes or queue full)
        self._details_writer_dropped = 0  # refused by the table, or lost at shutdown (writer)
        self.details_bytes = 0  # sum of `bytes` of the details in the file (writer)
        self.details_kept = 0  # details in the file (writer)
        self.details_trimmed = 0  # details deleted to keep the file under history_bytes (writer)
        self.file_bytes = 0  # the file's pages in use (writer)
        self._over_warned = False
        self._vacuum_checked = False  # the writer checks once per run whether the file needs its VACUUM
        self.read_errors = 0  # failed reads after start-up (event loop)
        self._read_failures = Failures(log)
        self._readers: asyncio.Semaphore | None = None
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
            earlier = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0  # not a new file
            db.executescript(SCHEMA)
            self._probe(db, earlier)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout)
        # A new file's, before the journal mode writes its first page: auto_vacuum only takes
        # effect on a file without tables (an older file's: see _vacuum_once).
        if db.execute("PRAGMA page_count").fetchone()[0] == 0:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _probe(self, db: sqlite3.Connection, earlier: bool = True) -> None:
        """Write one row and roll it back: SQLite opens a file it cannot write
        (read-only, immutable, on a read-only mount) read-only without a word,
        and reading the schema succeeds; only a write tells. A lock held by
        another process is not a reason to refuse: the writer retries."""
        try:
            if _migrate(db) and earlier:
                log.info("the history database %s: schema brought to version %d", self.path, SCHEMA_VERSION)
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
        """The last `limit` jobs, oldest first (history records: tuples in JOB_FIELDS order).

        A job written before keys existed (schema version 0) gets the key
        `-seq`: negative, so it never clashes with the keys of this run."""
        db = self._connect()
        try:
            have = _columns(db, "jobs")  # version 0 still, if the migration met a lock at start-up

            def column(name: str) -> str:
                if name == "key":
                    return "COALESCE(key, -seq)" if "key" in have else "-seq"
                return name if name in have else "NULL"

            rows = db.execute(
                f"SELECT {', '.join(map(column, JOB_FIELDS))} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            db.close()
        return [tuple(row) for row in reversed(rows)]

    def max_key(self) -> int:
        """The largest job key in the file (0 when it has none): this run's keys start above it."""
        db = self._connect()
        try:
            return _max_key(db)
        finally:
            db.close()

    def load_minutes(self, since: float) -> list[MinutePoint]:
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT minute, cluster, node, done, busy FROM minutes WHERE minute >= ? ORDER BY minute", (int(since),)
            ).fetchall()
        finally:
            db.close()
        return [MinutePoint(*row) for row in rows]

    def load_alerts(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` alerts (protocol.alert records), oldest first."""
        db = self._connect()
        try:
            rows = db.execute(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            db.close()
        return [row_alert(tuple(row)) for row in reversed(rows)]

    def load_resources(self, since: float) -> list[ResourceMinute]:
        """The nodes' resource minutes from `since` on (features/resources.py `load`)."""
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT minute, node, cpu, memory, disk, swap FROM node_resources WHERE minute >= ? ORDER BY minute",
                (int(since),),
            ).fetchall()
        finally:
            db.close()
        return [ResourceMinute(*row) for row in rows]

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

    def add_alert(self, alert: dict[str, Any]) -> None:
        """From the event loop: an alert as it fired, resolved or acted (replaces its earlier row)."""
        if self._queue.qsize() >= self.max_queue:
            self._drop_oldest()
        self._queue.put(("a", alert_row(alert)))

    def add_resources(self, points: list[ResourceMinute]) -> None:
        """From the event loop: a minute's resource rows of every node, one queue item; at most
        MAX_RESOURCE_MINUTES_WAITING such items wait (then the new one is dropped, its rows counted)."""
        if self._resources_in - self._resources_shed - self._resources_taken >= MAX_RESOURCE_MINUTES_WAITING:
            self._queue_dropped += len(points)
            return
        if self._queue.qsize() >= self.max_queue:
            self._drop_oldest()
        self._resources_in += 1
        self._queue.put(("r", tuple(tuple(p) for p in points)))

    def add_detail(self, row: dict[str, Any]) -> None:
        """From the event loop: a job's detail (keys: DETAIL_COLUMNS; `stdout`/`stderr` bytes, the rest
        text or ints; `resubmitted_as` a list of keys). O(its size) to measure it, never waits for the
        disk; beyond `max_detail_bytes` waiting, the oldest details are dropped (counted). A detail
        whose key is in the file already replaces it (a link added later)."""
        values = detail_row(row)
        size = values[_BYTES_AT]
        if self._queue.qsize() >= self.max_queue:
            self._drop_oldest()
        details = self._details
        while details and self._details_in - self._details_shed - self._details_taken + size > self.max_detail_bytes:
            try:
                _, shed = details.popleft()
            except IndexError:  # the writer took the rest meanwhile
                break
            self._details_shed += shed
            self._details_queue_dropped += 1
        self._details_in += size
        details.append((values, size))
        self._queue.put(("d", None))  # a token: the row itself waits in `_details`

    def _drop_oldest(self) -> None:
        try:
            item = self._queue.get_nowait()
        except queue.Empty:  # the writer took it meanwhile
            return
        if item is _STOP:
            self._queue.put(item)
        elif item[0] == "d":  # a detail's token: the oldest detail goes with it
            try:
                _, shed = self._details.popleft()
            except IndexError:  # shed by its bytes already, or taken
                return
            self._details_shed += shed
            self._details_queue_dropped += 1
        elif item[0] == "r":  # a minute of every node's resources
            self._resources_shed += 1
            self._queue_dropped += len(item[1])
        else:
            self._queue_dropped += 1

    @property
    def dropped(self) -> int:
        """Rows that will never reach the file (details included)."""
        return self._queue_dropped + self._writer_dropped + self.details_dropped

    @property
    def details_dropped(self) -> int:
        """Details that will never reach the file (not those deleted later for the budget)."""
        return self._details_queue_dropped + self._details_writer_dropped

    @property
    def details_waiting(self) -> int:
        """Bytes of details waiting for the writer."""
        return self._details_in - self._details_shed - self._details_taken

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
            "bytes": self.file_bytes,
            "history_bytes": self.history_bytes,
            "details_bytes": self.details_bytes,
            "details_kept": self.details_kept,
            "details_dropped": self.details_dropped,
            "details_trimmed": self.details_trimmed,
            "details_waiting": self.details_waiting,
            "read_errors": self.read_errors,
        }

    # -- reading after start-up (the event loop awaits; a worker thread reads) --------------------

    async def read_detail(self, key: int) -> dict[str, Any] | None:
        """The detail of job `key` in the file (DETAIL_COLUMNS, `resubmitted_as` a list, and the
        fields of its record: id, node, outcome, ..., None where the file no longer has it), None if
        it has no detail or the file cannot be read (counted, logged once)."""
        if not -(2**63) <= key < 2**63:  # no such key in SQLite's integers
            return None
        return await self._read(self._read_detail, key, None)

    async def find(self, cluster: str, job_id: str, limit: int = FIND_LIMIT) -> list[int]:
        """The keys of the jobs of `cluster` in the file whose id is `job_id`, newest first (at most
        `limit`); [] if none or the file cannot be read (counted, logged once)."""
        return await self._read(self._find, (cluster, job_id, limit), [])

    async def _read(self, read: Any, args: Any, failed: Any) -> Any:
        if self._readers is None:
            self._readers = asyncio.Semaphore(2)  # made on the loop that reads
        async with self._readers:
            try:
                return await asyncio.to_thread(read, args)
            except (sqlite3.Error, OSError) as exc:
                self.read_errors += 1
                self._read_failures.failed(f"reading the history database {self.path}", exc)
                return failed

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection: in WAL mode it neither waits for the writer nor stops it."""
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout)

    def _read_detail(self, key: int) -> dict[str, Any] | None:
        db = self._reader()
        try:
            row = db.execute(READ_DETAIL, (key,)).fetchone()
        finally:
            db.close()
        return None if row is None else _detail_dict(row)

    def _find(self, args: tuple[str, str, int]) -> list[int]:
        cluster, job_id, limit = args
        db = self._reader()
        try:
            rows = db.execute(
                "SELECT COALESCE(key, -seq) FROM jobs WHERE cluster = ? AND id = ? ORDER BY seq DESC LIMIT ?",
                (cluster, job_id, limit),
            ).fetchall()
        finally:
            db.close()
        return [key for (key,) in rows]

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
        next_checkpoint = time.monotonic() + CHECKPOINT_EVERY
        try:
            while True:
                if not pending:
                    pending = self._take()
                stopping = self._stop.is_set()
                now = time.monotonic()
                if pending or db is None or now >= next_check:
                    db = self._check_file(db)
                    next_check = now + self.check_every
                    if db is not None and not self._vacuum_checked:  # the first open of this run
                        self._vacuum_once(db)
                        self._keep_budget(db)  # a budget lower than the last run's applies at once
                if pending:
                    if db is not None and self._try_write(db, pending):
                        since_trim += len(pending)
                        pending = []
                        self._keep_budget(db)
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
                if db is not None and time.monotonic() >= next_checkpoint:
                    self._checkpoint(db)
                    next_checkpoint = time.monotonic() + CHECKPOINT_EVERY
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
        `batch_delay` or `batch_rows` rows or `batch_bytes` of details, whichever
        comes first; once stopping, only what is queued."""
        batch: list[tuple[str, tuple]] = []
        try:
            item = self._queue.get(timeout=self.check_every)
        except queue.Empty:
            return batch
        detail_bytes = self._add(batch, item)
        deadline = time.monotonic() + self.batch_delay
        while len(batch) < self.batch_rows and detail_bytes < self.batch_bytes:
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
            detail_bytes += self._add(batch, item)
        return batch

    def _add(self, batch: list[tuple[str, tuple]], item: Any) -> int:
        """Put a queue item in the batch (a detail's token: the oldest detail waiting); its detail's bytes."""
        if item is _STOP:
            return 0
        if item[0] != "d":
            if item[0] == "r":
                self._resources_taken += 1
            batch.append(item)
            return 0
        try:
            row, size = self._details.popleft()
        except IndexError:  # dropped for its bytes: its token stays behind
            return 0
        self._details_taken += size
        batch.append(("d", row))
        return size

    def _open(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            db.executescript(SCHEMA)
            _migrate(db)
            # The WAL is checkpointed every batch's worth and truncated to two after each
            # checkpoint: its share of --history-bytes (_keep_budget) stays small and bounded.
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA wal_autocheckpoint={max(16, self.batch_bytes // page_size)}")
            db.execute(f"PRAGMA journal_size_limit={2 * self.batch_bytes}")
            kept, size = db.execute("SELECT COUNT(*), TOTAL(bytes) FROM job_details").fetchone()
            self._measure(db)
        except BaseException:
            db.close()
            raise
        self.details_kept, self.details_bytes = kept, int(size)
        self._file = _identity(self.path)
        self._leftovers = {suffix: _identity(f"{self.path}{suffix}") for suffix in ("-wal", "-shm")}
        return db

    def _vacuum_once(self, db: sqlite3.Connection) -> None:
        """A file made before auto_vacuum (schema version 0) gives no space back
        until one VACUUM rewrites it: done once, here, at the writer's first
        start (rows wait in the queue meanwhile; the loop never waits)."""
        self._vacuum_checked = True
        try:
            if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # INCREMENTAL already
                return
            began = time.monotonic()
            size = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("VACUUM")
            self._checkpoint(db)
        except sqlite3.Error as exc:
            self.errors += 1
            log.warning(
                "the history database %s could not be vacuumed (%s): it gives no space back to the disk "
                "(--history-bytes counts only the pages in use); tried again at the next start",
                self.path,
                _one_line(exc),
            )
            return
        log.warning(
            "the history database %s (%.1f MiB, made by an earlier dispymon) was vacuumed once, to give "
            "deleted rows' space back from now on: %.1f s",
            self.path,
            size / MiB,
            time.monotonic() - began,
        )

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        """Copy the WAL into the file and truncate it (readers still reading keep what they need)."""
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)

    def _measure(self, db: sqlite3.Connection) -> int:
        """Bytes of the file's pages in use (free pages are given back or reused)."""
        page_count, free, page_size = (
            db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size")
        )
        self.file_bytes = page_count * page_size
        return int((page_count - free) * page_size)

    def _give_back(self, db: sqlite3.Connection) -> None:
        """Free pages back to the disk, a batch's worth per transaction: moving pages fills the WAL,
        which is checkpointed between them, so it stays within its share."""
        step = max(16, self.batch_bytes // db.execute("PRAGMA page_size").fetchone()[0])
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        while free:
            db.executescript(f"PRAGMA incremental_vacuum({step});")  # a script: every step of it runs
            left = db.execute("PRAGMA freelist_count").fetchone()[0]
            if left >= free:  # not an auto_vacuum file (its VACUUM failed): free pages are reused instead
                break
            free = left

    def _keep_budget(self, db: sqlite3.Connection) -> None:
        """Over `history_bytes` (less the WAL's share and a batch), delete the oldest details and give
        their pages back, a few at a time, until under; the job records themselves are trimmed by
        count (`keep_jobs`): if they alone pass the budget, say so once."""
        # On disk: the pages (at most the target plus a batch, before this trims them) and the WAL (its
        # checkpoint threshold, a transaction, what a checkpoint left), a batch being `batch_bytes` of
        # details plus at most one more (the largest); and the jobs rows' and indexes' pages. Measured
        # with details of 1 KiB to 1 MiB (test_persist.py): the WAL reaches about 1.6 batches.
        big, batch = self._largest, self.batch_bytes
        target = self.history_bytes - (4 * batch + 3 * big)
        try:
            used = self._measure(db)
            if used <= target:
                return
            while used > target:
                rows = db.execute("SELECT key, bytes FROM job_details ORDER BY key LIMIT ?", (TRIM_ROWS,)).fetchall()
                if not rows:
                    if not self._over_warned:
                        self._over_warned = True
                        log.warning(
                            "the history database %s: its job records alone take %.1f MiB, over --history-bytes "
                            "(%.1f MiB less %.1f MiB for the WAL): no job details are kept on disk; give it "
                            "more bytes or keep fewer jobs (--history-size)",
                            self.path,
                            used / MiB,
                            self.history_bytes / MiB,
                            (self.history_bytes - target) / MiB,
                        )
                    break
                freed = count = 0
                for _, size in rows:  # the oldest, enough to be under (pages hold a bit more than `bytes`)
                    freed += size
                    count += 1
                    if freed >= used - target:
                        break
                with db:
                    db.execute("DELETE FROM job_details WHERE key <= ?", (rows[count - 1][0],))
                self.details_bytes -= freed
                self.details_kept -= count
                self.details_trimmed += count
                self._give_back(db)
                used = self._measure(db)
            self._checkpoint(db)  # the file itself shrinks now, not at the next checkpoint
            self._measure(db)
        except sqlite3.Error as exc:
            self._failed(exc)

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
            details = sum(1 for kind, _ in batch if kind == "d")
            self._details_writer_dropped += details
            self._writer_dropped += len(batch) - details
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
        width = len(JOB_FIELDS)
        jobs = [
            row if len(row) == width and type(row[1]) is str else _plain_record(row, width)
            for kind, row in batch
            if kind == "j"
        ]
        minutes = [row for kind, row in batch if kind == "m"]
        details = [row for kind, row in batch if kind == "d"]
        alerts = [row for kind, row in batch if kind == "a"]
        resources = [point for kind, points in batch if kind == "r" for point in points]
        replaced = (0, 0)
        with db:  # one transaction
            if alerts:
                db.executemany(UPSERT_ALERT, alerts)
            if jobs:
                db.executemany(INSERT_JOB, jobs)
            if minutes:
                db.executemany(UPSERT_MINUTE, minutes)
            if resources:
                db.executemany(UPSERT_RESOURCES, resources)
            if details:
                keys = [row[0] for row in details]
                replaced = db.execute(
                    f"SELECT COUNT(*), TOTAL(bytes) FROM job_details WHERE key IN ({', '.join('?' * len(keys))})", keys
                ).fetchone()
                db.executemany(INSERT_DETAIL, details)
        if details:
            added = sum(row[_BYTES_AT] for row in details)
            self.details_bytes += added - int(replaced[1])
            self.details_kept += len({row[0] for row in details}) - replaced[0]
            self._largest = max(self._largest, max(row[_BYTES_AT] for row in details))
        self.rows_written += len(batch)
        return len(batch)

    def _trim(self, db: sqlite3.Connection) -> None:
        gone = (0, 0.0)  # details deleted: count, bytes
        try:
            with db:
                db.execute("DELETE FROM jobs WHERE seq <= (SELECT MAX(seq) FROM jobs) - ?", (self.keep_jobs,))
                db.execute(
                    "DELETE FROM minutes WHERE minute < (SELECT MAX(minute) FROM minutes) - ?",
                    (self.keep_minutes * 60,),
                )
                db.execute("DELETE FROM alerts WHERE id <= (SELECT MAX(id) FROM alerts) - ?", (self.keep_alerts,))
                db.execute(
                    "DELETE FROM node_resources WHERE minute < (SELECT MAX(minute) FROM node_resources) - ?",
                    (self.keep_minutes * 60,),
                )
                db.execute(  # beyond its rows the oldest minutes go (a minute's rows together)
                    "DELETE FROM node_resources WHERE minute <= (SELECT minute FROM node_resources"
                    " ORDER BY minute DESC LIMIT 1 OFFSET ?)",
                    (self.keep_resource_rows,),
                )
                # The details of jobs whose records went: keys older than every record kept.
                # (A key is given when a job is made, so a long job's record may come after
                # newer keys': only keys below the oldest kept one are sure to have gone.)
                oldest = db.execute("SELECT MIN(key) FROM jobs WHERE key > 0").fetchone()[0]
                if oldest is not None:
                    gone = db.execute(
                        "SELECT COUNT(*), TOTAL(bytes) FROM job_details WHERE key < ?", (oldest,)
                    ).fetchone()
                    if gone[0]:
                        db.execute("DELETE FROM job_details WHERE key < ?", (oldest,))
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        self.details_kept -= gone[0]
        self.details_bytes -= int(gone[1])

    def _give_up(self, pending: list[tuple[str, tuple]]) -> None:
        """Stopping while writes fail: what is left is lost; count it and say so."""
        lost = len(pending)
        details = sum(1 for kind, _ in pending if kind == "d")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP and item[0] != "d":
                lost += 1
        while True:
            try:
                _, size = self._details.popleft()
            except IndexError:
                break
            self._details_taken += size
            details += 1
            lost += 1
        self._details_writer_dropped += details
        self._writer_dropped += lost - details
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
