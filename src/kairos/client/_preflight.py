"""Pre-flight checks of a run, before any network I/O.

A scenario arrives as an ``AISafetyScenario``, a ``kairos_api.Scenario`` or a wire dict; all
three are checked by the engine's own validator (the one the server runs), so a scenario the
server would reject fails here with :class:`kairos.errors.ValidationError` listing every
problem with its field path, without a request being sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from kairos import engine
from kairos.domains.ai_safety import AISafetyScenario
from kairos.errors import Issue, ValidationError
from kairos_api import Scenario

__all__ = ["ScenarioLike", "check_run"]

ScenarioLike = AISafetyScenario | Scenario | Mapping[str, Any]


def check_run(scenario: ScenarioLike, ticks: object) -> Scenario:
    """The scenario as the model ``simulation.create`` sends, or ValidationError."""
    issues: list[Issue] = []
    if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 1:
        issues.append(Issue("ticks", f"must be a positive integer, not {ticks!r}"))
    if isinstance(scenario, AISafetyScenario):
        wire = scenario.to_wire()  # raises ValidationError with every problem
    elif isinstance(scenario, Scenario):
        wire = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(scenario, Mapping):
        wire = dict(scenario)
    else:
        raise TypeError(
            "scenario must be an AISafetyScenario, a kairos_api.Scenario or a wire dict, "
            f"not {type(scenario).__name__}"
        )
    issues += [
        Issue(f"scenario.{item['path']}" if item["path"] else "scenario", item["message"])
        for item in engine.validate_scenario(wire)
    ]
    if not issues and isinstance(ticks, int):
        issues += [
            Issue(
                f"scenario.events[{index}].tick",
                f"tick {event['tick']} is after the run's last tick ({ticks}); "
                "the event would never take effect",
            )
            for index, event in enumerate(wire.get("events", ()))
            if isinstance(event, Mapping)
            and isinstance(event.get("tick"), int)
            and event["tick"] > ticks
        ]
    if issues:
        name = wire.get("name") if isinstance(wire, Mapping) else None
        raise ValidationError(issues, f"Invalid run of scenario {name!r}")
    try:
        return Scenario.model_validate(wire)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                Issue("scenario." + ".".join(str(p) for p in e["loc"]), e["msg"])
                for e in exc.errors(include_url=False)
            ],
            "Invalid scenario",
        ) from None
