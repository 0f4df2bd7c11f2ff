"""Runs survive restarts: resumed from their checkpoint with the exact trace of an uninterrupted
run, or failed with a reason; none is silently lost. Streams are told to reconnect."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from kairos import engine
from kairos.server import ServerConfig, ServerThread
from kairos.server._execute import execute
from kairos.server._store import NewSimulation, SimulationStore, open_store
from tests.server.conftest import BACKENDS, SCENARIO, Wire, backend_options, start_server


def _file(store: SimulationStore, sim_id: str, ticks: int, **overrides: Any) -> None:
    scenario = {**SCENARIO, **overrides.pop("scenario", {})}
    store.create(
        NewSimulation(
            id=sim_id,
            owner="",
            organization_id=None,
            scenario_json=engine.canonical_json(scenario),
            scenario_name=scenario["name"],
            domain="ai_safety",
            seed=scenario["seed"],
            ticks=ticks,
            engine_version=overrides.pop("engine_version", "1.5.0"),
            idempotency_key=None,
            input_hash="h",
            created_at="2026-11-24T00:00:00.000Z",
        )
    )


def _stored_trace(store: SimulationStore, sim_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for _, _, lines in store.iter_chunks(sim_id, after_tick=0)
        for line in lines
    ]


def test_execute_runs_to_completion_with_the_engines_trace(store: SimulationStore) -> None:
    _file(store, "sim_a", 700)
    progress: list[int] = []
    assert (
        execute(store, "sim_a", chunk_steps=100, on_progress=lambda _id, t: progress.append(t))
        == "completed"
    )
    assert progress[-1] == 700 and progress == sorted(progress)
    expected = engine.run(SCENARIO, 700, "1.5.0")
    assert engine.trace_sha256(_stored_trace(store, "sim_a")) == engine.trace_sha256(expected)
    record = store.get("sim_a")
    assert json.loads(record.summary_json) == json.loads(
        engine.canonical_json(engine.summarize(expected))
    )


def test_an_interrupted_run_resumes_from_its_checkpoint_bit_for_bit(store: SimulationStore) -> None:
    _file(store, "sim_b", 900)
    simulation = engine.Simulation(SCENARIO, "1.5.0")
    store.mark_running("sim_b")
    # What a worker killed after 4 chunks leaves behind: 400 steps and the checkpoint at 400.
    for first in range(1, 401, 100):
        lines = [engine.canonical_json(simulation.step()).encode() for _ in range(100)]
        store.append_chunk("sim_b", first, lines, checkpoint=simulation.checkpoint())
    assert store.get("sim_b").status == "running"

    assert execute(store, "sim_b", chunk_steps=128) == "completed"
    expected = engine.run(SCENARIO, 900, "1.5.0")
    assert engine.trace_sha256(_stored_trace(store, "sim_b")) == engine.trace_sha256(expected)
    assert (
        json.loads(store.get("sim_b").summary_json)["meanStability"]
        == engine.summarize(expected)["meanStability"]
    )


def test_a_run_that_cannot_resume_is_failed_with_a_reason(store: SimulationStore) -> None:
    _file(store, "sim_c", 50, engine_version="1.3.2")  # retired since it was filed
    assert execute(store, "sim_c") == "failed"
    error = json.loads(store.get("sim_c").error_json)
    assert error["code"] == "engine_version" and "1.5.0" in error["message"]

    _file(store, "sim_d", 50)
    store.mark_running("sim_d")
    store.append_chunk("sim_d", 1, [b'{"t":1}'], checkpoint=b"not a checkpoint")
    assert execute(store, "sim_d") == "failed"
    assert json.loads(store.get("sim_d").error_json)["code"] == "checkpoint_unusable"


def test_cancel_between_chunks(store: SimulationStore) -> None:
    _file(store, "sim_e", 100_000)

    def cancel_after_first_chunk(sim_id: str, tick: int) -> None:
        store.request_cancel(sim_id)

    assert (
        execute(
            store, "sim_e", chunk_steps=64, flush_seconds=1e9, on_progress=cancel_after_first_chunk
        )
        == "cancelled"
    )
    record = store.get("sim_e")
    assert record.status == "cancelled" and record.tick == 64


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_restart_resumes_running_simulations(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    database = backend_options(request, backend)
    first = start_server(tmp_path, rate_limit=None, workers=1, **database)
    wire = Wire(first.url)
    record = wire.create(ticks=200_000)
    deadline = time.monotonic() + 60
    while wire.data(wire.query("simulation.get", {"id": record["id"]}))["tick"] < 2_000:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop()

    store = open_store(database.get("db_url") or tmp_path / "kairos.db")
    interrupted = store.get(record["id"])
    assert interrupted.status == "running" and 0 < interrupted.tick < 200_000
    store.close()

    second = start_server(tmp_path, rate_limit=None, workers=1, **database)
    try:
        wire = Wire(second.url)
        # The resumed run continues: cancel it once it has moved on, to keep the test short.
        deadline = time.monotonic() + 60
        while (
            wire.data(wire.query("simulation.get", {"id": record["id"]}))["tick"]
            <= interrupted.tick + 1_000
        ):
            assert time.monotonic() < deadline, "the interrupted simulation was not resumed"
            time.sleep(0.05)
        final = wire.data(wire.mutate("simulation.cancel", {"id": record["id"]}))
        assert final["status"] == "cancelled"
        steps = []
        from_tick = 1
        while from_tick <= final["tick"]:
            page = wire.data(
                wire.query(
                    "simulation.trace", {"id": record["id"], "fromTick": from_tick, "limit": 10_000}
                )
            )
            steps += page["steps"]
            from_tick += len(page["steps"])
        assert [s["t"] for s in steps] == list(range(1, final["tick"] + 1))
        expected = engine.iter_steps(SCENARIO, final["tick"], "1.5.0")
        assert engine.trace_sha256(steps) == engine.trace_sha256(expected)
    finally:
        second.stop()


def test_shutdown_tells_streaming_clients_to_reconnect(tmp_path: Path) -> None:
    server = ServerThread(
        ServerConfig(db_path=tmp_path / "k.db", port=0, workers=1, rate_limit=None)
    )
    server.start()
    wire = Wire(server.url)
    record = wire.create(ticks=1_000_000)

    async def stream_until_notified() -> dict[str, Any]:
        async with websockets.connect(wire.ws_url) as ws:
            await ws.send(
                json.dumps(
                    {
                        "id": 1,
                        "method": "subscription",
                        "params": {"path": "simulation.stream", "input": {"id": record["id"]}},
                    }
                )
            )
            await asyncio.wait_for(ws.recv(), 10)  # started
            stopper = asyncio.get_running_loop().run_in_executor(None, server.stop)
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame.get("method") == "reconnect":
                    await stopper
                    return frame

    assert asyncio.run(stream_until_notified()) == {"id": None, "method": "reconnect"}
