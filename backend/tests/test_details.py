"""Job details and kept arguments: what an ended job leaves, within budgets (no sockets, no dispy)."""

from __future__ import annotations

import asyncio
import pickle
import sys

import pytest
from jobsworld import World

from dispymon.model import events as ev
from dispymon.model.argstore import ArgStore, payload_cost
from dispymon.model.details import ENTRY_OVERHEAD, Detail, JobDetails, detail_cost
from dispymon.model.events import JobEnd

TRACE = 'Traceback (most recent call last):\n  File "<string>", line 5, in compute\nValueError: boom\n'


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Point({self.x})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no")


@pytest.fixture
def world():
    w = World()
    w.attach()
    yield w
    w.close()


def test_an_ended_jobs_outputs_and_texts_move_into_its_detail_and_its_event_keeps_none(world):
    info = world.start(world.submit(1, args=(Point(1), 2), kwargs={"scale": Point(3)}))
    end = JobEnd(b"hello\n", 6, "wärn".encode(), 4, TRACE, len(TRACE), result=Point(7))
    event = world.end(info, ev.JOB_TERMINATED, end=end, exception=TRACE)
    world.settle()
    d = world.jobs.detail(world.state, "c", 1)
    assert d["state"] == "failed" and d["exception_type"] == "ValueError" and d["exception_message"] == "boom"
    assert (d["stdout"], d["stdout_len"], d["stdout_cut"]) == ("hello\n", 6, False)
    assert (d["stderr"], d["stderr_len"], d["stderr_cut"]) == ("wärn", 4, False)  # 4 characters, 5 bytes
    assert (d["traceback"], d["traceback_len"]) == (TRACE, len(TRACE))
    assert (d["result"], d["result_len"], d["result_cut"]) == ("Point(7)", 8, False)
    assert (d["args"], d["kwargs"]) == ("Point(1), 2", "scale=Point(3)")
    assert d["kept"] == "all" and d["resubmit"] == {"possible": True, "reason": None}
    assert (d["key"], d["id"], d["created"], d["start_time"], d["end_time"]) == (1, "job-1", 1000.0, 1001.0, 1002.0)
    # the event the history keeps holds nothing of the outputs or the result
    extra = event.job.extra
    assert (extra.stdout, extra.stderr, extra.traceback, extra.result) == (None, None, None, None)
    assert world.jobs.row(world.state, "c", 1) == {k: d[k] for k in world.jobs.row(world.state, "c", 1)}
    cluster, pinned, payload = world.jobs.payload(1)
    assert (cluster, pinned) == ("c", None) and pickle.loads(payload) == ((Point(1), 2), {"scale": Point(3)})


def test_a_result_whose_repr_raises_or_is_long_says_so(world):
    a = world.start(world.submit(1))
    b = world.start(world.submit(2))
    world.end(a, end=JobEnd(result=BadRepr()))
    long = "x" * 100_000
    world.end(b, end=JobEnd(result=[long]))
    world.settle()
    da = world.jobs.detail(world.state, "c", 1)
    assert da["result"] == "<unprintable BadRepr: BadRepr.__repr__ raised RuntimeError>"
    db = world.jobs.detail(world.state, "c", 2)
    assert db["result_len"] == 100_004 and db["result_cut"] and len(db["result"]) == 4096


def test_a_cut_output_says_so_with_its_full_length(world):
    info = world.start(world.submit(1))
    tail = b"y" * 65536
    world.end(info, end=JobEnd(stdout=tail, stdout_len=1_000_000_000))
    world.settle()
    d = world.jobs.detail(world.state, "c", 1)
    assert d["stdout_len"] == 1_000_000_000 and d["stdout_cut"] and len(d["stdout"]) == 65536


def test_args_are_not_shown_when_show_job_args_is_off(world):
    info = world.start(world.submit(1, args=("secret",)))
    world.end(info, end=JobEnd(stdout=b"x", stdout_len=1))
    world.settle()
    assert world.jobs.detail(world.state, "c", 1)["args"] == "secret"
    world.state.apply(ev.SettingChanged("show_job_args", False))
    d = world.jobs.detail(world.state, "c", 1)
    assert d["args"] is None and d["kwargs"] is None and d["stdout"] == "x"


