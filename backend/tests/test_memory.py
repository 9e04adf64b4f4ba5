"""memory.py: freed memory goes back to the OS where glibc allows it."""

from __future__ import annotations

import asyncio
import platform

import psutil
import pytest

from dispymon.features import memory

glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="malloc_trim is glibc's")
def test_trim_gives_freed_heap_pages_back():
    me = psutil.Process()
    # 2 KB blocks come from glibc's heap (not pymalloc); every 64th is kept,
    # so the freed ones are holes below the heap's top, which glibc keeps
    blocks = [bytearray(2048) for _ in range(100_000)]
    kept = blocks[::64]
    del blocks
    before = me.memory_info().rss
    assert memory.available() and memory.trim()
    after = me.memory_info().rss
    assert before - after > 100 * 2**20, f"RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MB"
    del kept  # held until the measurement


async def test_release_every_runs_until_cancelled():
    task = asyncio.create_task(memory.release_every(0.01))
    done, _ = await asyncio.wait({task}, timeout=0.1)
    assert not done if memory.available() else done  # without malloc_trim it returns at once
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.done()
