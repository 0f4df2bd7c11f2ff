"""The sync API's private event loop: the async machinery, driven from blocking code.

``subscribe``/``stream_run`` do not have a second, thread-based WebSocket implementation:
they run the async one on a daemon thread's event loop and hand items over through a queue.
Credits (a semaphore released as the consumer takes items) bound what sits in the hand-over,
so a slow consumer holds at most ``bound`` items here, and the subscription's own bounded queue
then slows the socket: memory stays constant.

There is one such loop thread per process (:func:`shared_loop`), started on first use: every
client's sync API and blocking sweeps run on it, and it is stopped at interpreter exit, after
the clients left open are closed.

A consumer that leaves (``break`` and garbage collection, ``close()``, an exception such as
KeyboardInterrupt) closes the async iterator on the loop and waits for that to finish, so its
subscription is stopped before the consumer goes on. The loop itself is stopped as
``asyncio.run`` stops one: remaining tasks are cancelled and awaited, async generators closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, cast

from kairos.errors import APIConnectionError

from ._exit import LOOP, at_exit

__all__ = ["BridgedIterator", "LoopThread", "shared_loop"]

T = TypeVar("T")

CLOSE_WAIT_SECONDS = 15.0
"""How long leaving a stream waits for it to be stopped (and its own simulation cancelled)."""


def client_closed() -> APIConnectionError:
    """What a stream raises when its client was closed under it."""
    return APIConnectionError("the KairosClient was closed while this stream was open")


class LoopThread:
    """An event loop on a daemon thread, started on first use."""

    def __init__(self, name: str = "kairos-client-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> asyncio.AbstractEventLoop | None:
        """The loop, if it runs."""
        return self._loop

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        _finish(loop)

                self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def iterate(
        self, factory: Callable[[], AsyncGenerator[T, None]], bound: int = 4
    ) -> BridgedIterator[T]:
        """Iterate, from this thread, the async generator ``factory()`` run on the loop."""
        return BridgedIterator(self.loop(), factory, bound)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result; an interrupt (Ctrl-C) while waiting
        cancels it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    @property
    def on_its_thread(self) -> bool:
        """Whether the caller runs on the loop's thread (it must not wait for the loop)."""
        return self._thread is threading.current_thread()

    def stop(self) -> None:
        """Stop the loop and its thread (what is left on it is cancelled and awaited)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop() -> LoopThread:
    """The process's one loop thread for blocking code (stopped at interpreter exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoopThread("kairos-loop")
            at_exit(LOOP, _shared.stop)
        return _shared


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """After the loop stopped: cancel and await what is left, close generators, close it."""
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


class BridgedIterator(Generic[T]):
    """A blocking iterator over an async generator that runs on another thread's loop.

    ``close()`` (also on garbage collection) stops the async generator and waits, bounded,
    until it has finished; from the loop's own thread it only asks it to stop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], AsyncGenerator[T, None]],
        bound: int,
    ) -> None:
        self._loop = loop
        self._handover: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._finished = threading.Event()
        self._done = False
        handover, finished = self._handover, self._finished
        credits = asyncio.Semaphore(bound)
        self._credits = credits
        # The pump must not refer to ``self``: the iterator is closed when it is collected.
        task: list[asyncio.Task[Any] | None] = [None]
        self._task = task

        async def pump() -> None:
            task[0] = asyncio.current_task()
            agen = factory()
            try:
                async for item in agen:
                    await credits.acquire()
                    handover.put(("item", item))
                handover.put(("end", None))
            except asyncio.CancelledError:
                handover.put(("error", client_closed()))
                raise
            except BaseException as exc:  # handed to the consumer, raised there
                handover.put(("error", exc))
            finally:
                try:
                    await agen.aclose()
                finally:
                    finished.set()

        def ended(_: Future[None]) -> None:
            # Also when the task was cancelled before it ever ran: never leave the consumer
            # waiting for an item that cannot come.
            handover.put(("error", client_closed()))
            finished.set()

        self._future = asyncio.run_coroutine_threadsafe(pump(), loop)
        self._future.add_done_callback(ended)

    def __iter__(self) -> BridgedIterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            kind, value = self._handover.get()
        except BaseException:
            self.close()
            raise
        if kind == "item":
            with contextlib.suppress(RuntimeError):  # the loop is closed: the next get() ends
                self._loop.call_soon_threadsafe(self._credits.release)
            return cast(T, value)
        self._done = True
        if kind == "end":
            raise StopIteration
        raise cast(BaseException, value)

    def close(self) -> None:
        """Stop the stream (harmless once it has ended)."""
        if self._done and self._finished.is_set():
            return
        self._done = True
        if self._finished.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(self._stop)
        except RuntimeError:  # the loop is closed: nothing runs any more
            return
        if not self._on_loop_thread():
            self._finished.wait(CLOSE_WAIT_SECONDS)

    def _stop(self) -> None:
        if self._task[0] is not None:
            self._task[0].cancel()
        else:  # not started yet
            self._future.cancel()

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # late in interpreter shutdown: nothing to stop
            self.close()
