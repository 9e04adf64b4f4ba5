"""The finished-job history: records, filters, order, bounds, failure summary (no sockets)."""

from __future__ import annotations

import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispymon.model import events as ev
from dispymon.model.events import JobInfo, StatusEvent
from dispymon.features.history import History, as_dict, job_record, split_exception

TRACE = 'Traceback (most recent call last):\n  File "<string>", line 5, in compute\nValueError: boom 7\n'


def job(uid, ip="127.0.0.2", start=100.0, end=None, exception=None, job_id=None):
    return JobInfo(uid, job_id if job_id is not None else f"job-{uid}", ip, start, end, (), {}, exception)


def test_each_outcome_is_recorded_as_the_state_counts_it():
    h = History()
    h.job_ended("c", ev.JOB_FINISHED, job(1, end=101.5), seen=200.0)
    h.job_ended("c", ev.JOB_TERMINATED, job(2, end=102.0, exception=TRACE), seen=200.0)
    h.job_ended("c", ev.JOB_TERMINATED, job(3, end=103.0), seen=200.0)
    h.job_ended("c", ev.JOB_CANCELLED, job(4, ip=None, start=None), seen=204.0)
    h.job_ended("c", ev.JOB_ABANDONED, job(5, ip=None), seen=205.0)
    assert h.job_ended("c", ev.JOB_RUNNING, job(6), seen=1.0) is None  # not an end
    by_uid = {r["uid"]: r for r in h.records()}
    assert [by_uid[u]["outcome"] for u in range(1, 6)] == ["finished", "failed", "terminated", "cancelled", "abandoned"]
    assert by_uid[1] == {"uid": 1, "id": "job-1", "cluster": "c", "node": "127.0.0.2", "outcome": "finished",
                         "exception_type": None, "exception_message": None, "start_time": 100.0,
                         "end_time": 101.5, "duration": 1.5, "key": None, "created": None,
                         "resubmit_of": None}  # fmt: skip
    assert (by_uid[2]["exception_type"], by_uid[2]["exception_message"]) == ("ValueError", "boom 7")
    # no end time from dispy (cancelled, abandoned): the time the dashboard saw it end
    assert by_uid[4]["end_time"] == 204.0 and by_uid[4]["duration"] is None and by_uid[4]["node"] == ""
    assert by_uid[5]["end_time"] == 205.0 and by_uid[5]["duration"] == 105.0


def test_a_record_carries_the_job_key_its_submit_time_and_what_it_was_resubmitted_from():
    h = History()
    h.links = {8: 3}  # the jobs feature's map: key 8 was resubmitted from key 3
    h.job_ended("c", ev.JOB_FINISHED, job(1, end=101.5)._replace(key=3, created=99.0), seen=200.0)
    h.take([StatusEvent("c", ev.JOB_FINISHED, None, job(2, end=110.0)._replace(key=8, created=105.0))], 200.0)
    by_key = {r["key"]: r for r in h.records()}
    assert (by_key[3]["created"], by_key[3]["resubmit_of"]) == (99.0, None)
    assert (by_key[8]["created"], by_key[8]["resubmit_of"]) == (105.0, 3)
    h.take([StatusEvent("c", ev.JOB_TERMINATED, None, job(4, end=120.0, exception=TRACE)._replace(key=9))], 200.0)
    assert h.summary()["failures"][0]["last_key"] == 9


def test_records_of_before_keys_load_with_none_for_the_new_fields():
    h = History()
    h.load([(1, "a", "c", "n", "finished", None, None, 1.0, 2.0, 1.0)])
    assert h.records()[0] | {} == {"uid": 1, "id": "a", "cluster": "c", "node": "n", "outcome": "finished",
                                   "exception_type": None, "exception_message": None, "start_time": 1.0,
                                   "end_time": 2.0, "duration": 1.0, "key": None, "created": None,
                                   "resubmit_of": None}  # fmt: skip


@pytest.mark.parametrize("text, expected", [
    (TRACE, ("ValueError", "boom 7")),
    ("KeyError: 'x'\n\n", ("KeyError", "'x'")),
    ("mymod.Oops: a: b", ("mymod.Oops", "a: b")),
    ("KeyboardInterrupt", ("KeyboardInterrupt", "")),
    ("something odd happened: here", ("Exception", "something odd happened: here")),
    ("", (None, None)),
    (None, (None, None)),
])  # fmt: skip
def test_the_exception_type_and_message_come_from_the_last_line(text, expected):
    assert split_exception(text) == expected


def test_a_long_traceback_is_kept_as_what_the_history_reads_of_it():
    from dispymon.features.history import MESSAGE_LIMIT, TRACEBACK_KEEP, brief_exception

    assert brief_exception(TRACE) == TRACE  # short: whole
    huge = TRACE.replace("boom 7", "boom " + "7" * 100_000)
    short = brief_exception(huge)
    assert len(short) < TRACEBACK_KEEP
    kind, message = split_exception(short)
    assert kind == "ValueError" and message.startswith("boom 777") and message.endswith("…") and len(message) == MESSAGE_LIMIT
    odd = brief_exception("x" * 10 + " odd: " + "z" * 10_000)  # not 'Type: message'
    assert split_exception(odd) == ("Exception", odd) and len(odd) == MESSAGE_LIMIT


