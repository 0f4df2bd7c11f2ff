"""``sweep``: run one scenario per point of a grid or random sample and collect the summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kairos._arguments import Arguments, describe
from kairos.engine import DEFAULT_MAX_TICKS

from ._modes import BATCH_SIZE, SweepClient, SweepPlan
from ._points import grid_points, sample_points
from ._result import SweepResult
from ._scenarios import Build, check_ticks

if TYPE_CHECKING:
    from distributed import Client as DaskClient


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
