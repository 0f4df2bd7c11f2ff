"""Results are immutable (issue 11): ``trace[0].stability = -5.0`` used to succeed, after which
``trace.sha256()`` changed while ``min_stability()`` kept its cached value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.server import ServerConfig, ServerThread
from kairos.trace import Trace
from kairos_api import SimulationSummary, schema

TICKS = 120


def scenario() -> AISafetyScenario:
    return (
        AISafetyScenario("immutable", seed=3)
        .add_model(name="model", capability_index=500, alignment_score=70, guardrail_coverage=30)
        .add_oversight_body(name="board", guardrail_strength=50, response_latency=2)
        .add_event(30, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.8)
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosClient]:
    config = ServerConfig(
        db_path=tmp_path_factory.mktemp("immutable") / "kairos.db", port=0, workers=1
    )
    server = ServerThread(config)
    server.start()
    with KairosClient(server.url) as client:
        yield client
    server.stop()


def frozen(assign: Any) -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        assign()


def figures(trace: Trace) -> tuple[Any, ...]:
    return (
        trace.sha256(),
        trace.min_stability(),
        trace.mean_stability(),
        trace.final_phase(),
        trace.summary(),
        trace.basin_losses(),
        trace.phase_transitions(),
    )


def test_a_trace_and_its_steps_cannot_be_changed(client: KairosClient) -> None:
    trace = client.run(scenario(), ticks=TICKS)
    assert trace.basin_losses() and trace.phase_transitions()
    before = figures(trace)
    step = trace[0]
    event_step = trace.step_at(30)
    frozen(lambda: setattr(step, "stability", -5.0))
    frozen(lambda: setattr(step, "phase", "stagnant"))
    frozen(lambda: setattr(step.agents["model"], "stability", 0.0))
    frozen(lambda: setattr(step.oversight["board"], "effective_strength", 0.0))
    frozen(lambda: setattr(event_step.events[0], "magnitude", 0.0))
    frozen(lambda: setattr(trace.basin_losses()[0], "magnitude", 0.0))
    frozen(lambda: setattr(trace.phase_transitions()[0], "tick", 1))
    frozen(lambda: setattr(trace.summary(), "min_stability", 0.0))
    assert figures(trace) == before
    # The way to a changed step is a copy, which leaves the trace alone.
    original = step.stability
    changed = step.model_copy(update={"stability": original / 2})
    assert changed.stability == original / 2 and trace[0].stability == original
    assert figures(trace) == before


def test_a_trace_read_from_disk_is_immutable_too(client: KairosClient, tmp_path: Path) -> None:
    lazy = client.run(scenario(), ticks=TICKS, out=tmp_path / "t.jsonl")
    before = lazy.sha256()
    frozen(lambda: setattr(lazy[5], "stability", -5.0))
    assert lazy.sha256() == before


def test_what_the_server_returns_is_immutable(client: KairosClient) -> None:
    trace = client.run(scenario(), ticks=TICKS)
    record = client.simulation.get(id=trace.metadata.simulation_id or "")
    frozen(lambda: setattr(record, "status", "failed"))
    assert record.summary is not None
    frozen(lambda: setattr(record.summary, "mean_stability", 1.0))
    page = client.simulation.list(limit=1)
    frozen(lambda: setattr(page, "next_cursor", None))
    frozen(lambda: setattr(page.items[0], "ticks", 1))
    versions = client.engine.versions()
    frozen(lambda: setattr(versions.active[0], "notes", ""))
    domains = client.domain.list()
    frozen(lambda: setattr(domains.domains[0].event_types[0], "default_magnitude", 0.0))
    result = client.scenario.validate(scenario={"name": "x"})
    frozen(lambda: setattr(result, "valid", True))
    frozen(lambda: setattr(result.issues[0], "message", ""))
    chunk = next(iter(client.simulation.stream(id=record.id)))
    frozen(lambda: setattr(chunk.steps[0], "t", 99))
    page_of_steps = client.simulation.trace(id=record.id, limit=2)
    frozen(lambda: setattr(page_of_steps.steps[0], "t", 99))
    # The trace still agrees with the server's own summary.
    assert SimulationSummary.model_validate(record.summary.model_dump()) == trace.summary()


def test_every_output_model_is_frozen_in_the_schema() -> None:
    document = schema()
    for row in document["x-trpc-procedures"]:
        name = row["output"]["$ref"].rsplit("/", 1)[1]
        assert document["$defs"][name].get("x-frozen") is True, name
    assert document["$defs"]["PhaseTransition"]["x-frozen"] is True  # trace records
