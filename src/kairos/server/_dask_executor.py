"""Running simulations on a Dask cluster (``kairos serve --executor tcp://scheduler:8786``).

A run is a chain of segments (:func:`kairos.server._segment.run_segment`), each a Dask task
that starts from the checkpoint the previous one ended at and computes about a quarter of a
second of steps. The results come back through the task's future, and the server writes them
to its store, each chunk with its checkpoint, exactly as a local worker does. So:

* Dask workers need the kairos-sdk package and nothing else: no access to the database, no
  credentials; the server is the store's only writer, whatever the storage backend.
* A worker that dies takes at most one segment with it: Dask's scheduler computes the task
  again on another worker from the same inputs (the last stored checkpoint), so the trace is
  the one an uninterrupted run gives. After ``distributed.scheduler.allowed-failures`` deaths
  (default 3) Dask gives up on the task (``KilledWorker``) and the run is failed with
  ``worker_crashed``, as the local pool does after three.
* Scheduling is Dask's: every simulation's next segment is submitted at once, with a priority
  that puts older simulations first (so runs finish in the order they came, as with local
  workers, instead of all advancing together).
* Cancellation is honoured between segments, and while a running simulation's segment waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from kairos import engine
from kairos.errors import MissingDependencyError
from kairos.server._execute import utc_now
from kairos.server._executor import ExecutorError
from kairos.server._segment import SegmentJob, SegmentResult, run_segment
from kairos.server._store import SimulationRecord, SimulationStore

log = logging.getLogger("kairos.server")

SEGMENT_SECONDS = 0.25
"""About how long one segment computes: what a dead worker costs, and a stream's latency."""

CANCEL_POLL_SECONDS = 0.5
"""How often a running simulation waiting on its segment checks for a cancellation."""

MAX_RETRIES = 3
"""How often a run interrupted by an unexpected error (the store, say) is taken up again before
it is left ``running`` for the next server. A segment the cluster lost is retried without end."""


class _Lost(Exception):
    """The cluster dropped a segment without computing it (the scheduler was lost, or the
    future was cancelled under us): the run is taken up again from the store."""


