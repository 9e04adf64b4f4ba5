"""The SQLite store with a real file: written off the loop, read back at start-up, bounded."""

from __future__ import annotations

import sqlite3
import threading

from dispymon.features.history import as_dict
from dispymon.features.persist import Store
from dispymon.features.series import MinutePoint


def record(uid: int, outcome: str = "finished", end: float = 100.0, key: int | None = None, job_id: str | None = None,
           resubmit_of: int | None = None) -> tuple:  # fmt: skip
    """A history record (history.FIELDS order); its key is uid + 1 unless given."""
    return (uid, job_id or f"job-{uid}", "c", "127.0.0.2", outcome, "ValueError" if outcome == "failed" else None,
            "boom" if outcome == "failed" else None, end - 1, end, 1.0, uid + 1 if key is None else key, end - 2,
            resubmit_of)  # fmt: skip


def test_jobs_and_minutes_survive_a_restart(tmp_path):
    path = tmp_path / "history.db"
    store = Store(path, batch_delay=0.05)
    store.start()
    for uid in range(5):
        store.add_job(record(uid, "failed" if uid == 3 else "finished", end=100.0 + uid))
    store.add_minute(MinutePoint(600, "c", "", 5, 1.5))
    store.add_minute(MinutePoint(600, "c", "127.0.0.2", 5, 1.5))
    store.close()
    assert store.errors == 0 and store.rows_written == 7
    again = Store(path)
    jobs = again.load_jobs(3)
    assert [as_dict(j)["uid"] for j in jobs] == [2, 3, 4]  # the last three, oldest first
    assert jobs[1] == record(3, "failed", end=103.0)
    assert again.load_minutes(0) == [MinutePoint(600, "c", "", 5, 1.5), MinutePoint(600, "c", "127.0.0.2", 5, 1.5)]
    assert again.load_minutes(601) == []
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_minute_written_twice_adds_up(tmp_path):
    store = Store(tmp_path / "h.db", batch_delay=0.01)
    store.start()
    store.add_minute(MinutePoint(60, "c", "", 2, 1.0))
    store.close()
    store = Store(tmp_path / "h.db", batch_delay=0.01)
    store.start()
    store.add_minute(MinutePoint(60, "c", "", 3, 0.5))
    store.close()
    assert Store(tmp_path / "h.db").load_minutes(0) == [MinutePoint(60, "c", "", 5, 1.0)]


def test_writes_are_batched_in_the_writer_thread(tmp_path):
    store = Store(tmp_path / "h.db", batch_rows=100, batch_delay=5.0)
    writers = set()
    real_write = store._write

    def spy(db, batch):
        writers.add(threading.current_thread().name)
        spy.batches.append(len(batch))
        return real_write(db, batch)

    spy.batches = []
    store._write = spy
    store.start()
    for uid in range(250):  # 100 + 100 at once, the last 50 at close (long before the 5 s delay)
        store.add_job(record(uid))
    store.close()
    assert spy.batches == [100, 100, 50]
    assert writers == {"dispymon-history-db"}
    assert len(Store(tmp_path / "h.db").load_jobs(1000)) == 250


def test_the_file_keeps_the_last_jobs_only(tmp_path):
    store = Store(tmp_path / "h.db", keep_jobs=100, batch_delay=0.01)
    store.start()
    for uid in range(1500):
        store.add_job(record(uid))
    store.close()
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("SELECT COUNT(*), MIN(uid), MAX(uid) FROM jobs").fetchone() == (100, 1400, 1499)


def test_a_path_that_cannot_hold_a_database_fails_at_start(tmp_path):
    import pytest

    (tmp_path / "dir.db").mkdir()
    with pytest.raises(sqlite3.Error):
        Store(tmp_path / "dir.db")


# -- issue 18: schema version 1, job details, the on-disk budget, reading after start-up ----------

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402

import pytest  # noqa: E402

from conftest import wait_until  # noqa: E402
from dispymon.features.history import FIELDS  # noqa: E402
from dispymon.features.persist import DETAIL_COLUMNS, SCHEMA_VERSION  # noqa: E402

