"""JobKeys (model/jobkeys.py): a job's key, never reused, from its (uid, created) identity."""

from __future__ import annotations

import threading

from dispymon.model import jobkeys
from dispymon.model.jobkeys import JobKeys


def test_a_reused_uid_with_another_created_time_gets_a_new_key():
    keys = JobKeys()
    first = keys.key(7, 100.0, "c")
    assert keys.key(7, 100.0, "c") == first  # the same job, seen again (Running after Created)
    assert keys.end(7, 100.0, "c") == first
    # dispy's uid is id(job): a later job may get the same one, never the same submit time
    second = keys.key(7, 101.5, "c")
    assert second != first and second > first
    assert keys.end(7, 101.5, "c") == second
    assert keys.peek(7, 100.0) == first and keys.peek(7, 101.5) == second


def test_a_running_event_after_the_end_finds_the_key_and_leaves_nothing_live():
    keys = JobKeys(start=50)
    key = keys.key(1, 5.0, "c")
    assert key == 50
    assert keys.end(1, 5.0, "c") == key
    assert keys.live() == 0
    # a SharedJobCluster's Running can come after the job's end; a rescheduled job runs again
    assert keys.key(1, 5.0, "c") == key
    assert keys.live() == 0  # it would stay live for ever: no end comes for it again
    assert keys.end(1, 5.0, "c") == key
    assert keys.next_key == 51


def test_an_end_never_seen_makes_a_key_and_recent_is_bounded(monkeypatch):
    monkeypatch.setattr(jobkeys, "RECENT", 3)
    keys = JobKeys()
    ended = [keys.end(uid, 1.0, "c") for uid in range(5)]
    assert ended == [1, 2, 3, 4, 5]
    assert keys.peek(0, 1.0) is None and keys.peek(1, 1.0) is None  # the oldest forgotten
    assert [keys.peek(uid, 1.0) for uid in (2, 3, 4)] == [3, 4, 5]


def test_forget_drops_only_the_detached_clusters_live_jobs():
    keys = JobKeys()
    a = keys.key(1, 1.0, "a")
    keys.key(2, 1.0, "b")
    keys.forget("b")
    assert keys.live() == 1 and keys.peek(1, 1.0) == a and keys.peek(2, 1.0) is None


def test_advance_moves_new_keys_past_a_database():
    keys = JobKeys()
    assert keys.key(1, 1.0) == 1
    keys.advance(100)
    assert keys.key(2, 1.0) == 100
    keys.advance(10)  # never back
    assert keys.key(3, 1.0) == 101


def test_keys_from_many_threads_are_unique():
    keys = JobKeys()
    got: list[list[int]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        for uid in range(2000):
            got[i].append(keys.key(i * 10_000 + uid, 0.0, "c"))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [k for keys_of in got for k in keys_of]
    assert len(set(every)) == len(every) == 8000 and max(every) == 8000
