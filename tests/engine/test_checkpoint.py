"""Checkpoint + resume gives the same remaining trace as an uninterrupted run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.engine import (
    CheckpointError,
    EngineVersionError,
    Simulation,
    SummaryAccumulator,
    active_versions,
    canonical_trace_bytes,
    run,
    summarize,
)

from .scenarios import paradox_scenario, rich_scenario, scenario_strategy, sweep_scenario


def resumed(
    scenario: dict[str, Any], ticks: int, at: int, version: str, backend: str = "reference"
) -> list[dict[str, Any]]:
    first = Simulation(scenario, version, backend=backend)
    head = list(first.steps(at))
    data = first.checkpoint()
    assert isinstance(data, bytes)
    second = Simulation.from_checkpoint(scenario, data, backend=backend)
    assert second.tick == at and second.engine_version == version
    return head + list(second.steps(ticks))


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("version", active_versions())
@pytest.mark.parametrize(
    ("scenario", "at"),
    [
        (rich_scenario(), 11),
        (paradox_scenario(), 57),
        (sweep_scenario(604), 100),
        (sweep_scenario(340), 0),
    ],
    ids=["rich", "paradox", "loss", "at-zero"],
)
def test_resume_equals_uninterrupted(
    scenario: dict[str, Any], at: int, version: str, backend: str
) -> None:
    whole = run(scenario, 200, version, backend="reference")
    assert canonical_trace_bytes(resumed(scenario, 200, at, version, backend)) == (
        canonical_trace_bytes(whole)
    )


def test_checkpoint_is_json_with_metadata_and_exact_floats() -> None:
    sim = Simulation(rich_scenario(), "1.4.4")
    list(sim.steps(30))
    data = json.loads(sim.checkpoint())
    assert data["format"] == "kairos.engine.checkpoint"
    assert data["formatVersion"] == 1
    assert data["engineVersion"] == "1.4.4"
    assert data["scenarioFingerprint"] == sim.scenario.fingerprint
    assert data["tick"] == 30
    assert data["reserve"] == sim._state.reserve  # floats round-trip exactly


def test_chained_checkpoints() -> None:
    scenario = rich_scenario()
    sim = Simulation(scenario)
    steps: list[dict[str, Any]] = []
    for stop in (7, 8, 40, 41, 90):
        steps += list(sim.steps(stop))
        sim = Simulation.from_checkpoint(scenario, sim.checkpoint().decode())
    assert steps == run(scenario, 90)


def test_resume_continues_the_summary() -> None:
    scenario = paradox_scenario()
    sim, acc = Simulation(scenario), SummaryAccumulator()
    for step in sim.steps(60):
        acc.add(step)
    saved = json.dumps(acc.to_state())
    sim = Simulation.from_checkpoint(scenario, sim.checkpoint())
    acc = SummaryAccumulator.from_state(json.loads(saved))
    for step in sim.steps(150):
        acc.add(step)
    assert acc.summary() == summarize(run(scenario, 150))


def test_checkpoint_errors() -> None:
    sim = Simulation(rich_scenario())
    list(sim.steps(5))
    data = json.loads(sim.checkpoint())
    with pytest.raises(CheckpointError, match="another scenario"):
        Simulation.from_checkpoint(rich_scenario(seed=1), sim.checkpoint())
    with pytest.raises(CheckpointError, match="format version"):
        Simulation.from_checkpoint(rich_scenario(), json.dumps(dict(data, formatVersion=2)))
    with pytest.raises(CheckpointError):
        Simulation.from_checkpoint(rich_scenario(), b"not json")
    with pytest.raises(CheckpointError):
        Simulation.from_checkpoint(rich_scenario(), json.dumps(dict(data, reserve=[1.0])))
    with pytest.raises(CheckpointError):
        Simulation.from_checkpoint(rich_scenario(), json.dumps(dict(data, tick="5")))
    with pytest.raises(CheckpointError, match="non-finite"):
        bad = json.dumps(dict(data, reserve=[float("nan")] * 3))
        Simulation.from_checkpoint(rich_scenario(), bad)
    with pytest.raises(CheckpointError):
        Simulation.from_checkpoint(rich_scenario(), json.dumps(dict(data, phase="calm")))
    with pytest.raises(EngineVersionError):
        Simulation.from_checkpoint(rich_scenario(), json.dumps(dict(data, engineVersion="1.4.0")))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_strategy(), st.integers(0, 50), st.sampled_from(active_versions()))
def test_resume_equals_uninterrupted_generated(
    scenario: dict[str, Any], at: int, version: str
) -> None:
    whole = run(scenario, 50, version)
    assert canonical_trace_bytes(resumed(scenario, 50, at, version)) == (
        canonical_trace_bytes(whole)
    )
