"""The guard: users' __str__/__repr__ and pickling off the loop, cut off when slow, bounded in threads and queue."""

from __future__ import annotations

import pickle
import threading
import time

import pytest

from dispymon.runtime.guard import ARGS, PICKLE, REPR, STR, Answer, Guard

WAIT = 30.0  # generous: the machine is shared


class Inbox:
    """Stands for hub.feed: runs each Deferred as the hub's drain would, and collects answers by name."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.cond = threading.Condition()
        self.feeds = 0

    def feed(self, deferred) -> None:
        self.feeds += 1
        with self.cond:
            assert deferred[0](*deferred[1:]) is None  # a Deferred that applies no event
            self.cond.notify_all()

    def done(self, name: str):
        def record(answer: Answer) -> None:
            with self.cond:
                self.answers[name] = answer
                self.cond.notify_all()

        return record

    def wait(self, *names: str, timeout: float = WAIT) -> dict[str, Answer]:
        with self.cond:
            assert self.cond.wait_for(lambda: all(n in self.answers for n in names), timeout), (names, self.answers)
            return {n: self.answers[n] for n in names}


class Raises:
    def __repr__(self):
        raise RuntimeError("no")

    __str__ = __repr__


class Sleeps:
    """Blocks in C (time.sleep releases the GIL): cannot be interrupted, becomes a stuck thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self):
        time.sleep(self.seconds)
        return "slept"


