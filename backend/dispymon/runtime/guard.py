"""Users' code off the loop: `__str__`/`__repr__` and pickling, guarded.

A job's result, id and arguments are users' objects. Turning them into text
or pickling them runs users' code, which may raise, hang, loop forever or
build a multi-GB string; on the loop that would freeze the dashboard, and
in the user's dispy program the cluster with it. So the `Guard` does it on
a small pool of worker threads with a deadline:

- **Fast path** on the calling thread for what runs no user code: exact
  `int`/`float`/`bool`/`None`, `str` and `bytes` (cut before `repr`), big
  builtin containers (described, "list of 12,000,000 items", never repr'd
  whole), and pickles of small containers of plain values. The jobs
  feature makes these itself in its drain for an ended job whose result
  and arguments are plain (`plain_repr`, `plain_size`: also the repr of a
  small container of plain values), counting them in the same budget.
- Everything else waits in a bounded queue (QUEUE requests, and at most
  RATE a second): beyond that a request is answered at once with
  "<not shown: N texts waiting>" (a pickle: reason `behind`), so the user
  objects held and the CPU taken are bounded.
- **Cut-off.** A watchdog thread answers a request that passes the deadline
  with a placeholder, then raises `GuardTimeout` in the worker
  (`PyThreadState_SetAsyncExc`), which breaks a Python-level loop. A worker
  still not back STUCK_AFTER later (blocked in C: sleep, I/O) is *stuck*:
  it leaves the pool, a new worker takes its place, and the stuck thread
  exits whenever its call returns. At `max_stuck` stuck threads the guard
  is off (every non-plain request answered at once) until one returns. The
  guard never runs more than `workers + max_stuck + 1` threads (7).
  A call that holds the GIL inside C cannot be cut off in-process.

Answers come back to the loop in batches through `feed` (the hub's
`feed`, with a Deferred `(deliver,)` whose `make` returns None), so every
`done` callback runs on the loop's thread.
"""

from __future__ import annotations

import collections
import ctypes
import io
import logging
import pickle
import reprlib
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from dispymon.model.text import LIMIT, Late, job_texts
from dispymon.transport.protocol import RESULT_LIMIT

log = logging.getLogger(__name__)

WORKERS = 2
DEADLINE = 0.5  # seconds a call may take
STUCK_AFTER = 1.0  # seconds after the cut-off before a worker that has not come back is stuck
MAX_STUCK = 4
QUEUE = 1000  # requests waiting
RATE = 20_000  # requests a second taken to the queue
TICK = 0.1  # the watchdog's period while a call is in flight
STR_CUT = 4096  # characters of a plain str/bytes kept before repr
BIG = 10_000  # items from which a builtin container is described, not repr'd
INLINE_ITEMS = 64  # a container pickled on the calling thread: at most this many items...
INLINE_DEPTH = 2  # ...nested this deep, all plain

# The kinds of request
STR = "str"  # str(obj), cut at `limit` (an id)
REPR = "repr"  # repr(obj), cut at `limit` (a result)
ARGS = "args"  # obj = (args, kwargs): their texts as the Node page shows them (text.job_texts)
PICKLE = "pickle"  # obj = (args, kwargs): pickle.dumps, refused beyond `limit` bytes

_PLAIN = (int, float, bool, type(None))
_PLAIN_ALL = frozenset({int, float, bool, type(None), str, bytes, complex})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


class GuardTimeout(BaseException):
    """Raised in a worker whose call passed the deadline.

    A BaseException: `except Exception` in users' code lets it through."""


class Answer(NamedTuple):
    """What a request made: `value` (str; for ARGS a (args, kwargs) pair of str; for PICKLE bytes or None),
    `length` (the full length of the text, None for a placeholder), `cut` (the text is shorter than
    `length`), `reason` (why there is no pickle: behind, slow, guard_off, too_big, unpicklable: T)."""

    value: Any
    length: int | None = None
    cut: bool = False
    reason: str | None = None


