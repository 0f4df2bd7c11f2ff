"""Simulation.amend (what a decree is to the engine): continuing under a scenario amended after
the current tick equals a run of the amended scenario from tick 1, on both backends."""

from __future__ import annotations

import pytest

from kairos import engine
from kairos.engine import _kernel

BASE = {
    "name": "amend",
    "seed": 3,
    "models": [{"name": "m", "capabilityIndex": 300, "alignmentScore": 70}],
    "events": [{"tick": 40, "type": "capability_jump", "target": "m", "magnitude": 0.5}],
}
LATER = {"tick": 61, "type": "containment", "target": "m", "magnitude": 0.7}
AMENDED = {**BASE, "events": [*BASE["events"], LATER]}


@pytest.mark.parametrize("backend", ["reference", "kernel"])
def test_an_amended_run_is_the_amended_scenarios_run(backend: str) -> None:
    if backend == "kernel" and not _kernel.numba_installed():
        pytest.skip("numba is not installed")  # CI installs it: test_kernel.py insists
    simulation = engine.Simulation(BASE, backend=backend)
    steps = list(simulation.steps(60))
    simulation.amend(AMENDED)
    steps += list(simulation.steps(300))
    assert engine.trace_sha256(steps) == engine.trace_sha256(engine.run(AMENDED, 300))
    assert engine.trace_sha256(steps) != engine.trace_sha256(engine.run(BASE, 300))
    resumed = engine.Simulation.from_checkpoint(AMENDED, simulation.checkpoint())
    assert resumed.tick == 300


def test_an_amendment_cannot_rewrite_the_past() -> None:
    simulation = engine.Simulation(BASE)
    list(simulation.steps(61))
    with pytest.raises(engine.ScenarioError, match="only the events after tick 61"):
        simulation.amend(AMENDED)  # tick 61 is already computed
    with pytest.raises(engine.ScenarioError, match="keeps the seed"):
        simulation.amend({**BASE, "seed": 4})
    assert engine.trace_sha256(list(simulation.steps(100))) == engine.trace_sha256(
        engine.run(BASE, 100)[61:]
    )
