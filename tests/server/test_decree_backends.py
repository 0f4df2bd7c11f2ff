"""Decrees on the PostgreSQL store and the Dask executor: the same promises as on SQLite with
local workers (tests/client/test_decrees.py): applied at a recorded tick that the stream shows,
replayed bit for bit, refused once the run is over, filed once under one idempotency key."""

from __future__ import annotations

import pytest

from kairos import KairosClient, engine, scenarios
from kairos.domains.ai_safety import AISafetyEventType
from kairos.errors import DecreeRefusedError
from kairos.server import ServerThread
from kairos_api import Decree

ENTRY = scenarios.get("capability-divergence")
# Long enough to be running when the decree comes: on Dask, several segments of about 0.25 s.
TICKS = {"postgres": 40_000, "dask": 100_000}


@pytest.mark.parametrize("server", ["postgres", "dask"], indirect=True)
def test_a_decree_is_applied_at_a_recorded_tick_and_replays(
    server: ServerThread, request: pytest.FixtureRequest
) -> None:
    length = TICKS[request.node.callspec.params["server"]]
    with KairosClient(url=server.url) as client:
        record = client.simulation.create(scenario=ENTRY.scenario().to_model(), ticks=length)
        decree: Decree | None = None
        streamed: list[Decree] = []
        seen: list[int] = []
        for chunk in client.simulation.stream(id=record.id):
            seen.extend(step.t for step in chunk.steps)
            streamed.extend(chunk.decrees)
            if decree is None:
                decree = client.decree(
                    record.id,
                    AISafetyEventType.CONTAINMENT,
                    target="frontier_model",
                    magnitude=0.6,
                    idempotency_key="board-1",
                )
                again = client.decree(
                    record.id,
                    AISafetyEventType.CONTAINMENT,
                    target="frontier_model",
                    magnitude=0.6,
                    idempotency_key="board-1",
                )
                assert again.id == decree.id
        assert seen == list(range(1, length + 1))  # every tick once
        assert decree is not None and decree.tick is not None
        applied = client.simulation.get(id=record.id).decrees
        assert [d.id for d in applied] == [decree.id] and applied[0].tick is not None
        assert [d.id for d in streamed] == [decree.id]
        trace = client.trace(record.id)
        replay = trace.replay_scenario()
        assert engine.trace_sha256(engine.run(replay, length)) == trace.sha256()
        assert trace.sha256() != engine.trace_sha256(engine.run(ENTRY.scenario().to_wire(), length))
        with pytest.raises(DecreeRefusedError):
            client.decree(record.id, AISafetyEventType.CONTAINMENT, target="frontier_model")