def test_queued_and_running_jobs_have_details_that_cannot_be_resubmitted(world):
    q = world.submit(1, created=990.0, pinned="127.0.0.3", args=(5,))
    r = world.start(world.submit(2, created=995.0), at=1001.0)
    dq = world.jobs.detail(world.state, "c", 1)
    world.settle()
    dq = world.jobs.detail(world.state, "c", 1)
    assert (dq["state"], dq["created"], dq["start_time"], dq["pinned"], dq["args"]) == ("queued", 990.0, None, "127.0.0.3", "5")
    assert dq["resubmit"] == {"possible": False, "reason": "the job has not ended"}
    dr = world.jobs.detail(world.state, "c", 2)
    assert (dr["state"], dr["node"], dr["start_time"]) == ("running", "127.0.0.2", 1001.0)
    assert world.jobs.row(world.state, "c", 2)["state"] == "running"
    assert world.jobs.detail(world.state, "other", 2) is None and world.jobs.detail(world.state, "c", 99) is None
    assert q.key == 1 and r.key == 2


def test_a_job_with_nothing_beyond_its_record_costs_nothing(world):
    info = world.start(world.submit(1, args=()))
    world.end(info, end=JobEnd())
    world.settle()
    assert len(world.jobs.details) == 0 and world.jobs.details.used == 0
    d = world.jobs.detail(world.state, "c", 1)
    assert d["kept"] == "none" and d["state"] == "finished" and d["stdout"] is None


# -- budgets -----------------------------------------------------------------------


def entry(stdout: bytes = b"", cluster: str = "c") -> Detail:
    d = Detail(cluster, "finished")
    d.stdout, d.stdout_len = stdout, len(stdout)
    return d


def test_details_evict_the_oldest_first_and_count_bytes_exactly():
    budget = 3 * (ENTRY_OVERHEAD + sys.getsizeof(b"a" * 1000))
    details = JobDetails(budget)
    for key in range(1, 5):
        details.put(key, entry(b"a" * 1000))
        assert details.used == sum(detail_cost(d) for _, d in details.items()) <= budget
    assert [k for k, _ in details.items()] == [2, 3, 4] and details.evicted == 1 and details.was_evicted(1)


def test_an_entry_bigger_than_the_budget_keeps_the_tail_that_fits_and_says_so(world):
    small = World(outputs_budget=20_000)
    small.attach()
    try:
        info = small.start(small.submit(1, args=()))
        out = bytes(range(256)) * 256  # 65,536 bytes
        small.end(info, end=JobEnd(stdout=out, stdout_len=len(out)))
        small.settle()
        d = small.jobs.detail(small.state, "c", 1)
        kept = small.jobs.details.get(1)
        assert kept.trimmed and out.endswith(kept.stdout) and 0 < len(kept.stdout) < len(out)
        assert d["kept"] == "evicted" and d["stdout_cut"] and d["stdout_len"] == len(out)
        assert small.jobs.details.used == detail_cost(kept) <= 20_000
    finally:
        small.close()


def test_a_text_that_arrives_later_is_counted(world):
    info = world.start(world.submit(1, args=(Point(1),)))
    world.end(info, end=JobEnd(result=Point(2)))
    world.settle()
    d = world.jobs.details.get(1)
    assert d.result == "Point(2)" and d.args == "Point(1)"
    assert world.jobs.details.used == detail_cost(d)


# -- kept arguments --------------------------------------------------------------------


def test_argstore_refusals_and_eviction_with_reasons():
    store = ArgStore(16 * 1000)
    assert store.put(1, "c", None, b"x" * 1001) == "too_big"
    assert store.put(2, "c", "10.0.0.1", b"y" * 900) is None
    assert store.get(2) == ("c", "10.0.0.1", b"y" * 900)
    for key in range(3, 40):
        store.put(key, "c", None, b"z" * 900)
        assert store.used == sum(payload_cost(p) for _, (_, _, p) in store.items()) <= store.budget
    assert 2 not in store and store.reason(2) is None and store.evicted > 0  # no reason noted per key let go
    assert "stay within --resubmit-budget" in store.why_not(2)
    assert "more than 1,000 bytes" in store.why_not(1)
    assert store.why_not(39) == ""
    assert store.why_not(5, known=False) == "arguments are not kept across restarts"
    off = ArgStore(0)
    assert off.put(1, "c", None, b"a") == "off" and "--resubmit-budget 0" in off.why_not(1)


