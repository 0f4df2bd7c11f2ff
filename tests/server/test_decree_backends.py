"""Decrees on the PostgreSQL store and the Dask executor: the same promises as on SQLite with
local workers (tests/client/test_decrees.py): applied at a recorded tick that the stream shows,
replayed bit for bit, refused once the run is over, filed once under one idempotency key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kairos import KairosClient, engine, scenarios
from kairos.domains.ai_safety import AISafetyEventType
from kairos.errors import DecreeRefusedError
from kairos.server import ServerThread
from kairos_api import Decree

from .conftest import backend_options, start_server

ENTRY = scenarios.get("capability-divergence")
LONG = 100_000  # several Dask segments of about 0.25 s each: running when the decree comes


@pytest.fixture(scope="module", params=["postgres", "dask"])
def decree_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    options: dict[str, Any] = {}
    if request.param == "dask":
        options["executor"] = request.getfixturevalue("dask_cluster").scheduler_address
    else:
        options.update(backend_options(request, request.param))
    thread = start_server(tmp_path_factory.mktemp("decrees"), rate_limit=None, **options)
    yield thread
    thread.stop()


def test_a_decree_is_applied_at_a_recorded_tick_and_replays(decree_server: ServerThread) -> None:
    with KairosClient(url=decree_server.url) as client:
        record = client.simulation.create(scenario=ENTRY.scenario().to_model(), ticks=LONG)
        decree: Decree | None = None
        streamed: list[Decree] = []
        ticks: list[int] = []
        for chunk in client.simulation.stream(id=record.id):
            ticks.extend(step.t for step in chunk.steps)
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
        assert ticks == list(range(1, LONG + 1))  # every tick once
        assert decree is not None and decree.tick is not None
        applied = client.simulation.get(id=record.id).decrees
        assert [d.id for d in applied] == [decree.id] and applied[0].tick is not None
        assert [d.id for d in streamed] == [decree.id]
        trace = client.trace(record.id)
        replay = trace.replay_scenario()
        assert engine.trace_sha256(engine.run(replay, LONG)) == trace.sha256()
        assert trace.sha256() != engine.trace_sha256(engine.run(ENTRY.scenario().to_wire(), LONG))
        with pytest.raises(DecreeRefusedError):
            client.decree(record.id, AISafetyEventType.CONTAINMENT, target="frontier_model")