class Waits:
    """Blocks in C until released (for the thread-count test, then released)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __repr__(self):
        self.event.wait(120)
        return "released"


class Loops:
    def __repr__(self):
        while True:
            pass


class Fine:
    def __repr__(self):
        return "Fine()"


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def guard(inbox):
    g = Guard(inbox.feed)
    yield g
    g.close()


def wait_until(cond, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_plain_values_are_answered_at_once_on_the_calling_thread(guard, inbox):
    got = []
    guard.ask(REPR, 12, got.append)
    guard.ask(REPR, "x" * 10_000, got.append)
    guard.ask(REPR, list(range(20_000)), got.append)
    guard.ask(STR, "an id", got.append)
    guard.ask(PICKLE, ((1, "a", [1.5, None]), {"k": b"v"}), got.append, limit=1000)
    assert len(got) == 5 and inbox.feeds == 0 and guard.threads() == 0  # no worker even started
    assert got[0] == Answer("12", 2, False)
    assert got[1].length == 10_000 and got[1].cut and got[1].value.startswith("'xxx")
    assert got[2].value.startswith("<list of 20,000 items: 0, 1, 2, …") and len(got[2].value) < 100
    assert got[3].value == "an id"
    assert pickle.loads(got[4].value) == ((1, "a", [1.5, None]), {"k": b"v"})


def test_repr_that_raises_is_answered_with_a_placeholder(guard, inbox):
    guard.ask(REPR, Raises(), inbox.done("bad"))
    guard.ask(REPR, Fine(), inbox.done("fine"))
    got = inbox.wait("bad", "fine")
    assert got["bad"].value == "<unprintable Raises: Raises.__repr__ raised RuntimeError>"
    assert got["fine"] == Answer("Fine()", 6, False)


def test_repr_that_loops_is_cut_off_and_the_worker_carries_on(inbox):
    guard = Guard(inbox.feed, workers=1)  # one worker: the next answer needs that same worker back
    try:
        guard.ask(REPR, Loops(), inbox.done("loops"))
        guard.ask(REPR, Fine(), inbox.done("after"))
        got = inbox.wait("loops", "after")
        assert got["loops"].value == "<Loops.__repr__ took over 0.5 s: cut off>" and got["loops"].reason == "slow"
        assert got["after"].value == "Fine()"
        assert guard.stuck() == 0 and guard.cut_off == 1  # broken out of, not stuck
    finally:
        guard.close()


def test_repr_that_hangs_is_cut_off_and_a_new_worker_takes_its_place(inbox):
    guard = Guard(inbox.feed, workers=1)
    try:
        guard.ask(REPR, Sleeps(4.0), inbox.done("hangs"))
        guard.ask(REPR, Fine(), inbox.done("after"))
        got = inbox.wait("hangs", "after")  # answered while the sleeper still sleeps
        assert got["hangs"].value == "<Sleeps.__repr__ took over 0.5 s: cut off>"
        assert got["after"].value == "Fine()"
        assert guard.stuck() == 1 or guard.threads() <= 2  # stuck, or already back from its sleep
        wait_until(lambda: guard.stuck() == 0)  # the stuck thread exits when its call returns
        wait_until(lambda: guard.threads() == 2)  # one worker, the watchdog
        guard.ask(REPR, Fine(), inbox.done("later"))
        assert inbox.wait("later")["later"].value == "Fine()"
    finally:
        guard.close()


def test_threads_never_exceed_7_and_the_guard_turns_off_at_4_stuck(guard, inbox):
    release = threading.Event()
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, guard.threads())  # this guard's (other tests' guards may still run)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for i in range(8):
            guard.ask(REPR, Waits(release), inbox.done(f"w{i}"))
        inbox.wait(*(f"w{i}" for i in range(6)))  # the first six cut off (2 at a time)
        wait_until(lambda: guard.stuck() >= 4)
        got: list[Answer] = []
        guard.ask(REPR, Fine(), got.append)  # off: answered at once
        assert got and got[0].value.startswith("<not shown: ") and "calls of __str__/__repr__ hang" in got[0].value
        guard.ask(PICKLE, ((Fine(),), {}), got.append, limit=1000)
        assert got[1].reason == "guard_off"
        assert guard.threads() <= 7
    finally:
        release.set()
    wait_until(lambda: guard.stuck() == 0)
    stop.set()
    sampler.join()
    assert 6 <= peak <= 7
    guard.ask(REPR, Fine(), inbox.done("again"))
    assert inbox.wait("again")["again"].value == "Fine()"


def test_a_full_queue_answers_at_once(inbox):
    release = threading.Event()
    guard = Guard(inbox.feed, workers=1, queue=3, deadline=60.0)
    try:
        guard.ask(REPR, Waits(release), inbox.done("busy"))
        wait_until(lambda: guard.waiting() == 0)  # the worker holds it
        for i in range(3):
            guard.ask(REPR, Fine(), inbox.done(f"q{i}"))
        got: list[Answer] = []
        guard.ask(REPR, Fine(), got.append)
        guard.ask(PICKLE, ((Fine(),), {}), got.append, limit=1000)
        assert [a.value for a in got] == ["<not shown: 3 texts waiting>"] * 2
        assert got[1].reason == "behind" and guard.dropped == 2
        release.set()
        assert all(a.value == "Fine()" for a in inbox.wait("q0", "q1", "q2").values())
    finally:
        release.set()
        guard.close()


def test_the_rate_budget_answers_at_once_when_spent(inbox):
    guard = Guard(inbox.feed, rate=2, clock=lambda: 1000.0)
    try:
        got: list[Answer] = []
        for i in range(2):
            guard.ask(REPR, Fine(), inbox.done(f"r{i}"))
        guard.ask(REPR, Fine(), got.append)
        assert got and got[0].value.startswith("<not shown:")
        inbox.wait("r0", "r1")
    finally:
        guard.close()


def test_pickling_on_the_worker(guard, inbox):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    guard.ask(PICKLE, ((Fine(), 2), {"x": 3}), inbox.done("ok"), limit=10_000)
    guard.ask(PICKLE, ((1, Unpicklable()), {}), inbox.done("bad"), limit=10_000)
    guard.ask(PICKLE, ((Fine(), "x" * 100_000), {}), inbox.done("big"), limit=10_000)
    got = inbox.wait("ok", "bad", "big")
    args, kwargs = pickle.loads(got["ok"].value)
    assert type(args[0]).__name__ == "Fine" and args[1] == 2 and kwargs == {"x": 3}
    assert got["bad"].value is None and got["bad"].reason == "unpicklable: Unpicklable"
    assert got["big"].value is None and got["big"].reason == "too_big"


def test_args_text_as_the_node_page_shows_it(guard, inbox):
    got: list[Answer] = []
    guard.ask(ARGS, ((1, "a"), {"k": 2.5}), got.append)
    assert got[0].value == ("1, a", "k=2.5")
    guard.ask(ARGS, ((Raises(), Fine()), {}), inbox.done("args"))
    assert inbox.wait("args")["args"].value == ("<unprintable Raises: __str__ raised RuntimeError>, Fine()", "")


def test_a_long_repr_is_cut_with_its_full_length(guard, inbox):
    class Long:
        def __repr__(self):
            return "y" * 50_000

    guard.ask(REPR, Long(), inbox.done("long"))
    a = inbox.wait("long")["long"]
    assert a == Answer("y" * 4096, 50_000, True)


def test_the_rate_budget_bounds_work_made_on_the_calling_thread_too(inbox):
    guard = Guard(inbox.feed, rate=3, clock=lambda: 7.0)
    try:
        got: list[Answer] = []
        for i in range(5):
            guard.ask(PICKLE, ((i,), {}), got.append, limit=1000)
        assert [a.reason for a in got] == [None, None, None, "behind", "behind"]
        guard.ask(STR, 12, got.append)  # plain scalars and strs are never refused: nothing to make
        guard.ask(REPR, "text", got.append)
        assert [a.value for a in got[5:]] == ["12", "'text'"]
    finally:
        guard.close()


def test_many_cut_offs_in_a_row_leave_a_working_pool(guard, inbox):
    names = []
    for i in range(8):
        guard.ask(REPR, Loops(), inbox.done(f"loop{i}"))
        guard.ask(REPR, Fine(), inbox.done(f"fine{i}"))
        names += [f"loop{i}", f"fine{i}"]
    got = inbox.wait(*names, timeout=60)
    assert all(got[f"fine{i}"].value == "Fine()" for i in range(8))
    assert all(got[f"loop{i}"].reason == "slow" for i in range(8))
    assert guard.cut_off == 8 and guard.stuck() == 0 and guard.threads() <= 3
