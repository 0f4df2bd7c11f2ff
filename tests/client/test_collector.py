"""The client folds a run's steps into its trace as they arrive (issue 14): the trace it builds
at the end is the one ``Trace(steps, metadata)`` builds, and a step the trace's checks reject
raises the same error at the same point (when the run is collected)."""

from __future__ import annotations

import pytest

from kairos import engine
from kairos.client._runs import Collector
from kairos.trace import Trace, TraceStep
from kairos_api import Simulation

from .conftest import scenario

TICKS = 700


def record() -> Simulation:
    return Simulation.model_validate(
        {
            "id": "sim_collector1",
            "status": "completed",
            "scenarioName": "collector",
            "domain": "ai_safety",
            "seed": 5,
            "ticks": TICKS,
            "tick": TICKS,
            "engineVersion": "1.5.0",
            "organizationId": None,
            "createdAt": "2026-12-02T00:00:00.000Z",
        }
    )


def steps() -> list[TraceStep]:
    wire = scenario("collector", seed=5, capability=950).to_wire()
    return [TraceStep.model_validate(s) for s in engine.run(wire, TICKS, "1.5.0")]


def collect(all_steps: list[TraceStep], size: int = 256) -> Collector:
    collector = Collector(record(), None)
    for first in range(0, len(all_steps), size):
        collector.add(all_steps[first : first + size])
    return collector


def test_the_collected_trace_is_the_constructed_one() -> None:
    all_steps = steps()
    collected = collect(all_steps).finish()
    built = Trace(all_steps, collected.metadata)
    assert isinstance(collected, Trace)
    assert collected == built and collected.sha256() == built.sha256()
    assert collected.basin_losses() == built.basin_losses() != []
    assert collected.phase_transitions() == built.phase_transitions()
    assert collected.mean_stability() == built.mean_stability()
    assert collected.final_phase() == built.final_phase() and len(collected) == TICKS


def test_a_rejected_step_raises_what_the_constructor_raises() -> None:
    all_steps = steps()
    broken = [*all_steps[:300], *all_steps[301:], all_steps[-1]]  # a gap, and a full count
    collector = collect(broken)
    collector.last_tick = TICKS
    with pytest.raises(ValueError) as collected:
        collector.finish()
    with pytest.raises(ValueError) as built:
        Trace(broken, collector.metadata)
    assert str(collected.value) == str(built.value)
