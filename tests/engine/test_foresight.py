"""Prophecies and stability warnings (engine 1.6.0): deterministic annotations of 1.5.0's
dynamics, resumable from checkpoints, the same on every backend; and how early they foresee
the library's basin losses (the table in docs/engine.md)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kairos import engine, scenarios
from kairos.engine._foresight import (
    PROPHECY_HORIZON,
    PROPHECY_INTERVAL,
    PROPHECY_MEMBERS,
    WARNING_LEVEL,
    WARNING_REARM,
)
from kairos.trace import Trace, TraceMetadata

ANNOTATIONS = ("prophecy", "warnings")


def _wire(scenario_id: str) -> tuple[dict[str, Any], int]:
    entry = scenarios.get(scenario_id)
    return entry.scenario().to_wire(), entry.ticks


def _trace(scenario_id: str) -> Trace:
    wire, ticks = _wire(scenario_id)
    steps = engine.run(wire, ticks, "1.6.0")
    return Trace.from_steps(steps, TraceMetadata("1.6.0", wire["seed"], wire["name"], ticks))


@pytest.mark.parametrize("scenario_id", scenarios.ids())
def test_the_dynamics_are_1_5_0s_bit_for_bit(scenario_id: str) -> None:
    wire, ticks = _wire(scenario_id)
    annotated = engine.run(wire, ticks, "1.6.0")
    bare = [{k: v for k, v in step.items() if k not in ANNOTATIONS} for step in annotated]
    assert engine.trace_sha256(bare) == engine.trace_sha256(engine.run(wire, ticks, "1.5.0"))
    assert engine.trace_sha256(annotated) != engine.trace_sha256(bare)


def test_prophecies_every_interval_with_their_stated_meaning() -> None:
    trace = _trace("racing-labs")
    prophecies = trace.prophecies()
    assert [p.tick for p in prophecies] == list(range(PROPHECY_INTERVAL, 501, PROPHECY_INTERVAL))
    for p in prophecies:
        assert p.horizon == PROPHECY_HORIZON
        assert (p.confidence * PROPHECY_MEMBERS).is_integer() and p.confidence > 0.0
        assert (p.loss_risk * PROPHECY_MEMBERS).is_integer()
        assert (p.loss_risk > 0) == bool(p.at_risk)
        assert set(p.at_risk) <= {"lab_a_model", "lab_b_model"}
    # Before the race heats up the projections agree on calm; after the first loss, on trouble.
    assert prophecies[0].predicted_phase == "resonant" and prophecies[0].loss_risk == 0.0
    assert all(p.predicted_phase == "volatile" for p in prophecies if p.tick >= 175)


def test_warnings_fire_on_crossing_and_rearm_above_the_band() -> None:
    trace = _trace("racing-labs")
    warnings = trace.warnings()
    assert warnings, "the race must trip a warning"
    for warning in warnings:
        step = trace.step_at(warning.tick)
        value = step.stability if warning.agent is None else step.agents[warning.agent].stability
        assert value == warning.stability < WARNING_LEVEL == warning.level
        previous = trace.step_at(warning.tick - 1)
        before = (
            previous.stability
            if warning.agent is None
            else previous.agents[warning.agent].stability
        )
        assert before >= WARNING_LEVEL  # a crossing, not a level
    # No second warning for the same stability without a recovery to the re-arm level between.
    by_subject: dict[str | None, list[int]] = {}
    for warning in warnings:
        by_subject.setdefault(warning.agent, []).append(warning.tick)
    for subject, ticks in by_subject.items():
        for earlier, later in itertools.pairwise(ticks):
            values = [
                s.stability if subject is None else s.agents[subject].stability
                for s in trace[earlier:later]
            ]
            assert max(values) >= WARNING_REARM


@pytest.mark.parametrize("at", [1, 24, 25, 26, 160, 299])
def test_a_run_resumed_from_a_checkpoint_has_the_same_prophecies_and_warnings(at: int) -> None:
    wire, ticks = _wire("oversight-lapse")
    first = engine.Simulation(wire, "1.6.0")
    head = list(first.steps(at))
    resumed = engine.Simulation.from_checkpoint(wire, first.checkpoint())
    steps = head + list(resumed.steps(ticks))
    assert engine.trace_sha256(steps) == engine.trace_sha256(engine.run(wire, ticks, "1.6.0"))


def test_the_kernel_falls_back_to_the_reference_engine_for_1_6_0() -> None:
    wire, ticks = _wire("capability-divergence")
    simulation = engine.Simulation(wire, "1.6.0", backend="kernel")
    assert simulation.backend == "reference"
    steps = list(simulation.steps(ticks))
    assert engine.trace_sha256(steps) == engine.trace_sha256(
        engine.run(wire, ticks, "1.6.0", backend="reference")
    )
    assert engine.run_batch([wire], ticks, "1.6.0")[0] == steps
    summary = engine.summarize_batch([wire], ticks, "1.6.0")[0]
    assert summary == engine.summarize(steps)
    batch = engine.BatchSimulation([wire], "1.6.0")
    batch.advance()
    with pytest.raises(engine.EngineError, match="prophecies"):
        batch.step_of(0)


# How early the prophecies (and warnings) saw each library loss coming, in ticks before the
# loss: (agent, loss tick, first prophecy naming the model at risk, first prophecy giving the
# loss even odds, last warning). The table in docs/engine.md section 18 is this one.
LEADS = {
    "capability-divergence": [("frontier_model", 189, 39, 39, 39)],
    "deceptive-alignment": [("model_a", 284, 34, 9, 28)],
    "oversight-lapse": [("frontier_model", 202, 52, 27, 52)],
    "racing-labs": [("lab_b_model", 167, 42, 42, 11), ("lab_a_model", 245, 45, 45, 89)],
    "autonomy-creep": [("agent", 336, 86, 36, 36)],
    "board-intervenes": [],
}


@pytest.mark.parametrize("scenario_id", scenarios.ids())
def test_how_early_the_prophecies_foresee_the_library_losses(scenario_id: str) -> None:
    leads = scenarios.foresight_leads(_trace(scenario_id))
    got = [
        (lead.agent, lead.loss_tick, lead.prophecy_lead, lead.alarm_lead, lead.warning_lead)
        for lead in leads
    ]
    assert got == LEADS[scenario_id]


def test_the_control_case_raised_the_alarm_its_intervention_answered() -> None:
    # The prophecy assumes nothing more is done: before the containment (tick 55) it gives
    # the shock even odds of a loss; the board intervenes and none happens.
    prophecies = _trace("board-intervenes").prophecies()
    assert prophecies[1].tick == 50 and prophecies[1].loss_risk >= 0.5
    assert all(p.loss_risk == 0.0 for p in prophecies[2:])
