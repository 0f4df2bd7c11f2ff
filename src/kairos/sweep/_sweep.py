"""``sweep``: run one scenario per point of a grid or random sample and collect the summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kairos._arguments import Arguments, describe
from kairos.engine import DEFAULT_MAX_TICKS

from . import _loop
from ._modes import SweepClient, client_version, local_version, run_client, run_dask, run_local
from ._points import grid_points, sample_points
from ._progress import Progress
from ._result import SweepResult
from ._rows import SweepRow
from ._scenarios import Build, build_scenarios, check_ticks

if TYPE_CHECKING:
    from distributed import Client as DaskClient

BATCH_SIZE = 1024
"""Scenarios per engine batch (local path) and at most per Dask task. Batch mode's cost per
scenario falls as batches grow; past a few hundred scenarios it is flat, and smaller batches
keep the progress bar moving and memory small."""


@dataclass(frozen=True)
class SweepPlan:
    """Where runs happen, with the engine version pinned once for all of them."""

    version: str
    path: str
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
            return cls(version, "server", client=client, concurrency=concurrency)
        path = "local" if executor is None else "dask"
        return cls(local_version(engine_version), path, dask=executor, batch_size=batch_size)

    def summaries(
        self, scenarios: Sequence[Mapping[str, Any]], ticks: int, progress: Progress
    ) -> list[dict[str, Any]]:
        if self.client is not None:
            return _loop.run(
                run_client(self.client, scenarios, ticks, self.version, self.concurrency, progress)
            )
        if self.dask is not None:
            return run_dask(self.dask, scenarios, ticks, self.version, self.batch_size, progress)
        return run_local(scenarios, ticks, self.version, self.batch_size, progress)

    def rows(
        self,
        build: Build,
        points: Sequence[Mapping[str, Any]],
        ticks: int,
        progress: bool | None,
        description: str = "sweep",
    ) -> list[SweepRow]:
        scenarios = build_scenarios(build, points, ticks)
        with Progress(len(scenarios), ticks, progress, description) as bar:
            summaries = self.summaries(scenarios, ticks, bar)
        return [
            SweepRow.from_summary(point, scenario, ticks, self.version, summary)
            for point, scenario, summary in zip(points, scenarios, summaries, strict=True)
        ]


def sweep(
    build: Build,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    samples: int | None = None,
    ticks: int,
    engine_version: str | None = None,
    client: SweepClient | None = None,
    executor: DaskClient | None = None,
    concurrency: int = 16,
    progress: bool | None = None,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    max_ticks: int | None = DEFAULT_MAX_TICKS,
) -> SweepResult:
    """Run ``build(**point)`` for every point and return one summary row per point.

    Points: ``grid={"capability": range(100, 1001, 18), "alignment": [60, 70]}`` is the
    cartesian product; a sequence of dicts is a list of explicit points (e.g.
    ``result.points()``); ``samples=N`` with ``grid={"capability": uniform(100, 1000),
    "seed": integers(0, 2**31)}`` draws N random points from a generator seeded with ``seed``
    (same ``seed``, same sample). A parameter named ``seed`` must be the seed of the scenario
    it builds, so seed sweeps read naturally.

    Where it runs (the rows are identical bit for bit on every path, for one engine version):

    * default (no ``client``, no ``executor``): this SDK's engine in this process, in lock-step
      batches of ``batch_size`` scenarios. The fastest correct path for one machine, needing no
      server, and the same engine code the reference server runs. It never goes to the network
      on its own, even with ``KAIROS_URL`` set: where a sweep runs is the caller's choice.
    * ``executor=<dask.distributed.Client>``: batches sent to Dask workers (which need this
      SDK installed); Dask schedules them. For many cores or machines.
    * ``client=<KairosClient>``: one ``arun`` per point on the client's server, at most
      ``concurrency`` at a time; for engines or versions only a server has, or to keep runs
      on record there.

    The engine version is resolved once before anything runs (``engine_version``, else the
    client's pin, else the server's or the local engine's default) and recorded in every row.
    ``progress=None`` shows a bar only in a terminal or a notebook (``True``/``False`` force
    it); it counts ticks, so a long sweep moves even inside one batch. Scenarios are built and
    validated here before the first run; an invalid one raises ``ValidationError`` naming
    its point, as does every other mistake in the arguments (naming the argument).

    ``ticks`` is limited to ``max_ticks`` per run (default: the reference server's default
    limit, :data:`kairos.engine.DEFAULT_MAX_TICKS`), so a slip of the keyboard fails at once
    instead of computing for days; pass a larger ``max_ticks``, or ``max_ticks=None``, to
    allow longer runs.
    """
    args = Arguments("sweep()")
    ticks = check_ticks(args, ticks, max_ticks)
    args.boolean("progress", progress, none=True)
    args.integer("seed", seed, minimum=0)
    given: object = build
    if not callable(given):
        args.add(
            "build", f"must be a function making a scenario from parameters, got {describe(build)}"
        )
    if samples is None and grid is None:
        args.add("grid", "sweep needs grid= (values per parameter, or points) or samples=")
    plan = SweepPlan.choose(args, engine_version, client, executor, concurrency, batch_size)
    if samples is not None:
        points = sample_points(grid, samples, seed)
    else:
        assert grid is not None
        points = grid_points(grid)
    rows = plan.rows(build, points, ticks, progress)
    return SweepResult(
        rows=tuple(rows),
        parameters=tuple(points[0]),
        engine_version=plan.version,
        ticks=ticks,
        path=plan.path,
        sample_seed=seed if samples is not None else None,
    )


def _is_dask_client(executor: object) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(executor, Client)