class DaskExecutor:
    """Simulations as chains of Dask tasks on the cluster of one ``distributed.Client``."""

    def __init__(
        self,
        client: Any,
        store: SimulationStore,
        notify: Callable[[str], None],
        *,
        chunk_steps: int = 256,
        segment_seconds: float = SEGMENT_SECONDS,
    ) -> None:
        self._client = client
        self._store = store
        self._notify = notify
        self._chunk_steps = chunk_steps
        self._segment_seconds = segment_seconds
        self._started = False
        self._backlog: list[str] = []
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()

    @classmethod
    async def connect(
        cls,
        address: str,
        store: SimulationStore,
        notify: Callable[[str], None],
        *,
        timeout: float = 10.0,
        chunk_steps: int = 256,
    ) -> DaskExecutor:
        """Connect to the scheduler at ``address``; :class:`ExecutorError` if it cannot be
        reached within ``timeout`` seconds."""
        client = await connect_client(address, timeout)
        log.info("running simulations on the Dask cluster at %s", address)
        return cls(client, store, notify, chunk_steps=chunk_steps)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (asynchronous) the segments are submitted with."""
        return self._client

    def start(self) -> None:
        self._started = True
        backlog, self._backlog = self._backlog, []
        for simulation_id in backlog:
            self.submit(simulation_id)

    def submit(self, simulation_id: str) -> None:
        if not self._started:
            self._backlog.append(simulation_id)
            return
        if simulation_id in self._drivers:
            return
        self._waiting.add(simulation_id)
        self._drivers[simulation_id] = asyncio.create_task(
            self._drive(simulation_id), name=f"kairos-dask-{simulation_id}"
        )

    @property
    def pending(self) -> int:
        return len(self._waiting) + len(self._backlog)

    async def stop(self) -> None:
        """Stop driving runs (they stay ``running`` with their checkpoint) and disconnect."""
        drivers = list(self._drivers.values())
        for task in drivers:
            task.cancel()
        for task in drivers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.close(), 10)

    # -- one run ---------------------------------------------------------------------------

    async def _drive(self, simulation_id: str) -> None:
        """Run one simulation to a final status, taking it up again from the store when the
        cluster loses its segment (for as long as this server runs: the scheduler may come
        back) or an unexpected error interrupts it (:data:`MAX_RETRIES` times)."""
        failures = lost = 0
        try:
            while True:
                try:
                    await self._run(simulation_id)
                    return
                except _Lost as exc:
                    lost += 1
                    reason, delay = str(exc), min(10.0, 0.25 * 2**lost)
                except Exception as exc:
                    failures += 1
                    if failures > MAX_RETRIES:
                        log.error(
                            "giving up on %s for now (%s: %s); it resumes from its last "
                            "checkpoint when a server is started again",
                            simulation_id,
                            type(exc).__name__,
                            exc,
                        )
                        return
                    reason, delay = f"{type(exc).__name__}: {exc}", 0.5 * 2**failures
                log.warning(
                    "running %s on Dask was interrupted (%s); taking it up again from its "
                    "last checkpoint in %.1f s",
                    simulation_id,
                    reason,
                    delay,
                )
                await asyncio.sleep(delay)
        finally:
            self._drivers.pop(simulation_id, None)
            self._waiting.discard(simulation_id)
            self._notify(simulation_id)

    async def _run(self, simulation_id: str) -> None:
        store = self._store
        record = await asyncio.to_thread(store.get, simulation_id)
        if record is None or record.finished:
            return
        tick, checkpoint, summary_state = await asyncio.to_thread(resume_point, store, record)
        decrees = await asyncio.to_thread(store.decrees, simulation_id)
        applied = [d for d in decrees if d.status == "applied"]
        running = record.status == "running"
        while True:
            if running and await asyncio.to_thread(store.cancel_requested, simulation_id):
                await self._finish(simulation_id, "cancelled")
                return
            # As a local worker does between chunks: pending decrees take effect at the next
            # tick not computed (no segment of this run is in flight now).
            applied += await asyncio.to_thread(
                store.claim_decrees, simulation_id, tick + 1, record.ticks
            )
            job = SegmentJob(
                simulation_id=simulation_id,
                scenario_json=record.scenario_json,
                engine_version=record.engine_version,
                ticks=record.ticks,
                checkpoint=checkpoint,
                decrees=tuple(applied),
                summary_state=summary_state,
                chunk_steps=self._chunk_steps,
                budget_seconds=self._segment_seconds,
            )
            try:
                result = await self._compute(job, record, watch_cancel=running)
            except _Crashed as crash:
                await self._finish(simulation_id, "failed", error=("worker_crashed", str(crash)))
                return
            except _TaskError as error:
                await self._finish(simulation_id, "failed", error=("executor_error", str(error)))
                return
            if result is None:  # cancelled while its segment was computed
                await self._finish(simulation_id, "cancelled")
                return
            if not running:
                if not await asyncio.to_thread(store.mark_running, simulation_id):
                    await self._finish(simulation_id, "cancelled")  # cancelled while queued
                    return
                running = True
                self._waiting.discard(simulation_id)
            for first_tick, lines, chunk_checkpoint in result.chunks:
                await asyncio.to_thread(
                    store.append_chunk,
                    simulation_id,
                    first_tick,
                    lines,
                    checkpoint=chunk_checkpoint,
                )
                self._notify(simulation_id)
            if result.error is not None:
                await self._finish(simulation_id, "failed", error=result.error)
                return
            if result.summary_json is not None:
                # decrees filed during the last segment come too late: rejected, with a reason
                await asyncio.to_thread(
                    store.claim_decrees, simulation_id, record.ticks + 1, record.ticks
                )
                await self._finish(simulation_id, "completed", summary_json=result.summary_json)
                return
            first_tick, lines, checkpoint = result.chunks[-1]
            tick, summary_state = first_tick + len(lines) - 1, result.summary_state

    async def _compute(
        self, job: SegmentJob, record: SimulationRecord, *, watch_cancel: bool
    ) -> SegmentResult | None:
        """The segment computed on the cluster; None if the run was cancelled meanwhile."""
        future = self._client.submit(
            run_segment,
            job,
            key=f"kairos-segment-{job.simulation_id}-{uuid.uuid4().hex[:12]}",
            priority=-record.seq,
            pure=False,
        )
        waiter: asyncio.Future[Any] = asyncio.ensure_future(_result(future))
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=CANCEL_POLL_SECONDS)
                if done:
                    break
                if watch_cancel and await asyncio.to_thread(
                    self._store.cancel_requested, job.simulation_id
                ):
                    return None
            try:
                result = waiter.result()
            except Exception as exc:
                raise _classify(future, exc) from None
            if not isinstance(result, SegmentResult):
                raise _TaskError(f"a segment returned {type(result).__name__}")
            return result
        finally:
            if not waiter.done():  # cancelled, or the server stops: drop the task on the cluster
                waiter.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._client.cancel([future]), 5)
            future.release()  # the scheduler forgets the result once the server has it

    async def _finish(
        self,
        simulation_id: str,
        status: str,
        *,
        summary_json: str | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        error_json = json.dumps({"code": error[0], "message": error[1]}) if error else None
        if status != "completed":
            await asyncio.to_thread(
                self._store.reject_pending_decrees, simulation_id, f"the simulation {status}"
            )
        await asyncio.to_thread(
            self._store.finish,
            simulation_id,
            status,
            completed_at=utc_now(),
            summary_json=summary_json,
            error_json=error_json,
        )


class _Crashed(Exception):
    """Dask gave up on a segment whose workers kept dying (``KilledWorker``)."""


class _TaskError(Exception):
    """A segment raised on its worker: a broken installation there, not the engine."""


async def _result(future: Any) -> Any:
    return await future


def _classify(future: Any, exc: BaseException) -> Exception:
    """What a segment's failure means for its run."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        failures = exc.args[2] if len(exc.args) > 2 and isinstance(exc.args[2], int) else None
        times = "" if failures is None else " once" if failures == 0 else f" {failures + 1} times"
        return _Crashed(f"the Dask workers computing this simulation died{times}")
    if getattr(future, "status", None) == "error":
        return _TaskError(f"a Dask worker could not run it: {type(exc).__name__}: {exc}")
    return _Lost(f"{type(exc).__name__}: {exc}")


