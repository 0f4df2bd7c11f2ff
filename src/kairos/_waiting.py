"""``asyncio.wait_for`` without its flaw before Python 3.12.

Up to 3.11, ``wait_for`` swallows a cancellation of the waiting task that arrives just as the
awaited thing finishes, and returns its result instead (CPython gh-86296). A consumer of a busy
stream is exactly there most of the time, so ``task.cancel()`` or Ctrl-C was sometimes lost
and the stream went on. :func:`wait_within` always lets a cancellation through.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["wait_within"]

T = TypeVar("T")


async def wait_within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """Await ``awaitable`` for at most ``timeout`` seconds (None: no limit); on timeout it is
    cancelled and ``TimeoutError`` raised. A cancellation of the caller is never swallowed."""
    if sys.version_info >= (3, 12):
        return await asyncio.wait_for(awaitable, timeout)
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait((task,))
        if not task.cancelled() and task.exception() is None:
            return task.result()  # it finished as it was being cancelled: keep the result
        raise asyncio.TimeoutError
    return task.result()
