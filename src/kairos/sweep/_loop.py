"""The event loop that blocking ``sweep(client=...)`` calls run their ``arun`` calls on.

One daemon thread, started on first use and kept for the life of the process. Keeping it
matters: a client holds async connections per event loop, so a fresh ``asyncio.run`` per sweep
would leave one abandoned connection pool behind per call in a long notebook session, whereas
on this loop each client opens its pool once and ``client.close()`` closes it. It also lets a
blocking sweep run from inside a notebook, whose own loop is already running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="kairos-sweep-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the sweep loop and wait for it; an interrupt (Ctrl-C) cancels it."""
    future = asyncio.run_coroutine_threadsafe(coro, _get_loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
