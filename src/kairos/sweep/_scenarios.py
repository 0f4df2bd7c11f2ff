"""From sweep points to the validated wire scenarios every execution path receives.

Scenarios are built and checked in the caller's process, once: ``build`` may be a lambda or a
notebook closure (not picklable), and a mistake in it should fail before a single run starts,
with the point that caused it. Workers and servers only ever receive plain wire dicts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kairos import engine
from kairos._arguments import Arguments, describe, show_int
from kairos.domains.ai_safety import AISafetyScenario
from kairos.errors import Issue, ValidationError
from kairos_api import Scenario

Build = Callable[..., AISafetyScenario | Scenario | Mapping[str, Any]]
"""``build(**params)`` returns the scenario of one point: an ``AISafetyScenario``, a
``kairos_api.Scenario`` or a wire dict."""


def check_ticks(args: Arguments, ticks: object, max_ticks: object) -> int:
    """``ticks`` checked against ``max_ticks`` (None: no limit); problems go to ``args``."""
    limit = None if max_ticks is None else args.integer("max_ticks", max_ticks, minimum=1)
    count = args.integer("ticks", ticks, minimum=1)
    if limit is not None and count > limit and not args.issues:
        args.add(
            "ticks",
            f"{show_int(count)} ticks per run is more than the limit of {limit} (the reference "
            "server's "
            "default); pass max_ticks=N (or max_ticks=None) to allow longer runs",
        )
    return count


def build_scenarios(
    build: Build, points: Sequence[Mapping[str, Any]], ticks: int
) -> list[dict[str, Any]]:
    """The validated wire form of ``build(**point)`` for every point (ValidationError names the
    point of the first invalid scenario)."""
    if points:
        _check_signature(build, points[0])
    return [_wire_of(build, point, ticks) for point in points]


def _check_signature(build: Build, point: Mapping[str, Any]) -> None:
    """A grid whose parameters ``build`` cannot take is a mistake in the arguments, not in
    ``build``: say so before calling it."""
    try:
        signature = inspect.signature(build)
    except (TypeError, ValueError):  # some callables have no signature to inspect
        return
    try:
        signature.bind(**point)
    except TypeError as exc:
        raise ValidationError(
            [Issue("grid", f"build() cannot be called with the parameters {list(point)}: {exc}")],
            "Invalid argument for sweep()",
        ) from None


def _wire_of(build: Build, point: Mapping[str, Any], ticks: int) -> dict[str, Any]:
    try:
        made = build(**point)
        if isinstance(made, AISafetyScenario):
            wire = made.to_wire()
        elif isinstance(made, (Scenario, Mapping)):
            wire = AISafetyScenario.from_wire(made).to_wire()
        else:
            raise ValidationError(
                [
                    Issue(
                        "build",
                        "must return an AISafetyScenario, a kairos_api.Scenario or a wire dict; "
                        f"build({_call(point)}) returned {describe(made)}",
                    )
                ],
                "Invalid argument for sweep()",
            )
        late = engine.validate_scenario(wire, ticks)
        if late:
            raise ValidationError(late, f"Invalid run of scenario {wire['name']!r}")
    except ValidationError as exc:
        raise ValidationError(exc.issues, f"build({_call(point)}) gave an invalid scenario") from (
            None
        )
    if "seed" in point and point["seed"] != wire["seed"]:
        raise ValidationError(
            [
                Issue(
                    "build",
                    f"build({_call(point)}) made a scenario with seed {wire['seed']}: a parameter "
                    "named 'seed' must be the scenario's seed (rename it if it means something "
                    "else)",
                )
            ],
            "Invalid argument for sweep()",
        )
    return wire


def _call(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in point.items())