Done = Callable[[Answer], None]


class _TooBig(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A pickle's output that refuses to grow beyond `limit` bytes (a 1 GB argument is not copied whole)."""

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b)
        self.size += n
        if self.size > self.limit:
            raise _TooBig
        self.parts.append(bytes(b))
        return n


class _Request:
    __slots__ = ("kind", "obj", "limit", "done", "answered", "cut_at")

    def __init__(self, kind: str, obj: Any, limit: int, done: Done) -> None:
        self.kind = kind
        self.obj = obj  # the only holder of the user's object: dropped once answered
        self.limit = limit
        self.done = done
        self.answered = False
        self.cut_at: float | None = None


class _Worker:
    __slots__ = ("thread", "current", "started", "stuck")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.current: _Request | None = None
        self.started = 0.0
        self.stuck = False


def _type_name(obj: Any) -> str:
    return type(obj).__name__


def _cut_text(text: str, limit: int) -> Answer:
    n = len(text)
    if n > limit:
        return Answer(text[:limit], n, True)
    return Answer(text, n, False)


_SCALARS = frozenset({int, float, bool, type(None), complex})


def _plain_len(obj: Any, depth: int = 0) -> int:
    """The characters/bytes of the str/bytes in `obj` if making its text or pickle runs no user code
    (exact builtin types, small, shallow), else -1. (Scalars are checked in line: this runs for every
    job that ends.)"""
    kind = type(obj)
    if kind is str or kind is bytes:
        return len(obj)
    if kind in _SCALARS:
        return 0
    if (
        depth >= INLINE_DEPTH
        or (kind is not tuple and kind is not list and kind is not dict)
        or len(obj) > INLINE_ITEMS
    ):
        return -1
    total = 0
    if kind is dict:
        for k in obj:
            t = type(k)
            if t is str or t is bytes:
                total += len(k)
            elif t not in _SCALARS:
                return -1  # a key that is not a plain scalar or text
        values = obj.values()
    else:
        values = obj
    for v in values:
        t = type(v)
        if t is str or t is bytes:
            total += len(v)
        elif t not in _SCALARS:
            n = _plain_len(v, depth + 1)
            if n < 0:
                return -1
            total += n
    return total


def _plain_value(obj: Any, depth: int = 0) -> bool:
    """Whether pickling `obj` runs no user code (exact builtin types, small, shallow)."""
    return _plain_len(obj, depth) >= 0


def plain_args(args: Any, kwargs: Any) -> bool:
    """Whether an args tuple and kwargs dict are plain values (their text and pickle run no user code)."""
    return plain_size(args, kwargs) >= 0


def plain_size(args: Any, kwargs: Any) -> int:
    """The characters/bytes of the str/bytes in plain (args, kwargs), or -1 when they are not plain."""
    if type(args) is not tuple or type(kwargs) is not dict:
        return -1
    size = _plain_len(args)
    if size < 0:
        return -1
    more = _plain_len(kwargs)
    return -1 if more < 0 else size + more


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles builtin values only: no class is looked up, so no user code runs."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not a plain value")


def plain_args_text(payload: bytes) -> tuple[str, str] | None:
    """The text of a pickle of plain (args, kwargs), as the Node page shows them; None when it holds
    anything but builtin values (that would take user code to read)."""
    try:
        args, kwargs = _PlainUnpickler(io.BytesIO(payload)).load()
    except Exception:
        return None
    if not plain_args(args, kwargs):
        return None
    _, args_text, kwargs_text = job_texts("", args, kwargs, True)
    return args_text, kwargs_text


def describe_big(obj: Any) -> str:
    """A big builtin container in words, with a peek at its first plain items (no user code runs)."""
    n = len(obj)
    kind = type(obj).__name__
    peek = ""
    if type(obj) in (list, tuple):
        first = obj[:3]
        if all(type(v) in _PLAIN_ALL for v in first):
            r = reprlib.Repr()
            r.maxstring = r.maxother = 40
            peek = ": " + ", ".join(r.repr(v) for v in first) + ", …"
    return f"<{kind} of {n:,} items{peek}>"


