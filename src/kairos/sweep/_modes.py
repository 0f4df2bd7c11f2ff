"""The three ways a sweep runs its scenarios; each returns one summary per scenario, in order.

* local: :func:`~._worker.summarize_chunk` in this process, in batches (the engine's lock-step
  batch mode; numpy does the per-scenario work);
* Dask: the same function on a ``distributed.Client``'s workers, one task per batch; Dask
  schedules, retries and moves the data (we never schedule anything ourselves);
* server: one ``client.arun`` per scenario, at most ``concurrency`` at once
  (``asyncio.Semaphore``), over the client's shared connection pool.

Every path runs the engine version resolved once before the sweep starts, so the rows are equal
bit for bit whichever path computed them (tested).
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kairos import engine
from kairos.errors import EngineVersionError, MissingDependencyError

from ._chunk import FIRST_LOSS_KEY, summarize_chunk
from ._progress import Progress

if TYPE_CHECKING:
    from distributed import Client as DaskClient

Summaries = list[dict[str, Any]]


class SweepClient(Protocol):
    """What a sweep needs of a ``KairosClient``."""

    @property
    def engine_version(self) -> str | None: ...

    @property
    def engine(self) -> Any: ...

    def arun(self, scenario: Any, ticks: int, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...


def local_version(requested: str | None) -> str:
    """The engine version the local engine runs for ``requested`` (``None``: its default),
    raising the same ``EngineVersionError`` a server would."""
    try:
        return engine.resolve_version(requested).version
    except engine.EngineVersionError as exc:
        raise EngineVersionError(
            f"Engine version {exc.requested!r} is {'retired' if exc.retired else 'unknown'} in "
            f"this SDK's engine. Active versions: {', '.join(exc.active)}.",
            requested=exc.requested,
            available=exc.active,
        ) from None


async def client_version(client: SweepClient, requested: str | None) -> str:
    """The version a server run will use: the request, else the client's pin, else the
    server's default (asked once)."""
    if requested is not None:
        return requested
    if client.engine_version is not None:
        return client.engine_version
    versions = await client.engine.aversions()
    return str(versions.default)


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_local(
    scenarios: Sequence[Mapping[str, Any]],
    ticks: int,
    version: str,
    batch_size: int,
    progress: Progress,
) -> Summaries:
    out: Summaries = []
    for chunk in chunks(scenarios, batch_size):
        out += summarize_chunk(
            chunk, ticks, version, functools.partial(_scaled, progress, len(chunk))
        )
    return out


def _scaled(progress: Progress, runs: int, ticks: int) -> None:
    progress.update(ticks * runs)


def run_dask(
    executor: DaskClient,
    scenarios: Sequence[Mapping[str, Any]],
    ticks: int,
    version: str,
    batch_size: int,
    progress: Progress,
) -> Summaries:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - an executor implies distributed is installed
        raise MissingDependencyError("executor=", "Dask", "distributed") from None
    if not isinstance(executor, Client):
        raise TypeError(
            f"executor must be a dask.distributed.Client, got {type(executor).__name__}"
        )
    dask: Any = executor  # distributed's Client methods are untyped
    wait_for: Any = as_completed
    # One task per worker thread, each as large as batch_size allows: batch mode's cost per
    # scenario falls steeply with the batch size (per-tick numpy overhead), which outweighs
    # evening out stragglers with smaller tasks. pure=False: hashing every scenario for a task
    # key costs more than a sweep gains from Dask's deduplication.
    threads = max(1, sum(dask.nthreads().values()))
    size = max(1, min(batch_size, math.ceil(len(scenarios) / threads)))
    parts = chunks(scenarios, size)
    futures = dask.map(
        summarize_chunk,
        [list(p) for p in parts],
        ticks=ticks,
        engine_version=version,
        pure=False,
    )
    sizes = {future.key: len(part) for future, part in zip(futures, parts, strict=True)}
    try:
        for future in wait_for(futures):
            progress.runs(sizes[future.key])
        results: list[Summaries] = dask.gather(futures)
    except BaseException:
        dask.cancel(futures)
        raise
    return [summary for part in results for summary in part]


async def run_client(
    client: SweepClient,
    scenarios: Sequence[Mapping[str, Any]],
    ticks: int,
    version: str,
    concurrency: int,
    progress: Progress,
) -> Summaries:
    gate = asyncio.Semaphore(concurrency)

    async def one(scenario: Mapping[str, Any]) -> dict[str, Any]:
        async with gate:
            trace = await client.arun(
                scenario, ticks, engine_version=version, progress=progress.update
            )
        if trace.metadata.engine_version != version:
            raise RuntimeError(
                f"the server ran engine {trace.metadata.engine_version} for a run pinned to "
                f"{version}"
            )
        summary: dict[str, Any] = trace.summary().model_dump(by_alias=True)
        losses = trace.basin_losses()
        summary[FIRST_LOSS_KEY] = losses[0].tick if losses else None
        return summary

    tasks = [asyncio.ensure_future(one(scenario)) for scenario in scenarios]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
