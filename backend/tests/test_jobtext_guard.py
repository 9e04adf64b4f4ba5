"""The Node page's job texts with the server's guard: no user __str__ on the loop, the text follows."""

from __future__ import annotations

import asyncio
import threading

from dispymon.model import events as ev
from dispymon.model.events import ClusterAttached, JobInfo, StatusEvent
from dispymon.model.jobtext import PLACEHOLDER, node_jobs
from dispymon.model.views import ClientView
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app


class Named:
    threads: list[str] = []

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        Named.threads.append(threading.current_thread().name)
        return f"named-{self.name}"


class Loops:
    def __str__(self) -> str:
        while True:
            pass


async def wait_for(cond, hub, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not met in time"
        hub.read()
        await asyncio.sleep(0.02)


async def test_running_jobs_texts_are_made_off_the_loop_and_then_sent(static_dir):
    hub = Hub(asyncio.get_running_loop())
    create_app(hub, ServerConfig(static_dir=static_dir))
    Named.threads.clear()
    hub.feed(ClusterAttached("c", "JobCluster", (), (), 0))
    job = JobInfo(1, Named("id"), "127.0.0.2", 5.0, None, (Named("arg"), 2), {"k": Loops()}, None, None, 1, 1.0)
    plain = JobInfo(2, "plain-id", "127.0.0.2", 5.0, None, (1, "a"), {}, None, None, 2, 1.0)
    hub.feed(StatusEvent("c", ev.JOB_RUNNING, None, job))
    hub.feed(StatusEvent("c", ev.JOB_RUNNING, None, plain))
    state = hub.read()
    first = node_jobs(state, "127.0.0.2")
    assert (first["1"]["id"], first["1"]["args"]) == (PLACEHOLDER, PLACEHOLDER)
    assert (first["2"]["id"], first["2"]["args"]) == ("plain-id", "1, a")  # plain: made at once
    version = state.version
    await wait_for(lambda: node_jobs(hub.read(), "127.0.0.2")["1"]["id"] != PLACEHOLDER, hub)
    await wait_for(lambda: node_jobs(hub.read(), "127.0.0.2")["1"]["args"] != PLACEHOLDER, hub)
    made = node_jobs(hub.read(), "127.0.0.2")["1"]
    assert made["id"] == "named-id"
    # the arguments' texts are made by one call on the worker; the looping one is cut off as a whole
    assert made["args"].startswith("<an argument's __str__ took over 0.5 s: cut off>")
    assert hub.read().node_jobs_changed("127.0.0.2", version)  # so the next delta sends the job again
    assert Named.threads and all(name == "dispymon-guard" for name in Named.threads)


async def test_a_browser_watching_the_node_is_sent_the_texts_once_made(static_dir):
    """Its snapshot had '…'; the delta after the guard's answer carries the made texts (and only then)."""
    hub = Hub(asyncio.get_running_loop())
    create_app(hub, ServerConfig(static_dir=static_dir))
    hub.feed(ClusterAttached("c", "JobCluster", (), (), 0))
    job = JobInfo(1, Named("id"), "127.0.0.2", 5.0, None, (Named("arg"),), {}, None, None, 1, 1.0)
    hub.feed(StatusEvent("c", ev.JOB_RUNNING, None, job))
    view = ClientView(hub.read(), 1.0)
    view.watch("127.0.0.2")
    sent = view.snapshot()["node_jobs"]["jobs"]["1"]
    assert (sent["id"], sent["args"]) == (PLACEHOLDER, PLACEHOLDER)
    made: list[dict] = []

    def delta_with_job() -> bool:
        message = view.delta() or {}
        made.extend(message.get("node_jobs", {}).get("jobs", {}).get(k) for k in ("1",) if "node_jobs" in message)
        return any(m and m["args"] != PLACEHOLDER and m["id"] != PLACEHOLDER for m in made)

    await wait_for(delta_with_job, hub)
    assert made[-1]["id"] == "named-id" and made[-1]["args"] == "named-arg"
    assert "node_jobs" not in (view.delta() or {})  # sent once