MiB = 2**20
LOGGER = "dispymon.features.persist"

# The schema and insert of the history database before issue 18 (git show i18:backend/dispymon/features/persist.py).
SCHEMA_V0 = """
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
FIELDS_V0 = FIELDS[: FIELDS.index("duration") + 1]
INSERT_V0 = f"INSERT INTO jobs ({', '.join(FIELDS_V0)}) VALUES ({', '.join('?' * len(FIELDS_V0))})"


def make_v0(path, count: int, filler: int = 0) -> list[tuple]:
    """A history database as dispymon made it before issue 18 (WAL, no auto_vacuum), with `count` jobs
    and `filler` bytes of rows deleted since (free pages that only a VACUUM gives back)."""
    rows = [record(uid)[: len(FIELDS_V0)] for uid in range(count)]
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA_V0)
        db.executemany(INSERT_V0, rows)
        if filler:
            db.executemany(INSERT_V0, [(0, "x" * 100_000, *r[2:]) for r in rows[: 1]] * (filler // 100_000))
            db.execute("DELETE FROM jobs WHERE uid = 0 AND length(id) > 1000")
        db.commit()
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (0,) and db.execute("PRAGMA user_version").fetchone() == (0,)
    return rows


def detail(key: int, size: int = 0, cluster: str = "c", **fields) -> dict:
    """A job detail as the jobs feature hands it over (job_details' columns; outputs as bytes)."""
    row = {"key": key, "cluster": cluster, "stdout": b"o" * size + f"{key}\n".encode(), "stdout_len": size + 10,
           "stdout_kind": "str", "stderr": "é".encode() * 3, "stderr_len": 3, "stderr_kind": "bytes",
           "traceback": f"Traceback (most recent call last):\nValueError: {key}", "traceback_len": 40,
           "result": repr(key), "result_len": len(repr(key)), "args": f"({key},)", "kwargs": "{}", "pinned": None,
           "resubmitted_as": None}  # fmt: skip
    row.update(fields)
    return row


def file_bytes(path) -> int:
    """What the database takes on disk: the file and its WAL."""
    total = 0
    for name in (str(path), f"{path}-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.path.getsize(name)
    return total


def test_a_file_of_before_keys_is_migrated_and_its_jobs_get_negative_keys(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    old = make_v0(path, 5, filler=4 * MiB)
    store = Store(path, batch_delay=0.01)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (1,)
        assert {"key", "created", "resubmit_of"} <= {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
        assert [r[1] for r in db.execute("PRAGMA table_info(job_details)")] == list(DETAIL_COLUMNS)
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"jobs_key", "jobs_cluster_id"} <= indexes
        seqs = [seq for (seq,) in db.execute("SELECT seq FROM jobs ORDER BY seq")]
    jobs = store.load_jobs(100)
    # the old rows as they were, their keys -seq (never a key of this run), the new fields None
    assert jobs == [(*row, -seq, None, None) for row, seq in zip(old, seqs, strict=True)]
    assert store.max_key() == 0  # keys of this run start at 1
    assert any("schema brought to version 1" in r.getMessage() for r in caplog.records)
    before = os.path.getsize(path)
    store.start()
    store.add_job(record(10, key=1))
    store.add_detail(detail(1))
    store.close()
    vacuumed = [r.getMessage() for r in caplog.records if "was vacuumed once" in r.getMessage()]
    assert len(vacuumed) == 1 and vacuumed[0].endswith(" s"), vacuumed  # said once, with how long it took
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # INCREMENTAL from now on
    assert os.path.getsize(path) < before - 3 * MiB  # the deleted rows' pages given back
    again = Store(path)
    assert again.max_key() == 1 and again.load_jobs(100)[-1] == record(10, key=1)
    assert [j[FIELDS.index("key")] for j in again.load_jobs(100)] == [*(-s for s in seqs), 1]
    caplog.clear()
    again.start()  # a file vacuumed already: not again
    again.close()
    assert not [r for r in caplog.records if "vacuum" in r.getMessage()]


def test_a_new_file_has_incremental_auto_vacuum_and_no_vacuum(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store(tmp_path / "h.db", batch_delay=0.01)
    assert store.max_key() == 0 and store.load_jobs(10) == []
    store.start()
    store.add_job(record(1))
    store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "h.db")) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    assert not [r.getMessage() for r in caplog.records if r.name == LOGGER]


async def test_details_round_trip_and_find_gives_keys_newest_first(tmp_path):
    path = tmp_path / "h.db"
    make_v0(path, 3)  # jobs of before keys: found by id too, under their negative keys
    store = Store(path, batch_delay=0.01)
    store.start()
    try:
        store.add_job(record(1, key=7, job_id="job-1", resubmit_of=5))  # the same id as an old row's
        big = bytes(range(256)) * 300  # a program's raw output: any bytes, kept as they are
        store.add_detail(detail(7, stdout=big, stdout_len=10**9, resubmitted_as=[9, 11]))
        store.add_detail(detail(8, cluster="other"))  # a detail whose record is not (yet) in the file
        await asyncio.to_thread(wait_until, lambda: store.rows_written == 3, 30, "written")
        got = await store.read_detail(7)
        want = detail(7, stdout=big, stdout_len=10**9, resubmitted_as=[9, 11])
        assert {k: got[k] for k in want} == want
        assert got["bytes"] == sum(len(v) if isinstance(v, bytes) else len(str(v).encode())
                                   for k, v in want.items() if isinstance(v, bytes | str)) + len("[9, 11]") + 64 - len("{}") + 2  # fmt: skip
        # with its record's fields
        assert (got["id"], got["outcome"], got["node"], got["resubmit_of"]) == ("job-1", "finished", "127.0.0.2", 5)
        other = await store.read_detail(8)
        assert other["cluster"] == "other" and other["id"] is None and other["stdout"].endswith(b"8\n")
        assert await store.read_detail(99) is None and await store.read_detail(2**70) is None
        assert await store.find("c", "job-1") == [7, -2]  # newest first; the old row's seq is 2
        assert await store.find("c", "job-0") == [-1] and await store.find("other", "job-1") == []
        # a link added later replaces the row, and the bytes kept follow
        kept = store.details_bytes
        store.add_detail(detail(7, stdout=big, resubmitted_as=[9, 11, 12]))
        await asyncio.to_thread(wait_until, lambda: store.rows_written == 4, 30, "rewritten")
        assert (await store.read_detail(7))["resubmitted_as"] == [9, 11, 12]
        assert store.details_kept == 2 and store.details_bytes == kept + len(", 12")
    finally:
        await asyncio.to_thread(store.close)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*), SUM(bytes) FROM job_details").fetchone() == (2, store.details_bytes)
    assert Store(path).max_key() == 8
    assert store.status()["details_bytes"] == store.details_bytes and store.status()["details_dropped"] == 0


def test_a_detail_the_table_cannot_take_is_refused_at_once(tmp_path):
    store = Store(tmp_path / "h.db")
    with pytest.raises(TypeError, match="args takes no bytes"):
        store.add_detail(detail(1, args=b"\x80\x05pickled"))  # nothing pickled reaches the disk
    with pytest.raises(ValueError, match="no column payload"):
        store.add_detail(detail(1, payload=b"..."))
    with pytest.raises(ValueError, match="int key"):
        store.add_detail(detail(None))
    with pytest.raises(TypeError, match="result takes text"):
        store.add_detail(detail(1, result=object()))
    assert store._queue.qsize() == 0 and store.details_waiting == 0


def test_details_waiting_are_bounded_by_bytes_the_oldest_dropped_and_counted(tmp_path):
    path = tmp_path / "h.db"
    store = Store(path, max_detail_bytes=1 * MiB, batch_delay=0.01)  # the writer not started: they wait
    size = 64 * 1024
    for key in range(1, 101):
        store.add_detail(detail(key, size=size))
        assert store.details_waiting <= 1 * MiB
    waiting = len(store._details)
    assert 10 <= waiting < 16 and store.details_dropped == 100 - waiting == store.status()["details_dropped"]
    assert store.dropped == store.details_dropped
    store.start()
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM job_details ORDER BY key")]
    assert keys == list(range(101 - waiting, 101))  # the newest, the oldest dropped
    assert store.details_waiting == 0 and store.details_kept == waiting


def test_a_full_queue_drops_the_oldest_details_counted_as_details(tmp_path):
    path = tmp_path / "h.db"
    store = Store(path, max_queue=10)
    for key in range(1, 31):
        store.add_detail(detail(key))
    store.add_job(record(1))
    assert store._queue.qsize() <= 10 and store.details_dropped == 21 and store.dropped == 21
    store.start()
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert [k for (k,) in db.execute("SELECT key FROM job_details")] == list(range(22, 31))
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (1,)
    assert store.rows_written + store.dropped == 31


@pytest.mark.parametrize("budget", [32 * MiB])
def test_the_file_stays_under_history_bytes_with_details_of_1_KiB_to_1_MiB(tmp_path, budget):
    """300 MiB of details into a 32 MiB budget: the file and its WAL, sampled all along, never pass it;
    the oldest details go, the newest stay, and the counts agree with the file."""
    import threading

    path = tmp_path / "h.db"
    store = Store(path, history_bytes=budget, batch_delay=0.01)
    store.start()
    rng = random.Random(18)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], file_bytes(path))
            done.wait(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    fed = key = 0
    try:
        while fed < 300 * MiB:
            key += 1
            size = int(1024 * 2 ** rng.uniform(0, 10))  # 1 KiB to 1 MiB, as many of each order
            store.add_job(record(key, key=key))
            store.add_detail(detail(key, size=size))
            fed += size
            if store.details_waiting > 4 * MiB:  # at the writer's pace, so that none is dropped
                wait_until(lambda: store.details_waiting <= 2 * MiB, 60, "the writer to catch up")
        store.close()
    finally:
        done.set()
        sampler.join()
    assert peak[0] <= budget, f"{peak[0] / MiB:.1f} MiB on disk, over {budget / MiB:.0f} MiB"
    assert store.errors == 0 and store.details_dropped == 0 and store.details_trimmed > 0
    assert file_bytes(path) <= budget
    with contextlib.closing(sqlite3.connect(path)) as db:
        count, total, oldest, newest = db.execute("SELECT COUNT(*), SUM(bytes), MIN(key), MAX(key) FROM job_details").fetchone()
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert (count, total) == (store.details_kept, store.details_bytes)
    assert newest == key and oldest == key - count + 1  # the oldest went first, none in between
    assert total > budget / 2  # the budget is used, not emptied at the first pass
    assert store.status()["bytes"] <= budget


async def test_reads_go_on_while_another_process_holds_the_write_lock_and_are_two_at_a_time(tmp_path):
    from test_persist_faults import lock_held

    path = tmp_path / "h.db"
    store = Store(path, batch_delay=0.01)
    store.start()
    try:
        for key in range(1, 21):
            store.add_job(record(key, key=key))
            store.add_detail(detail(key, size=1000))
        await asyncio.to_thread(wait_until, lambda: store.rows_written == 40, 30, "written")
        running = [0, 0]  # now, most at once
        real = store._read_detail

        def spy(key):
            running[0] += 1
            running[1] = max(running[1], running[0])
            try:
                import time

                time.sleep(0.05)  # holds a reader so that others queue behind the semaphore (not a sync)
                return real(key)
            finally:
                running[0] -= 1

        store._read_detail = spy
        with lock_held(path):  # a writer elsewhere: WAL readers are not stopped by it
            store.add_job(record(100, key=100))  # and our writer waits for it, the loop does not
            got = await asyncio.wait_for(asyncio.gather(*(store.read_detail(k) for k in range(1, 21))), 60)
            found = await asyncio.wait_for(store.find("c", "job-5"), 60)
        assert [g["key"] for g in got] == list(range(1, 21)) and found == [5]
        assert running[1] == 2
        await asyncio.to_thread(wait_until, lambda: store.rows_written == 41, 60, "the write after the lock")
        store._read_detail = real
        # and the writer goes on while readers read: another thread feeds it all along
        import threading

        stop = threading.Event()

        def produce() -> None:
            key = 1000
            while not stop.is_set():
                store.add_job(record(key, key=key))
                store.add_detail(detail(key, size=20_000))
                key += 1
                stop.wait(0.001)  # a steady stream, not a synchronisation

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            await asyncio.to_thread(wait_until, lambda: store.rows_written > 100, 60, "the stream written")
            written = store.rows_written
            for _ in range(10):
                got = await asyncio.gather(*(store.read_detail(k) for k in range(1, 21)))
                assert [g["stdout"] for g in got] == [detail(k, size=1000)["stdout"] for k in range(1, 21)]
            assert store.rows_written > written  # written meanwhile
        finally:
            stop.set()
            producer.join()
    finally:
        await asyncio.to_thread(store.close)
    assert store.read_errors == 0 and store.errors == 0


def test_job_records_alone_over_history_bytes_are_said_once_and_no_details_stay(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "h.db"
    store = Store(path, history_bytes=256 * 1024, keep_jobs=100_000, batch_delay=0.01)
    store.start()
    for key in range(1, 3001):  # about 0.5 MiB of job records
        store.add_job(record(key, key=key))
        if key % 100 == 0:
            store.add_detail(detail(key, size=1000))
    store.close()
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 1 and "job records alone take" in said[0] and "no job details are kept" in said[0], said
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (3000,)  # kept by count (keep_jobs)
        assert db.execute("SELECT COUNT(*) FROM job_details").fetchone() == (0,) == (store.details_kept,)
    assert store.details_trimmed == 30 and store.details_bytes == 0 and store.errors == 0


def test_stored_max_key_reads_a_file_without_making_one(tmp_path):
    from dispymon.features.persist import stored_max_key

    path = tmp_path / "h.db"
    assert stored_max_key(path) == 0 and not path.exists()
    make_v0(path, 3)
    assert stored_max_key(path) == 0  # keys of before keys are negative
    store = Store(path, batch_delay=0.01)
    store.start()
    store.add_job(record(1, key=40))
    store.add_detail(detail(41))  # a detail whose record is not written (yet): its key counts too
    store.close()
    assert stored_max_key(path) == 41 == Store(path).max_key()


def test_records_of_before_keys_and_ids_that_are_our_text_objects_are_written_as_plain_values(tmp_path):
    class Made:  # a text made off the loop (jobtext's kind of object): written as its text
        def __str__(self) -> str:
            return "made-id"

    path = tmp_path / "h.db"
    store = Store(path, batch_delay=0.01)
    store.start()
    store.add_job((1, Made(), *record(1)[2:]))
    store.add_job(record(2)[: len(FIELDS_V0)])  # ten fields: key, created, resubmit_of read None
    store.close()
    assert store.errors == 0 and store.dropped == 0
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT id, key, created FROM jobs ORDER BY seq").fetchall() == [("made-id", 2, 98.0),
                                                                                          ("job-2", None, None)]  # fmt: skip


def test_a_lower_history_bytes_applies_at_start_before_any_write(tmp_path):
    path = tmp_path / "h.db"
    store = Store(path, history_bytes=32 * MiB, batch_delay=0.01)
    store.start()
    for key in range(1, 101):
        store.add_job(record(key, key=key))
        store.add_detail(detail(key, size=200_000))  # 20 MiB of details
        if store.details_waiting > 4 * MiB:
            wait_until(lambda: store.details_waiting <= 2 * MiB, 60, "the writer to catch up")
    store.close()
    assert store.details_trimmed == 0 and file_bytes(path) > 16 * MiB
    again = Store(path, history_bytes=8 * MiB)
    again.start()  # nothing written in this run
    wait_until(lambda: again.details_trimmed > 0 and again._queue.empty(), 60, "the file trimmed")
    again.close()
    assert file_bytes(path) <= 8 * MiB
    with contextlib.closing(sqlite3.connect(path)) as db:
        newest = db.execute("SELECT MIN(key), MAX(key), COUNT(*) FROM job_details").fetchone()
    assert newest[1] == 100 and newest[0] == 100 - newest[2] + 1 and newest[2] == again.details_kept > 0