def resume_point(
    store: SimulationStore, record: SimulationRecord
) -> tuple[int, bytes | None, dict[str, Any] | None]:
    """Where a run continues: the last tick stored, its checkpoint (None: from tick 0) and the
    summary state of the stored steps before it. Steps stored after the checkpoint (impossible
    with the store's transactions, but cheap to guard) are dropped, as :func:`execute` does."""
    checkpoint = store.latest_checkpoint(record.id)
    if checkpoint is None or record.tick == 0:
        if record.tick:
            store.rewind(record.id, 0)
        return 0, None, None
    tick, data = checkpoint
    if tick != record.tick:
        store.rewind(record.id, tick)
    summary = engine.SummaryAccumulator()
    for _first, _last, lines in store.iter_chunks(record.id, after_tick=0):
        for line in lines:
            summary.add(json.loads(line))
    return tick, data, summary.to_state()


async def connect_client(address: str, timeout: float) -> Any:
    """An asynchronous ``distributed.Client`` connected to ``address`` (on the running loop),
    or :class:`ExecutorError` with the reason in one line."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingDependencyError(
            "--executor with a Dask scheduler", "Dask", "distributed"
        ) from None
    try:
        client = await Client(  # type: ignore[no-untyped-call]
            address, asynchronous=True, timeout=timeout, set_as_default=False
        )
    except (OSError, ValueError, TypeError, asyncio.TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    return client
