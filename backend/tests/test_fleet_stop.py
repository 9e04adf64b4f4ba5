"""Stopping the fleet's tasks ends, even when a task loses its cancel (fleet/broker.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dispymon.fleet import broker as brk


async def _retrying_loop(check: bool) -> None:
    """A loop retrying on failures, as the fleet's are, whose read's timeout turns the first cancel
    into a TimeoutError (as Python 3.11's timeouts may, when both come at once)."""
    lost = False
    while True:
        try:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if not lost:
                    lost = True
                    raise TimeoutError from None
                raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if check and brk.cancelled():
                raise asyncio.CancelledError from exc


async def test_a_loop_that_asks_whether_it_was_cancelled_stops_at_one_cancel() -> None:
    task = asyncio.create_task(_retrying_loop(check=True))
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()


async def test_stopping_cancels_again_a_task_that_lost_its_cancel() -> None:
    task = asyncio.create_task(_retrying_loop(check=False))
    await asyncio.sleep(0.05)
    await brk.stop_tasks([task], timeout=5.0)
    assert task.done() and task.cancelled()


async def test_a_task_that_never_stops_is_left_after_the_timeout_and_said(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # swallows every cancel until released

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING):
        await brk.stop_tasks([task], timeout=0.3)
    assert not task.done()
    assert "did not stop within 0.3 s: stubborn" in caplog.text
    release.set()
    await task
