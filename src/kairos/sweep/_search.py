"""``find_threshold``: the critical value of one parameter, by bisection on real runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kairos._arguments import Arguments
from kairos.engine import DEFAULT_MAX_TICKS
from kairos.errors import Issue, ValidationError

from ._flips import Predicate, has_basin_loss
from ._modes import BATCH_SIZE, SweepClient, SweepPlan
from ._rows import SweepRow
from ._scenarios import Build, check_ticks

if TYPE_CHECKING:
    from distributed import Client as DaskClient


@dataclass(frozen=True)
class ThresholdSearch:
    """The outcome of :func:`find_threshold`.

    The predicate is ``below`` at ``low`` and ``above`` at ``high``, the final bracket; the
    critical value lies between them and ``value`` is its estimate (the bracket's midpoint, or
    ``high``, the first integer past the threshold, for an integer search). ``converged`` is
    false when ``max_evaluations`` ran out before the bracket shrank to ``tolerance``.
    ``evaluations`` are the rows of every run, in the order they ran (the two ends first).
    """

    parameter: str
    value: float
    low: float
    high: float
    below: bool
    above: bool
    converged: bool
    tolerance: float
    engine_version: str
    evaluations: tuple[SweepRow, ...]

    def __repr__(self) -> str:
        return (
            f"ThresholdSearch({self.parameter}={self.value!r} in [{self.low!r}, {self.high!r}], "
            f"{len(self.evaluations)} evaluations, converged={self.converged}, "
            f"engine_version={self.engine_version!r})"
        )


def find_threshold(
    build: Build,
    parameter: str,
    low: float,
    high: float,
    *,
    ticks: int,
    predicate: Predicate = has_basin_loss,
    tolerance: float | None = None,
    max_evaluations: int = 60,
    integer: bool = False,
    points_per_round: int = 1,
    engine_version: str | None = None,
    client: SweepClient | None = None,
    executor: DaskClient | None = None,
    concurrency: int = 16,
    max_ticks: int | None = DEFAULT_MAX_TICKS,
) -> ThresholdSearch:
    """The value of ``parameter`` where ``predicate`` (default: some model loses its basin)
    flips, for scenarios ``build(**{parameter: value})``.

    The ends are run first and must disagree (``ValidationError`` otherwise, with both rows, since
    a threshold outside ``[low, high]`` cannot be found by narrowing it). Each round then runs
    ``points_per_round`` evenly spaced points inside the bracket (one batch; more points per
    round means fewer rounds, worthwhile on Dask or a server) and keeps the first sub-interval
    where the outcome changes, until the bracket is at most ``tolerance`` wide (default: a
    thousandth of ``high - low``; 1 with ``integer=True``, for parameters that must be
    integers) or ``max_evaluations`` runs were made. If the outcome is not monotone in the
    bracket, the result is one of its flips. ``client``/``executor``/``engine_version`` choose
    where it runs and on which pinned version, as in :func:`sweep`; every path finds the same
    value, and ``max_ticks`` limits ``ticks`` as there. Every mistake in the arguments raises
    ``ValidationError`` naming the argument.
    """
    args = Arguments("find_threshold()")
    ticks = check_ticks(args, ticks, max_ticks)
    low_ok = args.number("low", low) is not None
    high_ok = args.number("high", high) is not None
    if low_ok and high_ok and not low < high:
        args.add("high", f"must be greater than low, got low={low!r}, high={high!r}")
    if low_ok and high_ok and integer and (int(low) != low or int(high) != high):
        args.add("low", f"integer=True needs integer ends, got {low!r}, {high!r}")
    if tolerance is not None:
        args.number("tolerance", tolerance, above=0)
    args.integer("points_per_round", points_per_round, minimum=1)
    args.integer("max_evaluations", max_evaluations, minimum=2)
    args.check()
    tol = (1.0 if integer else (high - low) / 1000) if tolerance is None else float(tolerance)
    plan = SweepPlan.choose(args, engine_version, client, executor, concurrency, BATCH_SIZE)

    def run(values: list[float]) -> list[SweepRow]:
        return plan.rows(build, [{parameter: v} for v in values], ticks, progress=False)

    lo_value: Any = int(low) if integer else float(low)
    hi_value: Any = int(high) if integer else float(high)
    evaluations = run([lo_value, hi_value])
    below, above = (bool(predicate(row)) for row in evaluations)
    if below == above:
        raise ValidationError(
            [
                Issue("low", _brief(evaluations[0])),
                Issue("high", _brief(evaluations[1])),
            ],
            f"Invalid arguments for find_threshold(): the predicate is {below} at both ends "
            f"({parameter}={lo_value!r} and {hi_value!r}), so they do not bracket a threshold; "
            "widen [low, high]",
        )
    while hi_value - lo_value > tol and len(evaluations) < max_evaluations:
        count = min(points_per_round, max_evaluations - len(evaluations))
        inner = _interior(lo_value, hi_value, count, integer)
        if not inner:
            break
        rows = run(inner)
        evaluations += rows
        for value, row in zip(inner, rows, strict=True):
            if bool(predicate(row)) == below:
                lo_value = value
            else:
                hi_value = value
                break
    value = hi_value if integer else lo_value + (hi_value - lo_value) / 2
    return ThresholdSearch(
        parameter=parameter,
        value=value,
        low=lo_value,
        high=hi_value,
        below=below,
        above=above,
        converged=hi_value - lo_value <= tol,
        tolerance=tol,
        engine_version=plan.version,
        evaluations=tuple(evaluations),
    )


def _interior(low: Any, high: Any, count: int, integer: bool) -> list[Any]:
    step = (high - low) / (count + 1)
    if not integer:
        return [low + step * k for k in range(1, count + 1)]
    picks = sorted({math.floor(low + step * k) for k in range(1, count + 1)})
    return [p for p in picks if low < p < high]


def _brief(row: SweepRow) -> str:
    return (
        f"final_phase={row.final_phase}, basin_losses={row.basin_losses}, "
        f"mean_stability={row.mean_stability:.4g}, min_stability={row.min_stability:.4g}"
    )