def test_job_ids_are_guarded_text():
    class Bad:
        def __str__(self):
            raise ValueError

    h = History()
    h.job_ended("c", ev.JOB_FINISHED, job(1, end=1.0, job_id=Bad()), seen=1.0)
    h.job_ended("c", ev.JOB_FINISHED, job(2, end=1.0, job_id="<b>" + "x" * 500), seen=1.0)
    ids = [r["id"] for r in h.records()]
    assert ids[0] == "<unprintable Bad: __str__ raised ValueError>"
    assert ids[1].startswith("<b>xx") and ids[1].endswith("(503 chars)")


def test_filters_order_and_paging():
    h = History()
    # ends out of arrival order: the query sorts by end time, newest first
    for uid, end in enumerate([5.0, 3.0, 9.0, 1.0, 7.0]):
        h.job_ended("a" if uid % 2 else "b", ev.JOB_FINISHED, job(uid, ip=f"127.0.0.{2 + uid % 2}", start=0.0, end=end),
                    seen=10.0)  # fmt: skip
    h.job_ended("a", ev.JOB_TERMINATED, job(10, end=4.0, exception="OSError: disk"), seen=10.0)
    result = h.query()
    assert result["total"] == 6 and [r["end_time"] for r in result["jobs"]] == [9.0, 7.0, 5.0, 4.0, 3.0, 1.0]
    assert [r["uid"] for r in h.query(cluster="a")["jobs"]] == [10, 1, 3]
    assert [r["uid"] for r in h.query(node="127.0.0.3")["jobs"]] == [1, 3]
    assert [r["uid"] for r in h.query(outcome="failed")["jobs"]] == [10]
    assert [r["uid"] for r in h.query(text="JOB-1")["jobs"]] == [10, 1]  # substring, any case
    page = h.query(limit=2, offset=2)
    assert page["total"] == 6 and [r["end_time"] for r in page["jobs"]] == [5.0, 4.0]
    with pytest.raises(ValueError):
        h.query(outcome="exploded")


def test_bounded_by_size_oldest_first_out():
    h = History(size=3)
    for uid in range(10):
        h.job_ended("c", ev.JOB_FINISHED, job(uid, end=float(uid)), seen=0.0)
    assert [r["uid"] for r in h.records()] == [7, 8, 9]
    assert h.query()["total"] == 3


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 12),
       steps=st.lists(st.one_of(st.integers(0, 9), st.just("read")), max_size=30))  # fmt: skip
def test_drains_kept_as_taken_read_as_if_each_record_were_made_at_once(size, steps):
    """`take` keeps drains' events and makes records when the history is read, for
    the newest `size` jobs only: what a reader gets must be what making every
    record at once (job_record for each, into a bounded deque) gives."""
    h = History(size)
    expected: collections.deque = collections.deque(maxlen=size)
    uid = 0
    for step in steps:
        if step == "read":
            assert list(h.jobs) == list(expected)
            continue
        drain = []
        for _ in range(step):
            uid += 1
            status = (ev.JOB_FINISHED, ev.JOB_TERMINATED, ev.JOB_CANCELLED)[uid % 3]
            drain.append(StatusEvent("c", status, None, job(uid, end=None if uid % 2 else float(uid))))
        seen = float(uid)
        h.take(drain, seen)
        expected.extend(job_record("c", e.status, e.job, seen) for e in drain)
    assert list(h.jobs) == list(expected)
    assert h.query(limit=size)["total"] == len(expected)


def test_a_listener_gets_every_record_at_once_after_those_taken_before():
    h = History(size=2)
    h.take([StatusEvent("c", ev.JOB_FINISHED, None, job(uid, end=1.0)) for uid in (1, 2, 3)], seen=1.0)
    seen = []
    h.listeners.append(seen.append)
    h.take([StatusEvent("c", ev.JOB_FINISHED, None, job(4, end=2.0))], seen=2.0)
    assert [r[0] for r in seen] == [4]  # told at once, before anybody reads
    assert [r["uid"] for r in h.records()] == [3, 4]


def test_failure_summary_groups_by_exception_type():
    h = History()
    for uid, (text, end) in enumerate([("ValueError: a", 1.0), ("KeyError: k", 2.0), ("ValueError: b", 3.0),
                                       ("ValueError: c", 2.5)]):  # fmt: skip
        h.job_ended("c", ev.JOB_TERMINATED, job(uid, end=end, exception=text), seen=0.0)
    h.job_ended("c", ev.JOB_FINISHED, job(9, end=1.0), seen=0.0)
    h.job_ended("c", ev.JOB_CANCELLED, job(8, ip=None), seen=1.0)
    s = h.summary()
    assert s["outcomes"] == {"finished": 1, "failed": 4, "cancelled": 1, "terminated": 0, "abandoned": 0}
    assert [(f["type"], f["count"], f["last_message"], f["last_time"]) for f in s["failures"]] == [
        ("ValueError", 3, "b", 3.0), ("KeyError", 1, "k", 2.0)]  # fmt: skip
    assert s["jobs"] == 6


def test_listeners_see_each_new_record_but_not_loaded_ones():
    h = History()
    seen = []
    h.listeners.append(seen.append)
    h.load([(1, "old", "c", "", "finished", None, None, None, 1.0, None)])  # as the store gives them
    h.job_ended("c", ev.JOB_FINISHED, job(2, end=2.0), seen=2.0)
    assert [as_dict(r)["uid"] for r in seen] == [2]
    assert [r["id"] for r in h.query()["jobs"]] == ["job-2", "old"]
