"""The one runtime that serve, demo, the drop-in and the benchmarks assemble from (runtime/runtime.py)."""

from __future__ import annotations

import asyncio

import aiohttp

from conftest import WSClient
from dispymon.model import events as ev
from dispymon.runtime.runtime import Runtime
from dispymon.runtime.settings import Settings
from factories import attached, node, status


async def test_stop_sends_a_paused_browser_the_final_state(static_dir):
    # `dispymon serve` used to stop without a last frame: a paused browser
    # (interval 0) kept whatever it had. Stopping now flushes every browser,
    # as the drop-in's shutdown(wait=True) always did.
    runtime = Runtime(Settings(host="127.0.0.1", port=0, poll_sec=0, static_dir=static_dir),
                      asyncio.get_running_loop())  # fmt: skip
    port = await runtime.start()
    assert port != 0 and runtime.port == port and runtime.url == f"http://127.0.0.1:{port}/"
    runtime.feed(attached("c"))
    async with aiohttp.ClientSession() as session:
        ws = WSClient(await session.ws_connect(f"http://127.0.0.1:{port}/ws"))
        await ws.recv()  # hello
        await ws.until(lambda m: "c" in m.clusters, timeout=10, what="the snapshot", fresh=False)
        runtime.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
        stopping = asyncio.create_task(runtime.stop(final=True))
        # a delta, unasked (no resync: the browser is paused)
        await ws.until(lambda m: m.messages[-1]["type"] == "delta", timeout=10, what="the final state", fresh=False)
        await stopping
        server = runtime.hub.read().snapshot()[0]["clusters"]["c"]["nodes"]
        assert ws.messages[-1]["clusters"]["c"]["nodes"] == server  # the new node, complete
        await ws.ws.close()


async def test_the_dispy_queue_patch_is_off_unless_the_settings_ask(static_dir):
    loop = asyncio.get_running_loop()
    assert not Runtime(Settings(port=0, static_dir=static_dir), loop).adapter._patch_queue
    assert Runtime(Settings(port=0, static_dir=static_dir, patch_dispy_queue=True), loop).adapter._patch_queue


async def test_one_job_key_sequence_for_the_adapter_and_a_source(static_dir):
    loop = asyncio.get_running_loop()
    given = []

    def source(hub, keys):
        given.append(keys)
        return None

    runtime = Runtime(Settings(port=0, static_dir=static_dir), loop, source, key_start=42)
    assert given == [runtime.keys] and runtime.adapter.keys is runtime.keys
    assert runtime.keys.key(1, 1.0, "c") == 42  # after a history database's largest key
