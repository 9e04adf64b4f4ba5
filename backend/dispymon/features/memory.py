"""Giving memory the server has freed back to the operating system.

glibc's malloc keeps what a process frees for its own later use: it returns
only the top of its heap, and only above a threshold that grows whenever a
large block is freed. A dashboard's memory churns in large blocks (each
second's delta for thousands of nodes, encoded and compressed per browser on
aiohttp's executor threads, each with its own malloc arena), so without help
the resident size climbs to a high-water mark and stays there: benchmark 8
measured 8-10 MB of its rise as free memory glibc kept. `malloc_trim(0)`
hands every whole free page of every arena back (about 0.2 ms at 200 MB
here), so the server calls it once a second (server.py). Where libc has no
`malloc_trim` (macOS, musl) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_trim = _find_trim()


def available() -> bool:
    return _trim is not None


def trim() -> bool:
    """Release the allocator's free pages now; False where that is not possible."""
    if _trim is None:
        return False
    _trim(0)
    return True


async def release_every(interval: float) -> None:
    """trim() every `interval` seconds, on the loop (runs until cancelled)."""
    if not available():
        return
    while True:
        await asyncio.sleep(interval)
        trim()
