"""Decrees over a real server (issue 15, part 2): applied at a recorded tick, shown in the
stream and the trace, replayed bit for bit, refused when the run is over, idempotent on retry;
client.trace() of an existing simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from kairos import KairosClient, LazyTrace, engine, scenarios
from kairos.domains.ai_safety import AISafetyEventType
from kairos.errors import BadRequestError, DecreeRefusedError, NotFoundError, ValidationError
from kairos.server import ServerThread
from kairos_api import Decree, Simulation

from .faults import FaultProxy

ENTRY = scenarios.get("capability-divergence")
LONG = 20_000  # long enough to be running when the decree arrives


def _start(client: KairosClient, ticks: int = LONG) -> Simulation:
    """A running simulation: created, and its first steps stored."""
    record = client.simulation.create(scenario=ENTRY.scenario().to_model(), ticks=ticks)
    for _chunk in client.simulation.stream(id=record.id):
        break
    return record


def _replays(client: KairosClient, trace_sha: str, replay: dict[str, object], ticks: int) -> None:
    # In this process, and as a new run on the server: both give the decreed run's bytes.
    assert engine.trace_sha256(engine.run(replay, ticks)) == trace_sha
    assert client.run(replay, ticks=ticks).sha256() == trace_sha


def test_a_decree_while_streaming_takes_effect_at_a_recorded_tick_and_replays(
    server: ServerThread,
) -> None:
    with KairosClient(url=server.url) as client:
        record = client.simulation.create(scenario=ENTRY.scenario().to_model(), ticks=LONG)
        seen = 0
        decree: Decree | None = None
        streamed: list[Decree] = []
        for chunk in client.simulation.stream(id=record.id):
            seen = chunk.steps[-1].t
            streamed.extend(chunk.decrees)
            if decree is None:
                decree = client.decree(
                    record.id, AISafetyEventType.CONTAINMENT, target="frontier_model", magnitude=0.6
                )
        assert decree is not None and decree.status == "applied" and decree.tick is not None
        assert seen == LONG
        assert streamed == [decree]  # the stream shows it in the chunk holding its tick
        assert client.simulation.get(id=record.id).decrees == [decree]

        trace = client.trace(record.id)
        assert trace.decrees() == [decree]
        step = trace.step_at(decree.tick)
        assert {"type": "containment", "target": "frontier_model"}.items() <= (
            step.events[-1].model_dump(mode="json", exclude_none=True).items()
        )
        replay = trace.replay_scenario()
        assert replay["events"][-1] == {
            "tick": decree.tick,
            "type": "containment",
            "target": "frontier_model",
            "magnitude": 0.6,
        }
        assert trace.sha256() != engine.trace_sha256(engine.run(ENTRY.scenario().to_wire(), LONG))
        _replays(client, trace.sha256(), replay, LONG)
        served = client.simulation.scenario(id=record.id).replay_scenario
        assert (
            engine.compile_scenario(
                served.model_dump(mode="json", by_alias=True, exclude_none=True)
            ).fingerprint
            == engine.compile_scenario(replay).fingerprint
        )


async def test_adecree_and_atrace_with_a_lazy_trace(server: ServerThread, tmp_path: Path) -> None:
    async with KairosClient(url=server.url) as client:
        record = await client.simulation.acreate(scenario=ENTRY.scenario().to_model(), ticks=LONG)
        async for _chunk in client.simulation.astream(id=record.id):
            break
        decree = await client.adecree(
            record.id, {"type": "human_escalation", "target": "frontier_model"}
        )
        assert decree.status == "applied" and decree.tick is not None and decree.tick > 1
        lazy = await client.atrace(record.id, out=tmp_path / "decreed.jsonl")
        assert isinstance(lazy, LazyTrace) and len(lazy) == LONG
        assert lazy.decrees() == [decree]
        # The file keeps the scenario and the decrees: reopened, it still replays.
        again = LazyTrace.open(tmp_path / "decreed.jsonl")
        assert again.replay_scenario() == lazy.replay_scenario()
        assert engine.trace_sha256(engine.run(again.replay_scenario(), LONG)) == again.sha256()


def test_decrees_on_finished_runs_and_bad_decrees_are_refused(server: ServerThread) -> None:
    with KairosClient(url=server.url) as client:
        done = client.run(ENTRY.id, ticks=ENTRY.ticks)
        done_id = done.metadata.simulation_id
        assert done_id is not None
        with pytest.raises(DecreeRefusedError) as refused:
            client.decree(done_id, "containment")
        assert (refused.value.status, refused.value.reason) == ("completed", "finished")
        assert refused.value.simulation_id == done_id and "completed" in str(refused.value)

        running = _start(client)
        cancelled = client.simulation.cancel(id=running.id)
        assert cancelled.status == "cancelled"
        with pytest.raises(DecreeRefusedError) as after_cancel:
            client.decree(running.id, "containment")
        assert after_cancel.value.status == "cancelled"

        with pytest.raises(NotFoundError):
            client.decree("sim_doesnotexist", "containment")
        with pytest.raises(BadRequestError, match=r"event\.target"):
            client.decree(done_id, "containment", target="nobody")
        with pytest.raises(ValidationError, match="event"):
            client.decree(done_id, 42)  # type: ignore[arg-type]
        # The trace of an existing, finished run is the run's own.
        assert client.trace(done_id) == done


def test_a_decree_retried_after_a_lost_answer_is_applied_once(
    server: ServerThread, proxy: FaultProxy
) -> None:
    with KairosClient(url=server.url) as direct:
        record = _start(direct)
        proxy.push("drop_response")  # the server files the decree; the client never hears
        with KairosClient(proxy.start_url, retry_backoff=0.01) as client:
            decree = client.decree(record.id, "capability_jump", target="frontier_model")
        assert proxy.requests >= 2  # the lost answer was retried with the same key
        assert direct.simulation.get(id=record.id).decrees == [decree]
        again = direct.decree(
            record.id, "capability_jump", target="frontier_model", idempotency_key="same"
        )
        assert (
            direct.decree(
                record.id, "capability_jump", target="frontier_model", idempotency_key="same"
            )
            == again
        )
        assert len(direct.simulation.get(id=record.id).decrees) == 2
        direct.simulation.cancel(id=record.id)