def test_the_arguments_of_a_job_not_kept_say_why():
    w = World(resubmit_budget=0)
    w.attach()
    try:
        w.end(w.start(w.submit(1)), end=JobEnd(stdout=b"x", stdout_len=1))
        w.settle()
        d = w.jobs.detail(w.state, "c", 1)
        assert d["resubmit"] == {"possible": False, "reason": "resubmission is off (--resubmit-budget 0): no arguments are kept"}
    finally:
        w.close()


def test_depends_unpicklable_and_unseen_jobs_say_why(world):
    world.end(world.start(world.submit(1, depends=True)))
    world.end(world.start(world.submit(2, args=(lambda: 1,))))
    # a job the dashboard never saw queued or running (attached mid-run): no origin in State.left
    from dispymon.model.events import JobInfo, StatusEvent

    unseen = JobInfo(99, "late", "127.0.0.2", 1.0, 2.0, (), {}, None, None, 3, 0.5)
    world.state.apply_status(StatusEvent("c", ev.JOB_FINISHED, None, unseen))
    world._batch([])
    world.settle()
    assert "dispy_job_depends" in world.jobs.why_not(1)
    assert world.jobs.why_not(2) == "its arguments cannot be pickled (a function among them), so they were not kept"
    assert "never saw the job queued or running" in world.jobs.why_not(3)
    assert world.jobs.payload(1) is None and world.jobs.payload(2) is None


def test_a_resubmission_links_both_jobs(world):
    world.end(world.start(world.submit(1, args=(4,))), ev.JOB_TERMINATED, exception=TRACE)
    world.settle()
    world.link("c", 1, 2)
    world.end(world.start(world.submit(2, args=(4,))), at=1500.0)
    world.settle()
    assert world.jobs.detail(world.state, "c", 1)["resubmitted_as"] == [2]
    assert world.jobs.detail(world.state, "c", 2)["resubmit_of"] == 1
    assert world.jobs.row(world.state, "c", 2)["resubmit_of"] == 1
    assert {r["key"]: r["resubmit_of"] for r in world.history.records()} == {1: None, 2: 1}


# -- the store (package D's interface) ---------------------------------------------------


class FakeStore:
    """Package D's Store as the jobs feature uses it: add_detail, read_detail, find."""

    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}
        self.ids: dict[tuple[str, str], list[int]] = {}

    def add_detail(self, row: dict) -> None:
        self.rows[row["key"]] = dict(row)

    async def read_detail(self, key: int) -> dict | None:
        return self.rows.get(key)

    async def find(self, cluster: str, job_id: str) -> list[int]:
        return self.ids.get((cluster, job_id), [])


def test_complete_details_go_to_the_store_and_are_read_back_when_let_go():
    store = FakeStore()
    w = World(store=store, outputs_budget=ENTRY_OVERHEAD * 6)
    w.attach()
    try:
        w.end(w.start(w.submit(1, args=(Point(1),))), end=JobEnd(stdout=b"out", stdout_len=3, result=Point(2)))
        w.settle()
        row = store.rows[1]
        assert (row["stdout"], row["result"], row["args"], row["cluster"]) == (b"out", "Point(2)", "Point(1)", "c")
        assert row["bytes"] == w.jobs.details.get(1).cost
        for key in range(2, 12):  # push job 1's detail out of memory
            w.end(w.start(w.submit(key, args=())), end=JobEnd(stdout=b"o", stdout_len=1))
        w.settle()
        assert 1 not in w.jobs.details
        assert w.jobs.detail(w.state, "c", 1)["kept"] == "evicted"
        d = asyncio.run(w.jobs.detail_stored(w.state, "c", 1))
        assert (d["stdout"], d["result"], d["kept"], d["state"]) == ("out", "Point(2)", "all", "finished")
        store.ids[("c", "job-1")] = [1, -4]
        assert asyncio.run(w.jobs.find_stored(w.state, "c", "job-1")) == [1, -4]
    finally:
        w.close()


