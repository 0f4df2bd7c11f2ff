"""Where a sweep runs: :class:`SweepPlan`, chosen once per sweep, and its three ways of running
the scenarios, each giving one summary per scenario, in order.

* local: :func:`~._chunk.summarize_chunk` in this process, in batches (the engine's lock-step
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kairos import engine
from kairos._arguments import Arguments, describe
from kairos.errors import EngineVersionError, MissingDependencyError

from . import _loop
from ._chunk import FIRST_LOSS_KEY, summarize_chunk
from ._progress import Progress
from ._rows import SweepRow
from ._scenarios import Build, build_scenarios

if TYPE_CHECKING:
    from distributed import Client as DaskClient

Summaries = list[dict[str, Any]]
Scenarios = Sequence[Mapping[str, Any]]

BATCH_SIZE = 1024
"""Scenarios per engine batch (local path) and at most per Dask task. Batch mode's cost per
scenario falls as batches grow; past a few hundred scenarios it is flat, and smaller batches
keep the progress bar moving and memory small."""


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


@dataclass(frozen=True)
class SweepPlan:
    """Where runs happen, with the engine version pinned once for all of them."""

    version: str
    client: SweepClient | None = None
    dask: DaskClient | None = None
    concurrency: int = 16
    batch_size: int = BATCH_SIZE

    @classmethod
    def choose(
        cls,
        args: Arguments,
        engine_version: object,
        client: SweepClient | None,
        executor: DaskClient | None,
        concurrency: object,
        batch_size: object,
    ) -> SweepPlan:
        """Check where to run (problems go to ``args``, raised before any version is looked
        up) and resolve the engine version once."""
        if client is not None and executor is not None:
            args.add("executor", "pass client= (run on a server) or executor= (Dask), not both")
        if client is not None and not callable(getattr(client, "arun", None)):
            args.add("client", f"must be a KairosClient, got {describe(client)}")
        if executor is not None and not _is_dask_client(executor):
            args.add("executor", f"must be a dask.distributed.Client, got {describe(executor)}")
        concurrency = args.integer("concurrency", concurrency, minimum=1)
        batch_size = args.integer("batch_size", batch_size, minimum=1)
        args.string("engine_version", engine_version)
        args.check()
        assert engine_version is None or isinstance(engine_version, str)
        if client is not None:
            version = _loop.run(client_version(client, engine_version))
            return cls(version, client=client, concurrency=concurrency)
        return cls(local_version(engine_version), dask=executor, batch_size=batch_size)

    @property
    def path(self) -> str:
        """Where the runs happen: ``"server"``, ``"dask"`` or ``"local"``."""
        if self.client is not None:
            return "server"
        return "local" if self.dask is None else "dask"

    def rows(
        self,
        build: Build,
        points: Sequence[Mapping[str, Any]],
        ticks: int,
        progress: bool | None,
        description: str = "sweep",
    ) -> list[SweepRow]:
        """Build a scenario per point, run them all, and give one row per point, in order."""
        scenarios = build_scenarios(build, points, ticks)
        with Progress(len(scenarios), ticks, progress, description) as bar:
            summaries = self.summaries(scenarios, ticks, bar)
        return [
            SweepRow.from_summary(point, scenario, ticks, self.version, summary)
            for point, scenario, summary in zip(points, scenarios, summaries, strict=True)
        ]

    def summaries(self, scenarios: Scenarios, ticks: int, progress: Progress) -> Summaries:
        """One summary per scenario, in order, computed where this plan says."""
        if self.client is not None:
            return _loop.run(self._on_server(self.client, scenarios, ticks, progress))
        if self.dask is not None:
            return self._on_dask(scenarios, ticks, progress)
        return self._local(scenarios, ticks, progress)

    def _local(self, scenarios: Scenarios, ticks: int, progress: Progress) -> Summaries:
        out: Summaries = []
        for chunk in chunks(scenarios, self.batch_size):
            out += summarize_chunk(
                chunk, ticks, self.version, functools.partial(_scaled, progress, len(chunk))
            )
        return out

    def _on_dask(self, scenarios: Scenarios, ticks: int, progress: Progress) -> Summaries:
        try:
            from distributed import as_completed
        except ImportError:  # pragma: no cover - an executor implies distributed is installed
            raise MissingDependencyError("executor=", "Dask", "distributed") from None
        dask: Any = self.dask  # distributed's Client methods are untyped
        wait_for: Any = as_completed
        # One task per worker thread, each as large as batch_size allows: batch mode's cost per
        # scenario falls steeply with the batch size (per-tick numpy overhead), which outweighs
        # evening out stragglers with smaller tasks. pure=False: hashing every scenario for a
        # task key costs more than a sweep gains from Dask's deduplication.
        threads = max(1, sum(dask.nthreads().values()))
        size = max(1, min(self.batch_size, math.ceil(len(scenarios) / threads)))
        parts = chunks(scenarios, size)
        futures = dask.map(
            summarize_chunk,
            [list(p) for p in parts],
            ticks=ticks,
            engine_version=self.version,
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

    async def _on_server(
        self, client: SweepClient, scenarios: Scenarios, ticks: int, progress: Progress
    ) -> Summaries:
        gate = asyncio.Semaphore(self.concurrency)
        version = self.version

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


def _scaled(progress: Progress, runs: int, ticks: int) -> None:
    progress.update(ticks * runs)


def _is_dask_client(executor: object) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(executor, Client)
