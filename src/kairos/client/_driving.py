"""The one loop that drives the client's sans-I/O generators, for sync and async alike.

A call machine (:mod:`._machine`) and a flow (:mod:`._flows`) are generators that yield
actions and are sent back what came of each. :func:`run_actions` steps such a generator to its
result, handing every action to an async ``perform``. The async drivers await it on the running
event loop. The sync drivers give it a ``perform`` whose awaits never suspend (it blocks
instead: ``httpx.Client``, ``time.sleep``) and run it with :func:`run_blocking`, in the
caller's thread and without an event loop, so both forms share every line but the I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["run_actions", "run_blocking"]

ActionT = TypeVar("ActionT")
ReplyT = TypeVar("ReplyT")
ResultT = TypeVar("ResultT")


async def run_actions(
    actions: Generator[ActionT, ReplyT, ResultT],
    perform: Callable[[ActionT], Awaitable[ReplyT]],
) -> ResultT:
    """Step ``actions`` to its result: send it what ``perform`` makes of each action. It is
    closed when ``perform`` fails, so its ``except`` and ``finally`` blocks run at the ``yield``
    where it waited before the failure goes on."""
    with contextlib.closing(actions):
        # Only the generator raises StopIteration here: from ``perform`` it is a RuntimeError.
        try:
            action = next(actions)
            while True:
                action = actions.send(await perform(action))
        except StopIteration as done:
            result: ResultT = done.value
            return result


def run_blocking(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run ``coroutine``, whose awaits all complete at once, to its result in this thread."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: ResultT = done.value
        return result
    coroutine.close()
    raise RuntimeError("a blocking driver awaited something that suspends")
