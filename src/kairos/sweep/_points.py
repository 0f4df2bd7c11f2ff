"""Which points a sweep visits: a grid (cartesian product), explicit points, or a seeded random
sample.

A random sample is drawn before anything runs, from ``numpy.random.Generator(PCG64(seed))``,
point by point and, within a point, parameter by parameter in the mapping's order. The same
``seed``, samplers and ``samples`` therefore give the same points on every run and every
execution path. NumPy guarantees PCG64's bit stream across releases; the methods that turn bits
into values (``uniform``, ``integers``, ...) have been stable but are formally not promised
(NEP 19), so every row records the values it used and ``sweep(build, result.points(), ...)``
re-runs a sample exactly whatever NumPy draws in the future.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from kairos.errors import Issue, ValidationError

from ._rows import RESULT_COLUMNS

Sampler = Callable[[np.random.Generator], Any]
"""Draws one value of a parameter from the sweep's generator."""

Points = Sequence[Mapping[str, Any]]


def uniform(low: float, high: float) -> Sampler:
    """A sampler of floats uniformly distributed in ``[low, high)``."""
    return lambda rng: float(rng.uniform(low, high))


def loguniform(low: float, high: float) -> Sampler:
    """A sampler of floats whose logarithm is uniform in ``[log low, log high)`` (both > 0):
    for parameters that span orders of magnitude."""
    if not 0 < low < high:
        raise invalid("loguniform()", "low", f"needs 0 < low < high, got {low!r}, {high!r}")
    lo, hi = math.log(low), math.log(high)
    return lambda rng: float(math.exp(rng.uniform(lo, hi)))


def integers(low: int, high: int) -> Sampler:
    """A sampler of integers uniformly distributed in ``[low, high]`` (both ends included,
    as a range of scenario parameters or seeds is usually written)."""
    return lambda rng: int(rng.integers(low, high, endpoint=True))


def choice(values: Sequence[Any]) -> Sampler:
    """A sampler picking one of ``values`` with equal probability."""
    options = list(values)
    if not options:
        raise invalid("choice()", "values", "needs at least one value")
    return lambda rng: options[int(rng.integers(len(options)))]


def grid_points(grid: object) -> list[dict[str, Any]]:
    """The points of a grid: the cartesian product of a mapping ``param -> values`` (the last
    parameter varies fastest, as in ``itertools.product``), or a sequence of explicit points
    (each a mapping ``param -> value``), kept in order."""
    if isinstance(grid, Mapping):
        names = list(grid)
        axes = []
        for name in names:
            values = grid[name]
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise invalid(
                    "sweep()",
                    f"grid[{name!r}]",
                    f"must be an iterable of values, got {values!r}; for a single value use "
                    "[value]",
                )
            axes.append(list(values))
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    else:
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Iterable):
            raise invalid(
                "sweep()",
                "grid",
                "must map each parameter to its values, or be a list of points (dicts), "
                f"got {grid!r}",
            )
        points = []
        for index, point in enumerate(grid):
            if not isinstance(point, Mapping):
                raise invalid(
                    "sweep()", f"grid[{index}]", f"must be a dict of parameters, got {point!r}"
                )
            points.append(dict(point))
        names = list(points[0]) if points else []
        for index, point in enumerate(points):
            if list(point) != names:
                raise invalid(
                    "sweep()",
                    f"grid[{index}]",
                    f"has parameters {list(point)}, but point 0 has {names}",
                )
    check_names(names)
    if not points:
        raise invalid("sweep()", "grid", "has no points")
    if not names:
        raise invalid("sweep()", "grid", "has no parameters (build(**params) needs some)")
    return points


def sample_points(samplers: object, samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` random points; each sampler is a callable taking the generator, an object
    with ``.rvs(random_state=generator)`` (a frozen ``scipy.stats`` distribution) or a
    sequence to choose from. See the module docstring for reproducibility."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise invalid("sweep()", "samples", f"must be a positive integer, got {samples!r}")
    if not isinstance(samplers, Mapping) or not samplers:
        raise invalid("sweep()", "grid", "with samples=N, must map each parameter to a sampler")
    check_names(list(samplers))
    draws = {name: _as_sampler(name, spec) for name, spec in samplers.items()}
    rng = np.random.Generator(np.random.PCG64(seed))
    return [{name: draw(rng) for name, draw in draws.items()} for _ in range(samples)]


def check_names(names: Sequence[str]) -> None:
    clashes = [n for n in names if n in RESULT_COLUMNS and n != "seed"]
    if clashes:
        raise invalid(
            "sweep()",
            "grid",
            f"parameter names {clashes} clash with result columns; rename them "
            f"(reserved: {', '.join(c for c in RESULT_COLUMNS if c != 'seed')})",
        )
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise invalid(
                "sweep()",
                "grid",
                f"parameter names must be identifiers (build(**params)): {name!r}",
            )


def _as_sampler(name: str, spec: Any) -> Sampler:
    rvs = getattr(spec, "rvs", None)
    if callable(rvs):
        return lambda rng: _scalar(rvs(random_state=rng))
    if callable(spec):
        sampler: Sampler = spec
        return sampler
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        return choice(spec)
    raise invalid(
        "sweep()",
        f"grid[{name!r}]",
        "the sampler must be a callable taking a numpy Generator, a distribution with .rvs(), "
        f"or a sequence of values; got {spec!r}",
    )


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def invalid(where: str, name: str, message: str) -> ValidationError:
    """The error for one bad argument ``name`` of ``where``."""
    return ValidationError([Issue(name, message)], f"Invalid argument for {where}")
