"""``wait_within`` lets a cancellation through even when it arrives just as the awaited thing
finishes: ``asyncio.wait_for`` before Python 3.12 swallowed it (CPython gh-86296), which lost
``task.cancel()`` and Ctrl-C on busy streams now and then."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kairos._waiting import wait_within


async def cancelled_as_it_finishes(wait: Callable[[Awaitable[Any], float], Awaitable[Any]]) -> str:
    loop = asyncio.get_running_loop()
    inner: asyncio.Future[int] = loop.create_future()
    waiter = asyncio.ensure_future(wait(inner, 10.0))
    await asyncio.sleep(0)  # the waiter is now waiting on inner
    inner.set_result(1)
    waiter.cancel()
    try:
        result = await waiter
    except asyncio.CancelledError:
        return "cancelled"
    return f"returned {result}"


async def test_a_cancellation_as_the_result_arrives_is_not_swallowed() -> None:
    assert await cancelled_as_it_finishes(wait_within) == "cancelled"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="asyncio.wait_for is fixed in 3.12")
async def test_the_flaw_it_avoids_is_real_here() -> None:
    assert await cancelled_as_it_finishes(asyncio.wait_for) == "returned 1"


async def test_results_errors_and_timeouts() -> None:
    async def value() -> int:
        await asyncio.sleep(0)
        return 7

    async def boom() -> None:
        raise ValueError("x")

    assert await wait_within(value(), 1.0) == 7
    assert await wait_within(value(), None) == 7
    with pytest.raises(ValueError):
        await wait_within(boom(), 1.0)
    slow = asyncio.ensure_future(asyncio.sleep(10))
    with pytest.raises(asyncio.TimeoutError):
        await wait_within(slow, 0.01)
    assert slow.cancelled()


async def test_a_plain_cancellation_cancels_the_inner_task() -> None:
    inner = asyncio.ensure_future(asyncio.sleep(10))
    waiter = asyncio.ensure_future(wait_within(inner, 5.0))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert inner.cancelled()
