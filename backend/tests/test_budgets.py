"""Property: whatever jobs do, kept outputs and kept arguments stay within their budgets, and the
history's events keep nothing of a job's outputs or result."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobsworld import Pump, World

from dispymon.model import events as ev
from dispymon.model.argstore import payload_cost
from dispymon.model.details import detail_cost
from dispymon.model.events import JobEnd
from dispymon.runtime.guard import Guard
from dispymon.transport.protocol import OUTPUT_TAIL

PUMP = Pump()
GUARD = Guard(PUMP.feed)  # one pool for every example (threads are not made per example)


class BadRepr:
    def __repr__(self) -> str:
        raise ValueError("no repr")


class Arg:
    """A user object as an argument (pickled on the guard's worker)."""

    def __init__(self, size: int) -> None:
        self.data = "a" * size

    def __str__(self) -> str:
        return f"Arg({len(self.data)})"


RESULTS = st.sampled_from(["none", "int", "big", "bad"])
ARGS = st.sampled_from(["none", "plain", "object", "unpicklable"])

submit = st.tuples(st.just("submit"), ARGS, st.integers(0, 200_000), st.booleans())
start = st.tuples(st.just("start"), st.integers(0, 50))
end = st.tuples(
    st.just("end"),
    st.integers(0, 50),
    st.sampled_from([ev.JOB_FINISHED, ev.JOB_TERMINATED, ev.JOB_CANCELLED, ev.JOB_ABANDONED]),
    st.integers(0, 2 * 2**20),  # stdout length
    st.integers(0, 2 * 2**20),  # stderr length
    RESULTS,
)
resubmit = st.tuples(st.just("resubmit"), st.integers(0, 50))
OPS = st.lists(st.one_of(submit, start, end, resubmit), min_size=1, max_size=40)


def tail(n: int, fill: bytes) -> bytes | None:
    """An output's tail as the capture cuts it (the last OUTPUT_TAIL bytes)."""
    return None if n == 0 else fill * min(n, OUTPUT_TAIL)


def result_of(kind: str):
    return {"none": None, "int": 42, "big": "r" * 300_000, "bad": BadRepr()}[kind]


def args_of(kind: str, size: int) -> tuple:
    if kind == "none":
        return ()
    if kind == "plain":
        return ("p" * size, 1)
    if kind == "object":
        return (Arg(size),)
    return (lambda: size,)


def check(w: World) -> None:
    details, args = w.jobs.details, w.jobs.args
    assert details.used == sum(detail_cost(d) for _, d in details.items())
    assert details.used <= details.budget
    assert args.used == sum(payload_cost(p) for _, (_, _, p) in args.items())
    assert args.used <= args.budget
    assert all(len(p) <= args.max_payload for _, (_, _, p) in args.items())
    for event in w.kept_events:
        extra = event.job.extra
        if extra is not None:
            assert (extra.stdout, extra.stderr, extra.traceback, extra.result) == (None, None, None, None)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    outputs_budget=st.sampled_from([0, 600, 4096, 70_000, 300_000, 3 * 2**20]),
    resubmit_budget=st.sampled_from([0, 16 * 1000, 64 * 1024, 4 * 2**20]),
    ops=OPS,
)
def test_kept_outputs_and_arguments_never_pass_their_budgets(outputs_budget, resubmit_budget, ops):
    w = World(outputs_budget=outputs_budget, resubmit_budget=resubmit_budget, guard=GUARD, history_size=20)
    w.pump = PUMP
    w.attach()
    queued: list = []  # JobInfos not yet started
    running: list = []
    ended: list[int] = []  # keys
    next_key = 1
    for op in ops:
        if op[0] == "submit":
            _, kind, size, depends = op
            queued.append(w.submit(next_key, args=args_of(kind, size), depends=depends, created=float(next_key)))
            next_key += 1
        elif op[0] == "start" and queued:
            running.append(w.start(queued.pop(op[1] % len(queued))))
        elif op[0] == "end" and (running or queued):
            _, i, status, out_n, err_n, result = op
            pool = running if running else queued
            job = pool.pop(i % len(pool))
            exception = "Traceback\nValueError: x\n" if status == ev.JOB_TERMINATED and out_n % 2 else None
            extra = JobEnd(
                tail(out_n, b"o"), out_n, tail(err_n, "é".encode()), err_n,
                exception, len(exception or ""), result_of(result),
            )  # fmt: skip
            w.end(job, status, end=extra, exception=exception)
            ended.append(job.key)
        elif op[0] == "resubmit" and ended:
            original = ended[op[1] % len(ended)]
            held = w.jobs.payload(original)
            if held is not None:
                import pickle

                args, kwargs = pickle.loads(held[2])
                queued.append(w.submit(next_key, args=args, kwargs=kwargs, created=float(next_key)))
                w.link("c", original, next_key)
                next_key += 1
            else:
                assert w.jobs.why_not(original)  # says why, in words
        check(w)
        w.settle()
        check(w)
    w.settle()
    check(w)
