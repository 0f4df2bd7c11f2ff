"""Pre-flight checks of a run, before any network I/O.

A scenario arrives as an ``AISafetyScenario``, a ``kairos_api.Scenario`` or a wire dict; all
three are checked by the engine's own validator (the one the server runs, with the run's
``ticks``), so a scenario the server would reject fails here with
:class:`kairos.errors.ValidationError` listing every problem with its field path, without a
request being sent. The other arguments of a run are checked here too, each mistake named by
its argument.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pydantic

from kairos import engine, scenarios
from kairos._arguments import Arguments, describe, from_pydantic
from kairos.domains.ai_safety import AISafetyScenario
from kairos.errors import Issue, ValidationError
from kairos_api import CreateSimulationInput, Scenario

from ._runs import create_input

__all__ = ["MAX_TICKS", "ScenarioLike", "as_scenario", "check_run", "create_request"]

log = logging.getLogger("kairos.client")

ScenarioLike = AISafetyScenario | Scenario | Mapping[str, Any] | str
"""A scenario: a builder, a generated model, a wire dict, or the id of a library scenario
(:mod:`kairos.scenarios`, e.g. ``"capability-divergence"``)."""

MAX_TICKS: int = next(
    rule.le for rule in CreateSimulationInput.model_fields["ticks"].metadata if hasattr(rule, "le")
)
"""The most ticks the API accepts for one run (the schema's bound; a server may allow fewer)."""

LATE_EVENTS_HINT = (
    "events after the last tick are refused so that a short run is not mistaken for the whole "
    "scenario; pass drop_late_events=True to run the first {ticks} ticks without them"
)


def check_run(
    scenario: ScenarioLike | object,
    ticks: object,
    *,
    where: str = "a run",
    drop_late_events: bool = False,
) -> Scenario:
    """The scenario as the model ``simulation.create`` sends, or ValidationError.

    With ``drop_late_events``, events scheduled after tick ``ticks`` are left out of the
    scenario sent (logged at INFO) instead of being refused.
    """
    args = Arguments(where)
    args.integer("ticks", ticks, minimum=1, maximum=MAX_TICKS)
    if isinstance(scenario, str):
        scenario = scenarios.get(scenario).scenario()  # UnknownScenarioError lists the ids
    if isinstance(scenario, AISafetyScenario):
        wire: Any = scenario._wire()  # checked below, with the run's other arguments
    elif isinstance(scenario, Scenario):
        wire = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(scenario, Mapping):
        wire = dict(scenario)
    else:
        args.add(
            "scenario",
            "must be an AISafetyScenario, a kairos_api.Scenario, a wire dict or the id of a "
            "library scenario, "
            f"got {describe(scenario)}",
        )
        args.check()
    run_ticks = ticks if not args.issues else None
    assert run_ticks is None or isinstance(run_ticks, int)
    if run_ticks is not None and drop_late_events:
        late = set(engine.late_events(wire, run_ticks))
        if late:
            log.info(
                "run of %r: left out %d event(s) after its last tick (%d)",
                wire.get("name"),
                len(late),
                run_ticks,
            )
            wire["events"] = [e for i, e in enumerate(wire["events"]) if i not in late]
    found = engine.validate_scenario(wire, run_ticks)
    for issue in found:
        args.add(f"scenario.{issue.path}" if issue.path != "$" else "scenario", issue.message)
    if args.issues:
        name = wire.get("name")
        message = f"Invalid {'argument' if len(args.issues) == 1 else 'arguments'} for {where}"
        if isinstance(name, str):
            message = f"{message} (scenario {name!r})"
        elif "name" not in wire:
            message = f"{message}: the scenario is not a KAIROS scenario (no name, seed, models)"
        if run_ticks is not None and engine.late_events(wire, run_ticks):
            message = f"{message}; {LATE_EVENTS_HINT.format(ticks=run_ticks)}"
        raise ValidationError(args.issues, message)
    try:
        return Scenario.model_validate(wire)
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, where, prefix="scenario") from None


def create_request(
    scenario: ScenarioLike | object,
    ticks: object,
    engine_version: object,
    organization_id: object,
    idempotency_key: object,
    *,
    where: str,
    drop_late_events: object = False,
    out: object = None,
    progress: object = None,
    retry_create_on_connection_error: object = None,
) -> CreateSimulationInput:
    """Every argument of ``run``/``arun`` checked at once; the ``simulation.create`` input."""
    args = Arguments(where)
    drop = args.boolean("drop_late_events", drop_late_events)
    args.boolean("retry_create_on_connection_error", retry_create_on_connection_error, none=True)
    args.path("out", out, new=True)
    args.function("progress", progress)
    for name, value in (
        ("engine_version", engine_version),
        ("organization_id", organization_id),
        ("idempotency_key", idempotency_key),
    ):
        args.string(name, value)
    try:
        model = check_run(scenario, ticks, where=where, drop_late_events=bool(drop))
    except ValidationError as exc:
        if not args.issues:
            raise
        args.issues[:0] = exc.issues
    args.check()
    assert isinstance(ticks, int)
    return create_input(
        model,
        ticks,
        engine_version,  # type: ignore[arg-type]
        organization_id,  # type: ignore[arg-type]
        idempotency_key,  # type: ignore[arg-type]
    )


def as_scenario(value: object, wire: bool, where: str) -> object:
    """``value`` as a ``kairos_api.Scenario`` (or its wire dict, with ``wire``) when it is an
    ``AISafetyScenario``, so that the builder is accepted wherever a scenario is; anything else
    unchanged."""
    if not isinstance(value, AISafetyScenario):
        return value
    if wire:
        return value._wire()  # unchecked: scenario.validate reports the problems
    try:
        return value.to_model()
    except ValidationError as exc:
        raise ValidationError(
            [Issue(f"scenario.{i.path}", i.message) for i in exc.issues],
            f"Invalid argument for {where}",
        ) from None
