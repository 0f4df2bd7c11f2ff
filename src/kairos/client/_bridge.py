"""The sync API's private event loop: the async machinery, driven from blocking code.

``subscribe``/``stream_run`` do not have a second, thread-based WebSocket implementation:
they run the async one on a daemon thread's event loop and hand items over through a queue.
Credits (a semaphore released as the consumer takes items) bound what sits in the hand-over,
so a slow consumer holds at most ``bound`` items here, and the subscription's own bounded queue
then slows the socket: memory stays constant.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from typing import Any, TypeVar, cast

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop on a daemon thread, started on first use."""

    def __init__(self, name: str = "kairos-client-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop()).result()

    def iterate(
        self, factory: Callable[[], AsyncGenerator[T, None]], bound: int = 4
    ) -> Iterator[T]:
        """Iterate, from this thread, the async generator ``factory()`` run on the loop.

        Leaving the loop early (``break``, an exception, garbage collection) closes the async
        generator on the loop, so its subscription is stopped.
        """
        loop = self.loop()
        handover: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        credits = asyncio.Semaphore(bound)

        async def pump() -> None:
            agen = factory()
            try:
                async for item in agen:
                    await credits.acquire()
                    handover.put(("item", item))
                handover.put(("end", None))
            except BaseException as exc:
                handover.put(("error", exc))
                raise
            finally:
                await agen.aclose()

        future = asyncio.run_coroutine_threadsafe(pump(), loop)
        try:
            while True:
                kind, value = handover.get()
                if kind == "item":
                    loop.call_soon_threadsafe(credits.release)
                    yield cast(T, value)
                elif kind == "end":
                    return
                else:
                    raise cast(BaseException, value)
        finally:
            future.cancel()

    def stop(self, final: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``final`` (closing what lives on the loop), then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            if final is not None:
                final.close()
            return
        if final is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(Exception):  # closing must not fail
                asyncio.run_coroutine_threadsafe(final, loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
