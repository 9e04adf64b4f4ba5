"""The history database under faults, with real files and a real second process:
a file that cannot be written, a file deleted or replaced under the server,
a lock held by another process (and what /metrics and the History page's
`history_summary` say about it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from conftest import wait_until
from dispymon.features.persist import SCHEMA, Store
from test_persist import record

LOGGER = "dispymon.features.persist"


def jobs_in(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return [uid for (uid,) in db.execute("SELECT uid FROM jobs ORDER BY seq")]


@pytest.fixture
def unwritable(tmp_path) -> Iterator[Path]:
    """A history database of an earlier run, in a writable folder, that this process cannot write.

    Root writes through mode bits (chmod 0444 stops nobody here), so as root
    the file is made immutable (`chattr +i`, which root's writes respect);
    for anyone else, mode 0444. The fixture checks that a plain sqlite3
    INSERT really fails before handing the file over."""
    path = tmp_path / "history.db"
    earlier = Store(path)  # as an earlier run left it (in WAL mode: a read-only file can stay so)
    earlier.start()
    earlier.add_job(record(1))
    earlier.close()
    root = os.geteuid() == 0
    if root:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {made.stderr.strip()}")
    else:
        path.chmod(0o444)
    try:
        with contextlib.closing(sqlite3.connect(path)) as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("INSERT INTO jobs (uid) VALUES (2)")
        yield path
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(path)], check=True)


HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@contextlib.contextmanager
def lock_held(path: Path) -> Iterator[None]:
    """Another process holds `BEGIN EXCLUSIVE` on `path` until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# -- a file that cannot be written --------------------------------------------------------


def test_a_file_that_cannot_be_written_is_refused_at_start(unwritable):
    with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
        Store(unwritable)
    assert jobs_in(unwritable) == [1]  # the probe left nothing behind


@pytest.mark.cluster
def test_serve_with_a_history_db_that_cannot_be_written_is_a_one_line_error(tmp_path, unwritable):
    from dispymon.adapters.localnodes import free_port_base
    from test_cli import assert_one_line_error, run_serve

    module = tmp_path / "app.py"
    module.write_text(textwrap.dedent(f"""
        import dispy

        def compute(n):
            return n

        cluster = dispy.JobCluster(compute, nodes=["127.0.0.250"], host="127.0.0.1",
                                   dispy_port={free_port_base(["127.0.0.1"])}, loglevel=dispy.logger.WARNING)
    """))
    proc = run_serve(module, "--history-db", str(unwritable))
    assert_one_line_error(proc, 2, r"cannot use the history database .*history\.db: attempt to write a readonly database$")


def test_the_drop_in_with_a_history_db_that_cannot_be_written_raises(unwritable, static_dir):
    from dispymon.entry.httpd import THREAD_NAME, DispyHTTPServer
    import threading

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        DispyHTTPServer(None, host="127.0.0.1", port=0, DocumentRoot=static_dir, history_db=unwritable)
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


# -- a file deleted or replaced under the writer --------------------------------------------


def test_a_file_deleted_under_the_writer_is_made_again_at_its_path(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    store = Store(path, batch_delay=0.05)
    store.start()
    try:
        for uid in range(10):
            store.add_job(record(uid))
        wait_until(lambda: store.rows_written == 10, timeout=30, what="the first rows written")
        os.remove(path)  # as `rm` does: the -wal and -shm stay
        for uid in range(10, 20):
            store.add_job(record(uid))
        wait_until(lambda: store.rows_written == 20, timeout=30, what="the rows after the deletion written")
    finally:
        store.close()
    assert jobs_in(path) == list(range(10, 20))  # in a file at the path, not in the deleted one
    assert store.reopened == 1 and store.errors == 0 and store.healthy
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 1 and "was deleted while dispymon had it open" in said[0], said


def test_a_file_replaced_under_the_writer_is_written_without_the_old_files_wal(tmp_path, caplog):
    """`mv other.db history.db`: the writer goes on in the new file, whose own
    rows stay (SQLite would replay the old file's WAL left at the path into it)."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO jobs (uid, id) VALUES (500, 'restored')")
        db.commit()
    store = Store(path, batch_delay=0.05)
    store.start()
    try:
        for uid in range(10):
            store.add_job(record(uid))
        wait_until(lambda: store.rows_written == 10, timeout=30, what="the first rows written")
        os.replace(other, path)
        for uid in range(10, 20):
            store.add_job(record(uid))
        wait_until(lambda: store.rows_written == 20, timeout=30, what="the rows after the replacement written")
    finally:
        store.close()
    assert jobs_in(path) == [500, *range(10, 20)]
    assert store.reopened == 1 and store.errors == 0
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 1 and "was replaced while dispymon had it open" in said[0], said


# -- a lock held by another process ------------------------------------------------------------


def test_a_lock_held_by_another_process_keeps_the_queue_bounded_and_writing_resumes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    fed = 3000
    store = Store(path, keep_jobs=100, keep_minutes=100)  # the file keeps 100 jobs: at most 200 rows wait
    store.start()
    try:
        with lock_held(path):
            for uid in range(fed):
                store.add_job(record(uid))
            assert store._queue.qsize() <= 200
            wait_until(lambda: store.errors >= 2, timeout=60, what="two failed attempts")  # it retries
            assert store._queue.qsize() <= 200 and not store.healthy and "locked" in store.last_error
            assert store.dropped >= fed - 200 - store.batch_rows  # beyond the queue and the batch in hand
            during = [r for r in caplog.records if r.name == LOGGER]
            # one line when it began (the summary comes a minute later), no traceback
            assert len(during) == 1 and "cannot write the history database" in during[0].getMessage(), during
            assert all(r.exc_info is None for r in during)
        wait_until(lambda: store.healthy and store._queue.empty(), timeout=60, what="writing resumed")
    finally:
        store.close()
    assert store.rows_written + store.dropped == fed  # every row written or counted as dropped
    assert jobs_in(path) == list(range(fed - 100, fed))  # the oldest dropped: the file keeps the newest 100
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 2 and "is written again" in said[1], said


def test_a_long_fault_is_summed_up_once_a_period_with_counts(tmp_path, caplog):
    """The summary's period is a parameter (60 s in the server); here 1 s, so
    a fault of a few seconds gives a line a second, not one per attempt or row."""
    import re
    import time

    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    store = Store(path, keep_jobs=10, keep_minutes=10, busy_timeout=0.05, retry_delay=0.05, report_every=1.0)
    store.start()
    try:
        began = time.monotonic()
        with lock_held(path):
            for uid in range(100):
                store.add_job(record(uid))

            def summaries() -> list[str]:
                return [r.getMessage() for r in caplog.records if r.name == LOGGER and "since the last report" in r.getMessage()]

            wait_until(lambda: len(summaries()) >= 2 and store.errors >= 20, timeout=60, what="two summaries")
        wait_until(lambda: store.healthy, timeout=60, what="writing resumed")
        lasted = time.monotonic() - began
    finally:
        store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    counted = [tuple(map(int, re.search(r"(\d+) failed attempts and (\d+) rows dropped", m).groups())) for m in summaries()]
    assert all(failed >= 1 for failed, _ in counted)
    assert sum(dropped for _, dropped in counted) <= store.dropped and store.dropped >= 100 - 20 - store.batch_rows
    # the first line, a summary at most every second, the line when it resumed
    assert len(lines) <= 2 + lasted + 1, lines
    assert len(lines) < store.errors


# -- what /metrics and the History page are told ------------------------------------------------


async def test_a_fault_shows_in_metrics_and_in_history_summary_and_clears(aiohttp_client, static_dir, tmp_path):
    from dispymon.runtime.hub import Hub
    from dispymon.transport.server import ServerConfig, create_app
    from conftest import WSClient
    from test_api import feed_cluster
    from test_metrics import parse

    path = tmp_path / "history.db"
    hub = Hub(asyncio.get_running_loop())
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir, history_db=path)))
    ws = WSClient(await client.ws_connect("/ws"))
    await ws.recv()  # hello
    await ws.recv()  # snapshot

    async def metrics() -> dict[str, float]:
        families = parse(await (await client.get("/metrics")).text())
        return {name: value for family in families.values() for (name, _), value in family["samples"].items()
                if name.startswith("dispymon_history_db_")}  # fmt: skip

    async def summary_store() -> dict:
        await ws.send({"type": "command", "id": 1, "name": "history_summary", "args": {}})
        while (message := await ws.recv())["type"] != "result":
            pass
        assert message["ok"]
        rest = await (await client.get("/api/history/summary")).json()
        assert rest["store"] == message["value"]["store"]
        return rest["store"]

    async def until(predicate, what: str) -> None:
        for _ in range(600):  # polls a condition, at most 60 s
            if await predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    m = await metrics()
    assert 0 <= m.pop("dispymon_history_db_bytes") <= 256 * 2**20  # the file's pages (--history-bytes' default)
    assert m == {"dispymon_history_db_healthy": 1, "dispymon_history_db_rows_written_total": 0,
                 "dispymon_history_db_errors_total": 0, "dispymon_history_db_dropped_total": 0,
                 "dispymon_history_db_reopened_total": 0, "dispymon_history_db_queued": 0,
                 "dispymon_history_db_details_kept": 0, "dispymon_history_db_details_dropped_total": 0}  # fmt: skip
    assert await summary_store() == {"healthy": True, "errors": 0, "dropped": 0, "reopened": 0, "last_error": None}
    with lock_held(path):
        await feed_cluster(hub)  # 4 jobs end: 4 rows for the file
        async def failed() -> bool:
            return (await metrics())["dispymon_history_db_errors_total"] >= 1

        await until(failed, "a failed write in /metrics")
        m = await metrics()
        assert m["dispymon_history_db_healthy"] == 0 and m["dispymon_history_db_rows_written_total"] == 0
        store = await summary_store()
        assert store["healthy"] is False and store["errors"] >= 1 and store["last_error"] == "database is locked"
    async def written() -> bool:
        return (await metrics())["dispymon_history_db_rows_written_total"] >= 4

    await until(written, "the rows written once the lock is gone")
    m = await metrics()
    assert m["dispymon_history_db_healthy"] == 1 and m["dispymon_history_db_dropped_total"] == 0
    store = await summary_store()
    assert store["healthy"] is True and store["last_error"] is None and store["errors"] >= 1
    assert sorted(jobs_in(path)) == [1, 2, 3, 4]  # the jobs that ended, per the hub's own history
    assert {j["uid"] for j in (await (await client.get("/api/history")).json())["jobs"]} == {1, 2, 3, 4}


def test_a_lock_held_at_start_does_not_stop_it_and_the_rows_follow(tmp_path, caplog):
    """Locked is not unwritable: the start goes on (with a warning) and the writer waits for the lock."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    Store(path)  # the file of an earlier run
    with lock_held(path):
        store = Store(path, busy_timeout=0.2)
        assert not store.healthy and store.last_error == "database is locked"
        said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
        assert len(said) == 1 and "locked by another process" in said[0] and "starting anyway" in said[0]
        store.start()
        for uid in range(5):
            store.add_job(record(uid))
        wait_until(lambda: store.errors >= 1, timeout=60, what="a failed attempt")
    try:
        wait_until(lambda: store.healthy and store.rows_written == 5, timeout=60, what="the rows written")
    finally:
        store.close()
    assert jobs_in(path) == list(range(5))


def test_a_lock_taken_again_and_again_gives_a_few_lines_not_a_pair_each_time(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    store = Store(path, busy_timeout=0.1, retry_delay=0.05)  # the server's summary period: 60 s
    store.start()
    try:
        for round in range(3):
            with lock_held(path):
                store.add_job(record(round))
                wait_until(lambda: not store.healthy, timeout=60, what=f"fault {round}")
            wait_until(lambda: store.healthy and store.rows_written == round + 1, timeout=60, what=f"written {round}")
        errors = store.errors
        lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
        # the first fault's beginning and end; the next two wait for the summary
        assert len(lines) == 2 and "cannot write" in lines[0] and "is written again" in lines[1], lines
    finally:
        store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 3, lines  # the summary, here at the writer's end
    assert "rows dropped since the last report" in lines[2] and "written again since" in lines[2]
    import re

    counted = int(re.search(r"(\d+) failed attempts and", lines[2]).group(1))
    first = int(re.search(r"\((\d+) failed attempts,", lines[1]).group(1))
    assert 2 <= counted == errors - first  # the second and third faults' attempts, counted


# -- issue 18: a full or read-only disk under job details, reads that fail -----------------------

FULL_DISK = """
import json, logging, os, subprocess, sys, time
sys.path.insert(0, sys.argv[2])
from dispymon.features.persist import Store
from test_persist import detail, record

where = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", where], check=True)
lines = []
handler = logging.Handler()
handler.emit = lambda r: lines.append(r.getMessage())
logging.getLogger("dispymon.features.persist").addHandler(handler)
logging.getLogger("dispymon.features.persist").setLevel(logging.INFO)

def until(predicate, what):
    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)

path = os.path.join(where, "history.db")
store = Store(path, batch_delay=0.01, retry_delay=0.05, keep_jobs=1000)
store.start()
store.add_job(record(0, key=1000))
until(lambda: store.rows_written == 1, "the first row")
with open(os.path.join(where, "filler"), "wb") as f:  # the rest of the disk
    try:
        while True:
            f.write(b"\\0" * 65536)
            f.flush()
    except OSError as exc:
        assert exc.errno == 28, exc
raised = None
try:
    for key in range(1, 101):
        store.add_job(record(key, key=key))
        store.add_detail(detail(key, size=20000))
except Exception as exc:
    raised = repr(exc)
until(lambda: store.errors >= 3, "three failed attempts")
during = store.status()
os.remove(os.path.join(where, "filler"))
until(lambda: store.healthy and store._queue.empty(), "written again")
store.close()
import sqlite3
with sqlite3.connect(path) as db:
    jobs, details = (db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("jobs", "job_details"))
print(json.dumps({"raised": raised, "during": during, "after": store.status(), "lines": lines,
                  "jobs": jobs, "details": details}))
"""


def test_a_full_disk_is_counted_not_raised_and_writing_resumes_when_space_comes_back(tmp_path):
    """A real full file system: a 4 MiB tmpfs, mounted in a mount namespace of the child's own."""
    import json

    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where = tmp_path / "disk"
    where.mkdir()
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", FULL_DISK,
                           str(where), str(Path(__file__).parent)], capture_output=True, text=True, timeout=300)  # fmt: skip
    if proc.returncode != 0 and "mount" in proc.stderr and "permission" in proc.stderr.lower():
        pytest.skip(f"cannot mount here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["raised"] is None  # add_job/add_detail never raise for the disk
    during = out["during"]
    assert not during["healthy"] and during["errors"] >= 3 and "full" in during["last_error"]
    assert out["after"]["healthy"] and out["after"]["last_error"] is None
    # every row written, none lost: the writer kept the batch and retried
    assert out["jobs"] == 101 and out["details"] == 100 and out["after"]["dropped"] == 0
    assert out["after"]["details_kept"] == 100
    # one line when it began, one when it ended: not one per attempt
    assert len(out["lines"]) == 2 and "cannot write" in out["lines"][0] and "is written again" in out["lines"][1]


def test_a_file_made_read_only_under_the_writer_is_counted_not_raised_and_reads_go_on(tmp_path, caplog):
    if os.geteuid() != 0:
        pytest.skip("an immutable file (chattr +i) needs root: root writes through mode bits")
    caplog.set_level(logging.INFO, logger=LOGGER)
    from test_persist import detail

    path = tmp_path / "history.db"
    store = Store(path, batch_delay=0.01, retry_delay=0.05)
    store.start()
    files = [str(path), f"{path}-wal"]
    try:
        store.add_job(record(1, key=1))
        store.add_detail(detail(1))
        wait_until(lambda: store.rows_written == 2, timeout=30, what="the first rows")
        made = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {made.stderr.strip()}")
        try:
            for key in range(2, 12):
                store.add_job(record(key, key=key))
                store.add_detail(detail(key))
            wait_until(lambda: store.errors >= 3, timeout=60, what="failed attempts")
            assert not store.healthy and store.status()["errors"] >= 3
            read = asyncio.run(store.read_detail(1))  # the file is still read
            assert read is not None and read["stdout"] == detail(1)["stdout"]
        finally:
            subprocess.run(["chattr", "-i", *files], check=True)
        wait_until(lambda: store.healthy and store._queue.empty(), timeout=60, what="written again")
    finally:
        store.close()
    assert store.dropped == 0 and store.details_kept == 11
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM job_details").fetchone() == (11,)
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 2 and "cannot write" in said[0] and "is written again" in said[1], said


async def test_reads_that_fail_answer_nothing_and_are_counted_and_logged_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "history.db"
    store = Store(path)
    for name in (path, f"{path}-wal", f"{path}-shm"):  # the file gone (the writer not started)
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)
    assert [await store.read_detail(1) for _ in range(5)] == [None] * 5
    assert await store.find("c", "job-1") == []
    assert store.read_errors == 6 == store.status()["read_errors"]
    said = [r for r in caplog.records if r.name == LOGGER]
    assert len(said) == 1 and "reading the history database" in said[0].getMessage(), [r.getMessage() for r in said]
    assert not path.exists()  # a read-only connection made nothing


def test_a_file_of_before_keys_that_cannot_be_written_is_refused_at_start_and_left_as_it_was(tmp_path):
    from test_persist import make_v0

    path = tmp_path / "history.db"
    make_v0(path, 3)
    root = os.geteuid() == 0
    if root:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {made.stderr.strip()}")
    else:
        path.chmod(0o444)
    try:
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            Store(path)  # its migration is its first write
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
        assert "key" not in {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
    assert jobs_in(path) == [0, 1, 2]


async def test_the_summary_is_asked_again_the_moment_the_file_is_written_again(tmp_path):
    """Answers are shared while the data is unchanged (Insight.answer: keyed by the events
    applied and the second): the database's state changes with neither, so it is part of
    the question. A Refresh within the second the writing resumed showed the fault still."""
    from types import SimpleNamespace

    from dispymon.commands.queries import history_summary_command
    from dispymon.features.history import History
    from dispymon.features.insight import Insight
    from dispymon.features.metrics import DurationHistogram
    from dispymon.features.series import Series
    from dispymon.runtime.hub import Hub
    from dispymon.transport.codec import decode, encode

    path = tmp_path / "history.db"
    store = Store(path, busy_timeout=0.05, retry_delay=0.05)
    store.start()
    insight = Insight(Hub(asyncio.get_running_loop()), History(10), Series(), DurationHistogram(), None, set(),  # type: ignore[arg-type]
                      store, clock=lambda: 1_000_000.0)  # fmt: skip
    cmds = SimpleNamespace(insight=insight)

    async def summary_store() -> dict:
        # the packed answer, read back as the frame a browser gets it in
        frame = encode({"type": "result", "value": await history_summary_command(cmds, None)})  # type: ignore[arg-type]
        return decode(frame)["value"]["store"]

    try:
        with lock_held(path):
            store.add_job(record(1))
            await asyncio.to_thread(wait_until, lambda: store.errors >= 1, 60, "a failed attempt")
            before = await summary_store()
        await asyncio.to_thread(wait_until, lambda: store.healthy and store.rows_written == 1, 60, "written again")
        after = await summary_store()
    finally:
        store.close()
    assert before["healthy"] is False and before["last_error"] == "database is locked"
    assert after["healthy"] is True and after["last_error"] is None and after["errors"] == store.errors