def test_a_key_from_before_a_restart_is_not_resubmittable(world):
    world.jobs.first_key = 100
    assert world.jobs.why_not(7) == "arguments are not kept across restarts"


def test_a_job_without_arguments_is_kept_for_resubmission_at_no_detail_cost(world):
    world.end(world.start(world.submit(1, args=())))
    world.settle()
    assert len(world.jobs.details) == 0  # nothing to show beyond the record
    cluster, pinned, payload = world.jobs.payload(1)
    assert pickle.loads(payload) == ((), {}) and world.jobs.detail(world.state, "c", 1)["resubmit"]["possible"]


def test_a_detail_goes_to_the_store_once_when_its_texts_come_at_once():
    store = FakeStore()
    added = []
    store.add_detail = lambda row: added.append(row["key"])  # type: ignore[method-assign]
    w = World(store=store)
    w.attach()
    try:
        w.end(w.start(w.submit(1, args=(1, "plain"))), end=JobEnd(result=5))  # both texts on the fast path
        w.end(w.start(w.submit(2, args=(Point(1),))), end=JobEnd(result=Point(2)))  # both on the worker
        w.settle()
        assert sorted(added) == [1, 2]
    finally:
        w.close()


def test_plain_arguments_cost_no_detail_and_their_text_is_read_back_from_the_pickle(world):
    world.end(world.start(world.submit(1, args=(3, "abc"), kwargs={"k": [1, 2]})))
    world.settle()
    assert len(world.jobs.details) == 0 and len(world.jobs.args) == 1
    d = world.jobs.detail(world.state, "c", 1)
    assert (d["args"], d["kwargs"], d["kept"]) == ("3, abc", "k=[1, 2]", "none")
    world.state.apply(ev.SettingChanged("show_job_args", False))
    assert world.jobs.detail(world.state, "c", 1)["args"] is None


def test_a_pickle_of_anything_but_builtin_values_is_never_read_on_the_loop():
    from dispymon.runtime.guard import plain_args_text

    class Evil:
        def __reduce__(self):
            return (print, ("user code ran",))

    assert plain_args_text(pickle.dumps(((Evil(),), {}))) is None
    assert plain_args_text(pickle.dumps(((1, "a"), {"b": b"x"}))) == ("1, a", "b=b'x'")


def test_details_the_store_refuses_are_logged_once_then_counted(tmp_path, caplog):
    import logging

    from dispymon.features.persist import Store

    store = Store(tmp_path / "h.db")  # the real store (its writer is not needed: add_detail checks the row first)
    w = World(store=store)
    w.attach()
    try:
        with caplog.at_level(logging.WARNING, logger="dispymon.features.jobs"):
            for key in range(1, 51):
                # a length the table cannot take (not an int): the store refuses each of these details
                w.end(w.start(w.submit(key, args=())), end=JobEnd(stdout=b"out", stdout_len=3.5))
            w.settle()
            refused = [r for r in caplog.records if r.name == "dispymon.features.jobs"]
            assert len(w.jobs.details) == 50  # the details stay in memory all the same
            assert len(refused) == 1 and "could not hand a job's detail to the store" in refused[0].getMessage()
            assert refused[0].exc_info is not None and refused[0].exc_info[0] is TypeError
            assert w.jobs.failures.counts() == {"could not hand a job's detail to the store: TypeError": 50}
            # a minute later, the next drain logs how many came since: one line more
            later = w.jobs.failures.clock() + 61
            w.jobs.failures.clock = lambda: later
            w.end(w.start(w.submit(51, args=())))
            refused = [r for r in caplog.records if r.name == "dispymon.features.jobs"]
            assert len(refused) == 2 and "49 more time(s)" in refused[1].getMessage()
    finally:
        w.close()


