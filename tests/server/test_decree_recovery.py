"""Decrees in the worker (issue 15): taken up between two ticks at the next tick not computed,
recorded with the simulation, and kept across an interrupted run, whose resumed trace equals a
run of the replay scenario bit for bit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kairos import engine, scenarios
from kairos.server._execute import execute, replay_scenario
from kairos.server._sqlite_store import Store
from kairos.server._store import DecreeRefused, NewSimulation

SCENARIO = scenarios.get("capability-divergence").scenario().to_wire()


def _file(store: Store, sim_id: str, ticks: int) -> None:
    store.create(
        NewSimulation(
            id=sim_id,
            owner="",
            organization_id=None,
            scenario_json=engine.canonical_json(SCENARIO),
            scenario_name=SCENARIO["name"],
            domain="ai_safety",
            seed=SCENARIO["seed"],
            ticks=ticks,
            engine_version="1.5.0",
            idempotency_key=None,
            input_hash="h",
            created_at="2026-12-02T00:00:00.000Z",
        )
    )


def _decree(store: Store, sim_id: str, n: int, event: dict[str, Any]) -> None:
    store.add_decree(
        decree_id=f"dec_{n}",
        simulation_id=sim_id,
        event_json=engine.canonical_json(event),
        idempotency_key=None,
        created_at="2026-12-02T00:00:00.000Z",
    )


def _stored(store: Store, sim_id: str) -> list[dict[str, Any]]:
    return [json.loads(x) for _, _, lines in store.iter_chunks(sim_id, after_tick=0) for x in lines]


class _Crash(Exception):
    pass


def test_decrees_survive_an_interrupted_run_and_replay_bit_for_bit(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    _file(store, "sim_d", 600)
    _decree(store, "sim_d", 1, {"type": "capability_jump", "target": "frontier_model"})
    calls: list[int] = []

    def crash_after_three(_id: str, tick: int) -> None:
        calls.append(tick)
        if len(calls) == 2:  # a decree filed while the run is going
            _decree(store, "sim_d", 2, {"type": "containment", "magnitude": 0.25})
        if len(calls) == 3:
            raise _Crash  # the worker dies: the run stays running with its checkpoint

    with pytest.raises(_Crash):
        execute(store, "sim_d", chunk_steps=100, flush_seconds=1e9, on_progress=crash_after_three)
    assert store.get("sim_d").status == "running"
    first, second = store.decrees("sim_d")
    assert (first.status, first.tick) == ("applied", 1)  # taken up before tick 1
    # Filed after the chunk ending at 200 was stored: taken up after the next one, at 301 (the
    # checkpoint at 300 predates it: the resume below must find the scenario it belongs to).
    assert (second.status, second.tick) == ("applied", 301)
    _decree(store, "sim_d", 3, {"type": "human_escalation", "target": "frontier_model"})

    assert execute(store, "sim_d", chunk_steps=100, flush_seconds=1e9) == "completed"
    decrees = store.decrees("sim_d")
    assert [(d.id, d.tick) for d in decrees] == [("dec_1", 1), ("dec_2", 301), ("dec_3", 301)]
    replay = replay_scenario(SCENARIO, decrees)
    expected = engine.run(replay, 600, "1.5.0")
    assert engine.trace_sha256(_stored(store, "sim_d")) == engine.trace_sha256(expected)
    assert [e["type"] for e in expected[300]["events"]] == ["containment", "human_escalation"]
    assert expected[300]["t"] == 301
    assert engine.trace_sha256(expected) != engine.trace_sha256(engine.run(SCENARIO, 600))


def test_a_finished_run_refuses_and_a_late_decree_is_rejected(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    _file(store, "sim_e", 150)
    seen: list[int] = []

    def late(_id: str, tick: int) -> None:
        seen.append(tick)

    assert execute(store, "sim_e", chunk_steps=100, flush_seconds=1e9, on_progress=late) == (
        "completed"
    )
    with pytest.raises(DecreeRefused, match="completed"):
        _decree(store, "sim_e", 9, {"type": "containment"})
    # A decree pending when the last chunk is stored is rejected, not silently dropped.
    _file(store, "sim_f", 150)
    _decree(store, "sim_f", 10, {"type": "containment"})
    store.mark_running("sim_f")
    assert store.claim_decrees("sim_f", 151, 150) == []
    (rejected,) = store.decrees("sim_f")
    assert rejected.status == "rejected" and rejected.tick is None and rejected.reason