def plain_answer(kind: str, obj: Any, limit: int) -> Answer | None:
    """The answer made on the calling thread when no user code runs, else None."""
    t = type(obj)
    if kind in (STR, REPR):
        if t in _PLAIN:
            try:
                text = repr(obj)
            except ValueError:  # an int of more digits than sys.get_int_max_str_digits() (4,300 by default)
                return Answer(f"<unprintable {_type_name(obj)}: {_method(kind, obj)} raised ValueError>")
            return Answer(text, len(text), False)
        if t is str or t is bytes:
            if kind == STR and t is str:
                return _cut_text(obj, limit)
            n = len(obj)
            text = repr(obj[:STR_CUT]) if n > STR_CUT else repr(obj)
            if n > STR_CUT:  # the full length is the value's, not its repr's
                return Answer(text[:limit], n, True)
            return _cut_text(text, limit)
        if t in _CONTAINERS and len(obj) > BIG:
            text = describe_big(obj)
            return Answer(text, None, False)
        return None
    if kind == ARGS:
        args, kwargs = obj
        if _plain_value(args) and _plain_value(kwargs):
            _, args_text, kwargs_text = job_texts("", args, kwargs, True)
            return Answer((args_text, kwargs_text), None, False)
        return None
    if kind == PICKLE:
        args, kwargs = obj
        if type(args) is tuple and type(kwargs) is dict:
            size = _plain_len(args)
            more = _plain_len(kwargs) if size >= 0 else -1
            if size < 0 or more < 0:
                return None
            if size + more > limit:  # refused before a copy of a huge str is made
                return Answer(None, reason="too_big")
            try:
                payload = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # plain values always pickle; defensive
                return Answer(None, reason=f"unpicklable: {_type_name(exc)}")
            if len(payload) > limit:
                return Answer(None, reason="too_big")
            return Answer(payload)
        return None
    raise ValueError(f"unknown request kind {kind!r}")


def plain_repr(obj: Any, limit: int) -> tuple[Answer, bool] | None:
    """A result's repr made on the calling thread when it runs no user code, else None: (the answer,
    whether it counts in the rate budget, as the guard's own request for it would). A scalar, str or
    bytes is `plain_answer`'s; a small shallow container of them (`_plain_len`, its texts within
    `limit`) is the same repr a worker would make, bounded."""
    t = type(obj)
    if t in _PLAIN or t is str:
        return plain_answer(REPR, obj, limit), False  # type: ignore[return-value]
    if t is bytes:
        return plain_answer(REPR, obj, limit), True  # type: ignore[return-value]
    if (t is tuple or t is list or t is dict) and 0 <= _plain_len(obj) <= limit:
        try:
            return _cut_text(repr(obj), limit), True
        except ValueError:  # an int of too many digits inside: the guard's worker says so, as before
            return None
    return None


def _made(kind: str, obj: Any, limit: int) -> Answer:
    """The answer, made on a worker: users' code runs here."""
    if kind in (STR, REPR):
        text = str(obj) if kind == STR else repr(obj)
        if not isinstance(text, str):
            raise TypeError(f"{'__str__' if kind == STR else '__repr__'} returned {_type_name(text)}")
        return _cut_text(text, limit)
    if kind == ARGS:
        args, kwargs = obj
        _, args_text, kwargs_text = job_texts("", args, kwargs, True)
        return Answer((args_text, kwargs_text), None, False)
    # PICKLE
    out = _Bounded(limit)
    try:
        pickle.Pickler(out, pickle.HIGHEST_PROTOCOL).dump(obj)
    except _TooBig:
        return Answer(None, reason="too_big")
    except (GuardTimeout, MemoryError):
        raise
    except Exception:
        return Answer(None, reason=f"unpicklable: {_culprit(obj)}")
    return Answer(b"".join(out.parts))