def test_a_page_following_a_job_known_only_to_the_store_gets_the_stored_detail():
    # The job page reads `job` (detail_stored, which may read the store) and then follows the job
    # (job_source, which cannot wait for the disk): the followed detail must be the one read back.
    store = FakeStore()
    w = World(store=store, outputs_budget=ENTRY_OVERHEAD * 6)
    w.attach()
    try:
        w.end(w.start(w.submit(1, args=())), end=JobEnd(stdout=b"out", stdout_len=3, traceback=TRACE, traceback_len=len(TRACE)),
              status=ev.JOB_TERMINATED, exception=TRACE)  # fmt: skip
        for key in range(2, 12):  # push job 1's detail out of memory
            w.end(w.start(w.submit(key, args=())), end=JobEnd(stdout=b"o", stdout_len=1))
        w.settle()
        assert 1 not in w.jobs.details and 1 in store.rows
        stored = asyncio.run(w.jobs.detail_stored(w.state, "c", 1))
        assert (stored["stdout"], stored["traceback"], stored["kept"]) == ("out", TRACE, "all")
        version, followed = w.jobs.job_source(w.state, "c", 1)
        assert followed == stored
        assert w.jobs.job_source(w.state, "other", 1) == ((None,), None)  # another cluster's key: not this job
    finally:
        w.close()


# -- the drain's fast path (issue 21, target 12) -----------------------------------------


def test_a_plain_result_and_plain_arguments_are_made_in_the_drain_that_ends_the_job(world):
    """A small container of plain values needs no worker: its repr runs no user code."""
    result = [1, "two", (3.0, None)]
    world.end(world.start(world.submit(1, args=(3, "abc"), kwargs={"k": [1, 2]})), end=JobEnd(result=result))
    d = world.jobs.details.get(1)  # no settle: nothing was left to a worker
    assert d is not None and d.pending == 0
    assert (d.result, d.result_len, d.result_cut) == (repr(result), len(repr(result)), False)
    assert (d.args, d.kwargs) == ("3, abc", "k=[1, 2]")
    assert world.guard.queued == 0 and world.guard.threads() == 0
    assert world.jobs.details.used == detail_cost(d)
    assert pickle.loads(world.jobs.payload(1)[2]) == ((3, "abc"), {"k": [1, 2]})


@pytest.mark.parametrize(
    "result",
    [5, 2.5, True, "text", "y" * 10_000, b"\x00bytes", (1, "a"), {"k": [1, 2.0]}, ["z" * 9000]],
)
def test_the_drains_fast_path_makes_what_the_guard_makes(monkeypatch, result):
    """The same job through the fast path and through the guard's requests: the same detail, cost,
    kept arguments and guard counts (but for the worker a container's repr went to)."""
    import dispymon.features.jobs as jobs_module

    def run(fast: bool):
        if not fast:
            monkeypatch.setattr(jobs_module, "plain_repr", lambda obj, limit: None)
        w = World()
        w.attach()
        try:
            info = w.start(w.submit(1, args=(3, "abc"), kwargs={"k": [1, 2]}))
            w.end(info, end=JobEnd(b"out", 3, None, 0, None, 0, result=result))
            w.settle()
            d = w.jobs.detail(w.state, "c", 1)
            g = w.guard
            return d, w.jobs.details.used, w.jobs.payload(1), (g.asked, g.inline + g.queued, g.dropped, g._taken)
        finally:
            monkeypatch.undo()
            w.close()

    assert run(True) == run(False)


def test_an_int_result_of_more_digits_than_python_prints_says_so_and_spoils_no_other_job(world):
    """`repr` of an int beyond sys.get_int_max_str_digits() raises ValueError: on the loop's fast path that
    broke the whole drain's batch for the jobs feature (the next job got no detail)."""
    huge = 10**5000
    a, b, c = (world.start(world.submit(k, args=(k,))) for k in (1, 2, 3))
    for info, result in ((a, huge), (b, [huge]), (c, 7)):  # one batch, as one drain
        ended = info._replace(end_time=1002.0, args=(), kwargs={}, handle=None, extra=JobEnd(result=result))
        world.state.apply_status(ev.StatusEvent("c", ev.JOB_FINISHED, None, ended))
    world._batch([])
    world.settle()
    detail = {k: world.jobs.detail(world.state, "c", k) for k in (1, 2, 3)}
    assert detail[1]["result"] == "<unprintable int: int.__repr__ raised ValueError>"
    assert detail[2]["result"] == "<unprintable list: list.__repr__ raised ValueError>"  # the worker's words
    assert (detail[3]["result"], detail[3]["args"]) == ("7", "3")
    assert all(world.jobs.payload(k) is not None for k in (1, 2, 3))
