"""Summaries from steps, incrementally, and the record helpers."""

from __future__ import annotations

import json
import math

import pytest

from kairos.engine import (
    SummaryAccumulator,
    basin_losses,
    ghost_branches,
    iter_steps,
    phase_transitions,
    run,
    summarize,
)

from .scenarios import paradox_scenario, rich_scenario, sweep_scenario


@pytest.mark.parametrize(
    "scenario", [sweep_scenario(100), sweep_scenario(400), paradox_scenario(), rich_scenario()]
)
def test_summary_matches_the_records(scenario: dict) -> None:
    steps = run(scenario, 300)
    summary = summarize(steps)
    values = [s["stability"] for s in steps]
    assert summary["finalPhase"] == steps[-1]["phase"]
    assert summary["meanStability"] == pytest.approx(math.fsum(values) / len(values), rel=1e-14)
    assert summary["minStability"] == min(values)
    assert summary["phaseTransitions"] == len(phase_transitions(steps))
    assert summary["basinLosses"] == len(basin_losses(steps))
    assert summary["ghostBranches"] == len(ghost_branches(steps))


def test_transition_records() -> None:
    steps = run(sweep_scenario(400), 300)
    transitions = phase_transitions(steps)
    assert transitions
    for record in transitions:
        before, after = steps[record["tick"] - 2], steps[record["tick"] - 1]
        assert record == {
            "tick": after["t"],
            "fromPhase": before["phase"],
            "toPhase": after["phase"],
        }
    loss = basin_losses(steps)[0]
    assert loss["agent"] == "model" and loss["magnitude"] >= 0
    assert steps[loss["tick"] - 1]["agents"]["model"]["basinLost"]
    assert not steps[loss["tick"] - 2]["agents"]["model"]["basinLost"]


def test_accumulator_streams_in_constant_memory_and_serializes() -> None:
    acc = SummaryAccumulator()
    for step in iter_steps(rich_scenario(), 2000):
        acc.add(step)
        if step["t"] == 1000:
            acc = SummaryAccumulator.from_state(json.loads(json.dumps(acc.to_state())))
    assert acc.count == 2000
    assert acc.summary() == summarize(run(rich_scenario(), 2000))


def test_mean_is_compensated() -> None:
    acc = SummaryAccumulator()
    for _ in range(1000):
        acc.add_values(0.1, "resonant", 0, False)
    assert acc.summary()["meanStability"] == 0.1  # a naive running sum gives 0.09999999999999859


def test_empty_accumulator_refuses_to_summarize() -> None:
    with pytest.raises(ValueError):
        SummaryAccumulator().summary()
