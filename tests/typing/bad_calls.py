"""Deliberately wrong calls: mypy must report each marked line with the marked error code
(tests/generator/test_typing.py), and nothing else."""

from __future__ import annotations

from kairos_api import AISafetyModel, KairosAPI, Scenario


def wrong(api: KairosAPI, scenario: Scenario) -> None:
    api.simulation.create(scenario=scenario, tick=1000)  # expect: call-arg
    api.simulation.create(scenario=scenario, ticks="1000")  # expect: arg-type
    api.simulation.create(scenario={"name": "x"}, ticks=10)  # expect: arg-type
    api.simulation.get("sim_1")  # expect: call-arg
    api.simulation.list(status="done")  # expect: arg-type
    api.simulation.lst()  # expect: attr-defined
    api.simulation.get(id=1)  # expect: arg-type
    sim = api.simulation.get(id="sim_1")
    sim.ticks.upper()  # expect: attr-defined
    sim.engineVersion  # expect: attr-defined
    AISafetyModel(name="m", capability_index="high", alignment_score=1)  # expect: arg-type
    for step in api.simulation.trace(id="s").steps:
        step.stabilty  # expect: attr-defined


async def wrong_async(api: KairosAPI) -> None:
    api.simulation.aget(id="s").status  # expect: attr-defined
    for chunk in api.simulation.astream(id="s"):  # expect: attr-defined
        pass
