"""A user's script, type-checked by mypy --strict in tests/generator/test_typing.py.

Every generated call and model is typed end to end: an IDE completes and checks all of this.
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import assert_type

from kairos_api import (
    AgentState,
    AISafetyModel,
    DomainList,
    EngineVersions,
    KairosAPI,
    OversightBody,
    Scenario,
    ScenarioEvent,
    Simulation,
    SimulationPage,
    TraceChunk,
    TracePage,
    TraceStep,
    ValidationResult,
)
from kairos_api.enums import AISafetyEventType


def build_scenario() -> Scenario:
    return Scenario(
        name="Deceptive Alignment Spikes",
        seed=1024,
        models=[
            AISafetyModel(
                name="Model_A",
                capability_index=850,
                alignment_score=92,
                autonomy_level=8,
                human_oversight_freq=20,
                guardrail_coverage=95,
            )
        ],
        oversight_bodies=[
            OversightBody(name="safety_board", guardrail_strength=75, response_latency=25)
        ],
        events=[ScenarioEvent(tick=100, type="capability_jump", target="Model_A", magnitude=0.3)],
    )


def sync_calls(api: KairosAPI) -> None:
    scenario = build_scenario()
    assert_type(scenario.models[0].capability_index, float)
    assert_type(
        scenario.events[0].type,
        Literal[
            "capability_jump",
            "alignment_drift",
            "deceptive_alignment",
            "guardrail_breach",
            "autonomy_grant",
            "oversight_lapse",
            "human_escalation",
            "containment",
        ],
    )
    assert scenario.events[0].type == AISafetyEventType.CAPABILITY_JUMP.value

    sim = api.simulation.create(scenario=scenario, ticks=1000, engine_version="1.4.4")
    assert_type(sim, Simulation)
    assert_type(sim.id, str)
    assert_type(sim.tick, int)
    assert_type(sim.status, Literal["queued", "running", "completed", "failed", "cancelled"])
    assert_type(sim.organization_id, str | None)
    if sim.summary is not None:
        assert_type(sim.summary.mean_stability, float)
        assert_type(sim.summary.final_phase, Literal["resonant", "volatile", "stagnant"])

    assert_type(api.simulation.get(id=sim.id), Simulation)
    assert_type(api.simulation.cancel(id=sim.id), Simulation)
    page = api.simulation.list(limit=10, status="completed")
    assert_type(page, SimulationPage)
    assert_type(page.next_cursor, str | None)
    assert_type(page.items, list[Simulation])

    trace = api.simulation.trace(id=sim.id, from_tick=1, limit=500)
    assert_type(trace, TracePage)
    assert_type(trace.next_tick, int | None)

    for chunk in api.simulation.stream(id=sim.id, last_event_id="41"):
        assert_type(chunk, TraceChunk)
        step = chunk.steps[0]
        assert_type(step, TraceStep)
        assert_type(step.t, int)
        assert_type(step.stability, float)
        agent = step.agents["Model_A"]
        assert_type(agent, AgentState)
        assert_type(agent.lambda_, float)
        assert_type(agent.basin_lost, bool)

    assert_type(api.engine.versions(), EngineVersions)
    assert_type(api.domain.list(), DomainList)
    assert_type(
        api.scenario.validate(scenario=scenario.model_dump(by_alias=True)), ValidationResult
    )


async def async_calls(api: KairosAPI) -> None:
    sim = await api.simulation.acreate(scenario=build_scenario(), ticks=500)
    assert_type(sim, Simulation)
    assert_type(await api.simulation.aget(id=sim.id), Simulation)
    assert_type(await api.simulation.alist(), SimulationPage)
    assert_type(await api.engine.aversions(), EngineVersions)
    async for chunk in api.simulation.astream(id=sim.id):
        assert_type(chunk, TraceChunk)
