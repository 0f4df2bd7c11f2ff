"""Where an outcome flips along one swept parameter, read off rows already computed."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kairos.errors import Issue, ValidationError

from ._rows import SweepRow

Predicate = Callable[[SweepRow], bool]


def has_basin_loss(row: SweepRow) -> bool:
    """The default threshold predicate: some model lost its basin (irreversible failure)."""
    return row.basin_losses > 0


@dataclass(frozen=True)
class GridThreshold:
    """The first place, in increasing ``parameter`` order, where the predicate changes.

    The critical value lies between ``low`` and ``high`` (adjacent values of the grid);
    ``value`` is their midpoint (for numbers). ``below``/``above`` are the predicate's outcomes
    at ``low`` and ``high``; ``flips`` counts every change along the axis, so ``flips > 1``
    says the outcome is not monotone there (noise near the threshold, or several regimes) and
    ``find_threshold`` between ``low`` and ``high`` is the way to refine. ``fixed`` holds the
    other parameters' values of this line of the grid.
    """

    parameter: str
    low: Any
    high: Any
    below: bool
    above: bool
    flips: int
    fixed: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def value(self) -> Any:
        try:
            return (self.low + self.high) / 2
        except TypeError:
            return self.high


def grid_thresholds(
    rows: Sequence[SweepRow], parameter: str, predicate: Predicate
) -> list[GridThreshold]:
    """One :class:`GridThreshold` per line of the grid along ``parameter`` (rows grouped by
    their other parameters) whose outcome changes; lines where it never changes are left out."""
    if rows and parameter not in rows[0].params:
        raise ValidationError(
            [
                Issue(
                    "parameter",
                    f"{parameter!r} is not a swept parameter; the parameters are: "
                    f"{', '.join(rows[0].params)}",
                )
            ],
            "Invalid argument",
        )
    groups: dict[tuple[tuple[str, Any], ...], list[SweepRow]] = {}
    for row in rows:
        key = tuple((k, _hashable(v)) for k, v in row.params.items() if k != parameter)
        groups.setdefault(key, []).append(row)
    found = []
    for line in groups.values():
        ordered = sorted(line, key=lambda r: r.params[parameter])
        outcomes = [bool(predicate(r)) for r in ordered]
        changes = [i for i in range(1, len(ordered)) if outcomes[i] != outcomes[i - 1]]
        if not changes:
            continue
        i = changes[0]
        found.append(
            GridThreshold(
                parameter=parameter,
                low=ordered[i - 1].params[parameter],
                high=ordered[i].params[parameter],
                below=outcomes[i - 1],
                above=outcomes[i],
                flips=len(changes),
                fixed={k: v for k, v in ordered[i].params.items() if k != parameter},
            )
        )
    return found


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


@dataclass(frozen=True)
class ThresholdSpread:
    """The threshold of one parameter in every seed of a Monte Carlo sweep, and their spread.

    ``by_seed`` maps each seed to its :class:`GridThreshold`, or to ``None`` when the outcome
    never changes along the parameter for that seed. ``values`` are the thresholds of the seeds
    that have one (their ``value``, the midpoint of the grid interval); ``mean``, ``std`` (the
    sample standard deviation; 0 for a single value), ``min`` and ``max`` describe them and are
    ``None`` when no seed has a threshold.
    """

    parameter: str
    by_seed: Mapping[int, GridThreshold | None] = field(hash=False)

    @property
    def values(self) -> list[float]:
        return [float(t.value) for t in self.by_seed.values() if t is not None]

    @property
    def without(self) -> list[int]:
        """The seeds whose outcome never changes along the parameter."""
        return [seed for seed, t in self.by_seed.items() if t is None]

    @property
    def mean(self) -> float | None:
        values = self.values
        return statistics.fmean(values) if values else None

    @property
    def std(self) -> float | None:
        values = self.values
        if not values:
            return None
        return statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def min(self) -> float | None:
        return min(self.values, default=None)

    @property
    def max(self) -> float | None:
        return max(self.values, default=None)

    def __repr__(self) -> str:
        if self.mean is None:
            return f"ThresholdSpread({self.parameter}: no threshold in {len(self.by_seed)} seeds)"
        return (
            f"ThresholdSpread({self.parameter}={self.mean:.6g} +/- {self.std:.3g} "
            f"[{self.min:.6g}, {self.max:.6g}] over {len(self.values)} of "
            f"{len(self.by_seed)} seeds)"
        )


def seed_thresholds(
    rows: Sequence[SweepRow], parameter: str, predicate: Predicate
) -> ThresholdSpread:
    """The :class:`ThresholdSpread` of ``parameter`` over the seeds of ``rows``."""
    by_seed: dict[int, list[SweepRow]] = {}
    for row in rows:
        by_seed.setdefault(row.seed, []).append(row)
    found: dict[int, GridThreshold | None] = {}
    for seed in sorted(by_seed):
        lines = grid_thresholds(by_seed[seed], parameter, predicate)
        found[seed] = lines[0] if lines else None
    return ThresholdSpread(parameter, found)
