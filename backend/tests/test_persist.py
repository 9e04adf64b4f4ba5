"""The SQLite store with a real file: written off the loop, read back at start-up, bounded."""

from __future__ import annotations

import sqlite3
import threading

from dispymon.features.history import as_dict
from dispymon.features.persist import Store
from dispymon.features.series import MinutePoint


def record(uid: int, outcome: str = "finished", end: float = 100.0) -> tuple:
    """A history record (history.FIELDS order)."""
    return (uid, f"job-{uid}", "c", "127.0.0.2", outcome, "ValueError" if outcome == "failed" else None,
            "boom" if outcome == "failed" else None, end - 1, end, 1.0)  # fmt: skip


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
