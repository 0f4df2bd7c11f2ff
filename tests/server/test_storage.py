"""The store, on both backends (SQLite and PostgreSQL): records, idempotency, org scoping,
chunked traces and checkpoints."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from kairos.server._store import IdempotencyConflict, NewSimulation, StorageError, open_store
from kairos.server._store import SimulationStore as Store


def _new(
    sim_id: str, *, owner: str = "org_a", key: str | None = None, digest: str = "h1"
) -> NewSimulation:
    return NewSimulation(
        id=sim_id,
        owner=owner,
        organization_id=owner,
        scenario_json=json.dumps({"name": "s"}),
        scenario_name="s",
        domain="ai_safety",
        seed=7,
        ticks=1000,
        engine_version="1.5.0",
        idempotency_key=key,
        input_hash=digest,
        created_at="2026-11-24T10:00:00.000Z",
    )


def _steps(first: int, count: int) -> list[bytes]:
    return [json.dumps({"t": t}).encode() for t in range(first, first + count)]


def test_create_and_get_are_scoped_to_the_owner(store: Store) -> None:
    record, created = store.create(_new("sim_1"))
    assert created and record.status == "queued" and record.tick == 0
    assert store.get("sim_1", "org_a") == record
    assert store.get("sim_1", "org_b") is None
    assert store.get("sim_nope", "org_a") is None


def test_idempotency_key_returns_the_same_simulation_or_conflicts(store: Store) -> None:
    first, created = store.create(_new("sim_1", key="k1"))
    again, created_again = store.create(_new("sim_2", key="k1"))
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyConflict) as conflict:
        store.create(_new("sim_3", key="k1", digest="other"))
    assert conflict.value.existing.id == "sim_1"
    # The same key belongs to each owner separately.
    other, created_other = store.create(_new("sim_4", owner="org_b", key="k1"))
    assert created_other and other.id == "sim_4"


def test_concurrent_creates_with_one_key_make_one_simulation(store: Store) -> None:
    ids = []

    def create(n: int) -> None:
        record, _ = store.create(_new(f"sim_{n}", key="shared"))
        ids.append(record.id)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1


def test_pages_are_newest_first_and_filterable(store: Store) -> None:
    for n in range(7):
        store.create(_new(f"sim_{n}"))
    store.create(_new("sim_other", owner="org_b"))
    store.finish("sim_3", "cancelled", completed_at="t")
    first, cursor = store.page("org_a", before_seq=None, limit=3)
    assert [r.id for r in first] == ["sim_6", "sim_5", "sim_4"]
    second, cursor = store.page("org_a", before_seq=cursor, limit=3)
    assert [r.id for r in second] == ["sim_3", "sim_2", "sim_1"]
    third, cursor = store.page("org_a", before_seq=cursor, limit=3)
    assert [r.id for r in third] == ["sim_0"] and cursor is None
    cancelled, _ = store.page("org_a", before_seq=None, limit=10, status="cancelled")
    assert [r.id for r in cancelled] == ["sim_3"]


def test_chunks_page_and_replay_without_reading_everything(store: Store) -> None:
    store.create(_new("sim_1"))
    store.append_chunk("sim_1", 1, _steps(1, 100))
    store.append_chunk("sim_1", 101, _steps(101, 100), checkpoint=b"state@200")
    store.append_chunk("sim_1", 201, _steps(201, 50))
    assert store.get("sim_1").tick == 250

    page = store.read_steps("sim_1", 95, 10)
    assert [json.loads(line)["t"] for line in page] == list(range(95, 105))
    assert len(store.read_steps("sim_1", 240, 100)) == 11
    assert store.read_steps("sim_1", 251, 10) == []

    chunks = list(store.iter_chunks("sim_1", after_tick=150))
    assert [(first, last, len(lines)) for first, last, lines in chunks] == [
        (151, 200, 50),
        (201, 250, 50),
    ]
    assert store.latest_checkpoint("sim_1") == (200, b"state@200")


def test_a_chunk_that_does_not_continue_the_trace_is_refused(store: Store) -> None:
    store.create(_new("sim_1"))
    store.append_chunk("sim_1", 1, _steps(1, 10))
    with pytest.raises(ValueError, match="starts at tick 12 but the stored trace ends at tick 10"):
        store.append_chunk("sim_1", 12, _steps(12, 5))
    with pytest.raises(ValueError):
        store.append_chunk("sim_1", 5, _steps(5, 5))
    assert store.get("sim_1").tick == 10


def test_rewind_drops_steps_after_a_checkpoint(store: Store) -> None:
    store.create(_new("sim_1"))
    store.append_chunk("sim_1", 1, _steps(1, 100), checkpoint=b"@100")
    store.append_chunk("sim_1", 101, _steps(101, 30))
    store.rewind("sim_1", 100)
    assert store.get("sim_1").tick == 100
    assert store.read_steps("sim_1", 99, 10) == _steps(99, 2)
    store.append_chunk("sim_1", 101, _steps(101, 5))
    assert store.get("sim_1").tick == 105


def test_status_life_cycle_and_cancel_flag(store: Store) -> None:
    store.create(_new("sim_1"))
    assert store.unfinished()[0].id == "sim_1"
    store.request_cancel("sim_1")
    assert store.cancel_requested("sim_1")
    assert not store.mark_running("sim_1"), "a cancelled simulation must not start"
    done = store.finish("sim_1", "cancelled", completed_at="2026-11-24T10:01:00.000Z")
    assert done is not None and done.status == "cancelled" and done.finished
    again = store.finish("sim_1", "completed", completed_at="later")
    assert again is not None and again.status == "cancelled", "final statuses are final"
    assert store.unfinished() == []
    with pytest.raises(ValueError):
        store.finish("sim_1", "running", completed_at="x")


def test_records_survive_reopening(store_location: str) -> None:
    first = open_store(store_location)
    first.create(_new("sim_1"))
    first.append_chunk("sim_1", 1, _steps(1, 3), checkpoint=b"cp")
    first.close()
    second = open_store(store_location)
    assert second.get("sim_1").tick == 3
    assert second.latest_checkpoint("sim_1") == (3, b"cp")


def test_a_database_of_another_schema_version_is_a_typed_error(store_location: str) -> None:
    open_store(store_location).close()
    if store_location.startswith("postgresql://"):
        from kairos.server._pg_store import connect

        with connect(store_location) as db:
            db.execute("UPDATE kairos_meta SET value = '99' WHERE key = 'schema_version'")
    else:
        with sqlite3.connect(store_location) as db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        db.close()
    with pytest.raises(StorageError, match="holds storage schema version 99; this server reads"):
        open_store(store_location)


def test_a_sqlite_library_without_returning_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real SQLite older than 3.35 cannot be loaded next to the one Python links.
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(StorageError, match=r"SQLite 3\.31\.1 is too old: the store needs 3\.35\.0"):
        open_store(tmp_path / "kairos.db")
    assert not (tmp_path / "kairos.db").exists()
