"""Worker processes that run simulations off the event loop, and the notifications that wake
streams when a simulation makes progress."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable

from kairos._waiting import wait_within
from kairos.server._execute import utc_now
from kairos.server._store import REPLICA_ENV, SimulationStore
from kairos.server._worker import PARENT_ENV

log = logging.getLogger("kairos.server")

MAX_ATTEMPTS = 3
"""How many worker processes may die on one simulation before it is marked failed."""


class Notifier:
    """Wakes the streams of a simulation when a worker reports progress or an end.

    Notifications are hints: a woken stream re-reads the store, and a stream also re-reads after
    a timeout, so a lost hint costs latency, never data.
    """

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def notify(self, simulation_id: str) -> None:
        for future in self._waiters.pop(simulation_id, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, simulation_id: str, timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(simulation_id, set()).add(future)
        try:
            await wait_within(future, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(simulation_id)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[simulation_id]


WORKER_COMMAND = "import sys; from kairos.server._worker import main; sys.exit(main(sys.argv[1:]))"
"""What a worker process runs (``python -c``). Not ``-m kairos.server._worker``: runpy would
import the package ``kairos.server`` first, which imports ``_worker`` (through this module), and
then warn on stderr that it runs a module already imported."""


class WorkerPool:
    """``size`` worker processes (``python -c WORKER_COMMAND DB``) fed from one queue."""

    def __init__(
        self,
        store: SimulationStore,
        size: int,
        notify: Callable[[str], None],
        *,
        python: str = sys.executable,
    ) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._store = store
        self._size = size
        self._notify = notify
        self._python = python
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._processes: set[asyncio.subprocess.Process] = set()

    @property
    def db_location(self) -> str:
        return self._store.location

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._serve(n), name=f"kairos-worker-{n}")
            for n in range(self._size)
        ]

    def submit(self, simulation_id: str) -> None:
        self._queue.put_nowait(simulation_id)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def stop(self) -> None:
        """Stop the workers. Running simulations stay 'running' in the store with their last
        checkpoint, and are resumed when a server opens the store again."""
        for task in self._tasks:
            task.cancel()
        for process in list(self._processes):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for process in list(self._processes):
            with contextlib.suppress(Exception):
                await wait_within(process.wait(), 5)
        self._tasks = []

    async def _spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            self._python,
            "-c",
            WORKER_COMMAND,
            self._store.location,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env={
                **os.environ,
                PARENT_ENV: str(os.getpid()),
                REPLICA_ENV: self._store.replica_id or "",
            },
        )
        self._processes.add(process)
        return process

    async def _serve(self, index: int) -> None:
        process: asyncio.subprocess.Process | None = None
        try:
            while True:
                simulation_id = await self._queue.get()
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    if process is None or process.returncode is not None:
                        process = await self._spawn()
                    status = await self._run_one(process, simulation_id)
                    if status is not None:
                        break
                    log.warning(
                        "worker %d died running %s (attempt %d of %d)",
                        index,
                        simulation_id,
                        attempt,
                        MAX_ATTEMPTS,
                    )
                    self._processes.discard(process)
                    process = None
                else:
                    self._store.finish(
                        simulation_id,
                        "failed",
                        completed_at=utc_now(),
                        error_json=json.dumps(
                            {
                                "code": "worker_crashed",
                                "message": f"the worker process died {MAX_ATTEMPTS} times "
                                "running this simulation",
                            }
                        ),
                    )
                self._notify(simulation_id)
        finally:
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()

    async def _run_one(self, process: asyncio.subprocess.Process, simulation_id: str) -> str | None:
        """Hand one simulation to a worker; its final status, or None if the worker died."""
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{simulation_id}\n".encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return None
        while True:
            line = await process.stdout.readline()
            if not line:
                await process.wait()
                return None
            kind, _, rest = line.decode().strip().partition(" ")
            sim, _, value = rest.partition(" ")
            if sim != simulation_id:
                continue
            self._notify(simulation_id)
            if kind == "end":
                return value
