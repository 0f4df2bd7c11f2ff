"""The client folds a run's steps into its trace as they arrive (issue 14): the trace it builds
at the end is the one ``Trace(steps, metadata)`` builds, and a step the trace's checks reject
raises the same error at the same point (when the run is collected)."""

from __future__ import annotations

import pytest

from kairos import engine, scenarios
from kairos.client._runs import Collector
from kairos.trace import Trace, TraceStep
from kairos.trace._aggregates import TraceSummary
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


def _fold_one_by_one(all_steps: list[TraceStep]) -> tuple[TraceSummary, str | None]:
    summary = TraceSummary()
    try:
        for step in all_steps:
            summary.add(step)
    except ValueError as exc:
        return summary, str(exc)
    return summary, None


def _fold_in_chunks(all_steps: list[TraceStep], size: int) -> tuple[TraceSummary, str | None]:
    summary = TraceSummary()
    try:
        for first in range(0, len(all_steps), size):
            summary.add_many(all_steps[first : first + size])
    except ValueError as exc:
        return summary, str(exc)
    return summary, None


def _state(summary: TraceSummary) -> tuple[object, ...]:
    return (
        summary.count,
        summary.first_tick,
        summary.last_tick,
        summary.last_phase,
        summary.agent_ids,
        summary.min_stability,
        summary.mean_stability() if summary.count else None,
        summary.transitions,
        summary.losses,
        summary.ghosts,
    )


def _broken(all_steps: list[TraceStep], how: str, at: int) -> list[TraceStep]:
    step = all_steps[at]
    if how == "gap":
        return [*all_steps[:at], *all_steps[at + 1 :]]
    if how == "agents":
        agents = dict(step.agents)
        agents["intruder"] = next(iter(agents.values()))
        changed = step.model_copy(update={"agents": agents})
    elif how == "loss":
        loss = next(s.losses[0] for s in all_steps if s.losses)
        changed = step.model_copy(update={"losses": [loss.model_copy(update={"tick": 1})]})
    else:
        return list(all_steps)
    return [*all_steps[:at], changed, *all_steps[at + 1 :]]


@pytest.mark.parametrize("how", ["none", "gap", "agents", "loss"])
@pytest.mark.parametrize("at", [1, 255, 256, 411])
def test_folding_a_chunk_at_once_is_folding_step_by_step(how: str, at: int) -> None:
    """``TraceSummary.add_many`` (the stream's per-chunk fold) ends in the same state, and
    rejects the same step with the same message, as ``add`` step by step."""
    wire = scenarios.get("racing-labs").scenario().to_wire()  # a transition, losses and ghosts
    run = [TraceStep.model_validate(s) for s in engine.run(wire, TICKS, "1.5.0")]
    all_steps = _broken(run, how, at)
    one, one_error = _fold_one_by_one(all_steps)
    for size in (1, 7, 256, len(all_steps)):
        many, many_error = _fold_in_chunks(all_steps, size)
        assert many_error == one_error
        assert _state(many) == _state(one)
    assert (one_error is None) == (how == "none")
    if how == "none":  # every kind of step is folded: both paths of add_many run
        assert one.transitions and one.losses and one.ghosts