def _culprit(obj: Any) -> str:
    """The type of the first argument that does not pickle (run only after a failure)."""
    args, kwargs = obj
    for value in (*tuple(args or ()), *dict(kwargs or {}).values()):
        try:
            pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except GuardTimeout:
            raise
        except Exception:
            return _type_name(value)
    return _type_name(obj)


def _method(kind: str, obj: Any) -> str:
    if kind == PICKLE:
        return "pickling"
    if kind == ARGS:
        return "an argument's __str__"
    return f"{_type_name(obj)}.{'__str__' if kind == STR else '__repr__'}"


class Guard:
    def __init__(
        self,
        feed: Callable[[Any], None],
        workers: int = WORKERS,
        deadline: float = DEADLINE,
        max_stuck: int = MAX_STUCK,
        queue: int = QUEUE,
        rate: int = RATE,
        stuck_after: float = STUCK_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = feed  # hub.feed: takes a Deferred
        self.workers = workers
        self.deadline = deadline
        self.max_stuck = max_stuck
        self.queue_limit = queue
        self.rate = rate
        self.stuck_after = stuck_after
        self.max_threads = workers + max_stuck + 1
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: collections.deque[_Request] = collections.deque()
        self._pool: list[_Worker] = []
        self._stuck: list[_Worker] = []
        self._started: list[threading.Thread] = []  # the workers' threads (pruned of those that ended)
        self._watch: threading.Thread | None = None
        self._busy = threading.Event()  # set while a call is in flight: the watchdog ticks
        self._closed = False
        # answers waiting for the loop, and whether a deliver is on its way
        self._out: collections.deque[tuple[Done, Answer]] = collections.deque()
        self._deliver_fed = False
        # the rate budget: requests taken in the current second
        self._second = 0
        self._taken = 0
        # counters (stats)
        self.asked = 0
        self.inline = 0
        self.dropped = 0  # answered at once: queue full, rate spent, or guard off
        self.cut_off = 0
        self.failed = 0  # users' code raised
        self.queued = 0  # requests taken to the queue
        self.delivered = 0  # their answers delivered on the loop

    # -- asking ---------------------------------------------------------------

    def ask(self, kind: str, obj: Any, done: Done, limit: int = RESULT_LIMIT) -> None:
        """Make `kind` of `obj`; `done(answer)` is called on the loop, or at once on the calling thread
        (the fast path, or a refusal when the guard is behind or off)."""
        self.asked += 1
        if isinstance(obj, Late):  # a value read when shown (model/text.py): its text is the value's
            obj = obj.current()
        t = type(obj)
        if kind in (STR, REPR) and (t in _PLAIN or t is str):  # nothing to make: never refused
            done(plain_answer(kind, obj, limit))  # type: ignore[arg-type]
            self.inline += 1
            return
        # Everything else counts in the rate budget, made here or on a worker: it bounds
        # the loop's time spent on texts and pickles when jobs end by the hundred thousand.
        second = int(self._clock())
        if second != self._second:
            self._second, self._taken = second, 0
        if self._taken >= self.rate:
            self.dropped += 1
            done(Answer(f"<not shown: over {self.rate:,} texts a second>", reason="behind"))
            return
        self._taken += 1
        answer = plain_answer(kind, obj, limit)
        if answer is not None:
            self.inline += 1
            done(answer)
            return
        refusal: Answer | None = None
        with self._lock:
            waiting = len(self._queue)
            if self._closed:
                refusal = Answer("<not shown: the dashboard is stopping>", reason="behind")
            elif len(self._stuck) >= self.max_stuck:
                n = len(self._stuck)
                refusal = Answer(f"<not shown: {n} calls of __str__/__repr__ hang>", reason="guard_off")
            elif waiting >= self.queue_limit:
                refusal = Answer(f"<not shown: {waiting} texts waiting>", reason="behind")
            else:
                self.queued += 1
                self._queue.append(_Request(kind, obj, limit, done))
                self._top_up()
                self._wake.notify()
        if refusal is not None:
            self.dropped += 1
            done(refusal)

    def room(self, n: int = 1) -> bool:
        """Whether `n` requests would be taken now (the rate budget not spent, the guard on): a caller
        with optional work (the text of an ended job's arguments) skips it, and its bookkeeping, when not."""
        second = int(self._clock())
        taken = self._taken if second == self._second else 0
        return taken + n <= self.rate and len(self._stuck) < self.max_stuck

    def budget(self) -> int:
        """Requests the rate budget still allows this second (0 when the guard is off). A caller that
        makes plain values' pickles itself counts down its own copy, then says what it used (`spent`)."""
        second = int(self._clock())
        if second != self._second:
            self._second, self._taken = second, 0
        if len(self._stuck) >= self.max_stuck:
            return 0
        return max(self.rate - self._taken, 0)

    def spent(self, n: int, dropped: int = 0, free: int = 0) -> None:
        """`n` requests made by the caller itself out of `budget()`; `dropped` refused past it; `free`
        made by the caller outside the budget (the repr of a plain scalar or str, never refused)."""
        self._taken += n
        self.asked += n + dropped + free
        self.inline += n + free
        self.dropped += dropped

    def spend(self) -> bool:
        """Take one request's share of the rate budget for work the caller does itself on plain values
        (a pickle of builtin values); False when the budget is spent or the guard is off."""
        second = int(self._clock())
        if second != self._second:
            self._second, self._taken = second, 0
        if self._taken >= self.rate or len(self._stuck) >= self.max_stuck:
            self.dropped += 1
            return False
        self._taken += 1
        self.asked += 1
        self.inline += 1
        return True

    def text(self, obj: Any, done: Done, limit: int = LIMIT) -> None:
        self.ask(STR, obj, done, limit)

    # -- threads ----------------------------------------------------------------

    def threads(self) -> int:
        """Threads the guard runs now (workers, stuck ones not yet returned, the watchdog)."""
        with self._lock:
            alive = sum(1 for t in self._started if t.is_alive())
            return alive + (1 if self._watch is not None and self._watch.is_alive() else 0)

    def _top_up(self) -> None:
        """Start workers up to `workers`, within `max_threads` (lock held)."""
        if self._watch is None:
            self._watch = threading.Thread(target=self._watchdog, name="dispymon-guard-watch", daemon=True)
            self._watch.start()
        # every thread started and still alive counts (a stuck one on its way out too)
        self._started = [t for t in self._started if t.is_alive()]
        while len(self._pool) < self.workers and len(self._started) + 1 < self.max_threads:
            w = _Worker()
            w.thread = threading.Thread(target=self._work, args=(w,), name="dispymon-guard", daemon=True)
            self._pool.append(w)
            self._started.append(w.thread)
            w.thread.start()

    def _back(self, w: _Worker) -> None:
        """A stuck worker came back (lock held): it rejoins the pool if the pool is short (a thread
        that works again), else it leaves (`w.stuck` stays True: the caller returns)."""
        if w in self._stuck:
            self._stuck.remove(w)
        if len(self._pool) < self.workers and not self._closed:
            w.stuck = False
            self._pool.append(w)

    def _work(self, w: _Worker) -> None:
        tid = threading.get_ident()
        while True:
            try:
                with self._lock:
                    while not self._queue and not self._closed and not w.stuck:
                        self._wake.wait()
                    if w.stuck or self._closed:
                        return
                    req = self._queue.popleft()
                    w.current, w.started = req, self._clock()
                    self._busy.set()
                try:
                    answer = _made(req.kind, req.obj, req.limit)
                except GuardTimeout:
                    answer = Answer("<cut off>", reason="slow")  # answered by the watchdog already
                except Exception as exc:
                    self.failed += 1
                    what = "pickling" if req.kind == PICKLE else _method(req.kind, req.obj)
                    answer = Answer(
                        f"<unprintable {_type_name(req.obj)}: {what} raised {_type_name(exc)}>",
                        reason=f"unpicklable: {_culprit_safe(req)}" if req.kind == PICKLE else None,
                    )
                with self._lock:
                    w.current = None
                    if req.cut_at is not None:
                        # a GuardTimeout may still be pending for this thread: cancel it
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)
                    first = not req.answered
                    req.answered = True
                    req.obj = None
                    if w.stuck:  # back from a stuck call
                        self._back(w)
                if first:
                    self._answer(req.done, answer)
                if w.stuck:
                    return
            except GuardTimeout:
                # Delivered after the call came back (once per request: the watchdog cuts a
                # request off once), in our own code: the request was answered at the cut-off.
                with self._lock:
                    w.current = None
                if w.stuck:
                    with self._lock:
                        self._back(w)
                    if w.stuck:
                        return

    def _watchdog(self) -> None:
        while True:
            self._busy.wait()
            time.sleep(TICK)
            late: list[tuple[_Request, str]] = []
            with self._lock:
                if self._closed:
                    return
                now = self._clock()
                in_flight = False
                for w in list(self._pool):
                    req = w.current
                    if req is None:
                        continue
                    in_flight = True
                    if req.cut_at is None and now - w.started > self.deadline:
                        req.cut_at = now
                        req.answered = True
                        late.append((req, f"<{_method(req.kind, req.obj)} took over {self.deadline:g} s: cut off>"))
                        self.cut_off += 1
                        if w.thread is not None and w.thread.ident is not None:
                            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                                ctypes.c_ulong(w.thread.ident), ctypes.py_object(GuardTimeout)
                            )
                    elif req.cut_at is not None and now - req.cut_at > self.stuck_after:
                        w.stuck = True  # it exits when its call returns
                        self._pool.remove(w)
                        self._stuck.append(w)
                        log.warning(
                            "a call of %s does not return (%d thread(s) stuck)",
                            _method(req.kind, req.obj),
                            len(self._stuck),
                        )
                        self._top_up()
                        self._wake.notify_all()
                if not in_flight:
                    self._busy.clear()
            for req, text in late:
                self._answer(req.done, Answer(text, reason="slow"))

    # -- answers back to the loop ---------------------------------------------------------

    def _answer(self, done: Done, answer: Answer) -> None:
        self._out.append((done, answer))
        if not self._deliver_fed:
            self._deliver_fed = True
            self._feed((self._deliver,))

    def _deliver(self) -> None:
        """On the loop (a Deferred's make): call the `done` of each answer that came back; no event."""
        self._deliver_fed = False  # first: an answer appended after this feeds again
        out = self._out
        while out:
            done, answer = out.popleft()
            self.delivered += 1
            try:
                done(answer)
            except Exception:  # one bad callback must not lose the others' answers
                log.exception("a guard answer's callback failed")
        return None

    # -- status ------------------------------------------------------------------------

    def stuck(self) -> int:
        return len(self._stuck)

    def waiting(self) -> int:
        return len(self._queue)

    def unanswered(self) -> int:
        """Requests taken to the queue whose answer has not been delivered on the loop yet."""
        return self.queued - self.delivered

    def stats(self) -> dict[str, int]:
        return {
            "asked": self.asked,
            "inline": self.inline,
            "dropped": self.dropped,
            "cut_off": self.cut_off,
            "failed": self.failed,
            "stuck": len(self._stuck),
            "waiting": len(self._queue),
        }

    def close(self) -> None:
        """Stop the workers (a stuck one exits when its call returns); pending requests are dropped."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._wake.notify_all()
        self._busy.set()


def _culprit_safe(req: _Request) -> str:
    try:
        return _culprit(req.obj)
    except BaseException:
        return "?"
