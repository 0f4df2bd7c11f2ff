"""Crash safety of the server's storage: ``kill -9`` of the real ``kairos serve`` (alone, with
its whole process group, or one of its workers first) in the middle of writes, round after
round, with simulations running, creates in flight and streams open.

After every kill the SQLite file passes ``PRAGMA integrity_check``. At the end every id a
``create`` returned is in the store, and is either completed with a trace identical to the
engine's or failed with a reason; no stored trace has a gap or a repeated tick; and the streams
that were open across the crashes got every tick once, in order.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.client import KairosClient
from kairos.errors import KairosError
from kairos.server._execute import execute
from kairos.server._sqlite_store import Store
from kairos.server._store import NewSimulation, decode_chunk

from .conftest import (
    Serve,
    ServeFactory,
    TraceHasher,
    engine_sha256,
    free_port,
    reliability_scenario,
    wait_until,
)

VERSION = "1.4.4"

# (how the server dies, how far the store has moved since the round began before the kill)
ROUNDS = [
    ("server", 6_000),  # the server process alone, as the OOM killer would
    ("worker-then-server", 9_000),  # a worker first (the pool replaces it), then the server
    ("group", 4_000),  # the server and its workers at once
    ("server", 15_000),
]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def stored_ticks(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(tick), 0) FROM simulations").fetchone()[0])


class Creator(threading.Thread):
    """Creates simulations (at most ``LIMIT``) until stopped; keeps every id a create returned
    (and its name and seed). Creates that fail during a crash are expected and not counted."""

    LIMIT = 12

    def __init__(self, url: str, prefix: str, ticks: int) -> None:
        super().__init__(daemon=True)
        self.url, self.prefix, self.ticks = url, prefix, ticks
        self.accepted: dict[str, tuple[str, int, int]] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        with KairosClient(self.url, max_retries=0, timeout=5, engine_version=VERSION) as client:
            n = 0
            while not self.halt.is_set() and len(self.accepted) < self.LIMIT:
                n += 1
                name, seed = f"{self.prefix}-{n}", 100 + n
                try:
                    record = client.simulation.create(
                        scenario=reliability_scenario(name, seed).to_wire(), ticks=self.ticks
                    )
                except KairosError:
                    time.sleep(0.05)
                    continue
                self.accepted[record.id] = (name, seed, self.ticks)
                time.sleep(0.05)


class Streamer(threading.Thread):
    """Streams one run across the crashes (the client reconnects and resumes)."""

    def __init__(
        self, url: str, name: str, seed: int, ticks: int, *, hold_at: int | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.name, self.seed, self.ticks = url, name, seed, ticks
        self.hasher = TraceHasher()
        self.error: BaseException | None = None
        self.simulation_id: str | None = None
        self.hold_at = hold_at
        """Stop reading after this many steps until ``release`` is set (the stream stays open,
        however fast the server computes): ``holding`` tells when it got there."""
        self.holding = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        try:
            with KairosClient(self.url, max_retries=12, retry_backoff=0.1, timeout=5) as client:
                for step in client.stream_run(
                    reliability_scenario(self.name, self.seed), self.ticks, engine_version=VERSION
                ):
                    self.hasher.add(step)
                    if self.hasher.count == self.hold_at:
                        self.holding.set()
                        self.release.wait(120)
        except BaseException as exc:  # reported by the test
            self.error = exc


def kill(server: Serve, how: str) -> None:
    if how == "worker-then-server":
        workers = server.worker_pids()
        assert workers, "the server has no worker to kill"
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(0.3)  # the pool notices, replaces it and retries from the checkpoint
    if how == "group":
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(10)
    else:
        server.kill()


def check_stored_trace(store: Store, sim_id: str, upto: int) -> list[bytes]:
    """The stored lines of ``sim_id``: chunks contiguous from tick 1 to ``upto``, no gap, no
    overlap, each line's ``t`` in order."""
    rows = store._db.execute(
        "SELECT first_tick, last_tick, data FROM trace_chunks WHERE simulation_id = ? "
        "ORDER BY first_tick",
        (sim_id,),
    ).fetchall()
    lines: list[bytes] = []
    expected_first = 1
    for first, last, data in rows:
        assert first == expected_first, f"{sim_id}: chunk at {first}, expected {expected_first}"
        chunk = decode_chunk(bytes(data))
        assert len(chunk) == last - first + 1
        lines += chunk
        expected_first = last + 1
    assert expected_first - 1 == upto, f"{sim_id}: stored up to {expected_first - 1}, not {upto}"
    return lines


def test_kill_9_rounds_lose_nothing(serve: ServeFactory, tmp_path: Path) -> None:
    port = free_port()
    options = ("--workers", "2", "--rate-limit", "0")
    server = serve(*options, port=port, name="db")
    db = server.db
    accepted: dict[str, tuple[str, int, int]] = {}
    streamers = [
        Streamer(server.url, "crash-stream-0", 70, 40_000),
        Streamer(server.url, "crash-stream-1", 71, 25_000),
    ]
    for streamer in streamers:
        streamer.start()
    with KairosClient(server.url, engine_version=VERSION) as client:
        for n in range(3):  # long runs that live through several crashes
            name, seed = f"crash-long-{n}", 80 + n
            record = client.simulation.create(
                scenario=reliability_scenario(name, seed).to_wire(), ticks=30_000
            )
            accepted[record.id] = (name, seed, 30_000)
    killed_workers: list[int] = []
    for number, (how, progress) in enumerate(ROUNDS):
        creator = Creator(server.url, f"crash-r{number}", ticks=2_000 + 500 * number)
        creator.start()
        target = stored_ticks(db) + progress
        wait_until(lambda t=target: stored_ticks(db) >= t, 60, f"round {number} progress")
        killed_workers += server.worker_pids()
        kill(server, how)
        creator.halt.set()
        creator.join(10)
        accepted.update(creator.accepted)
        assert integrity(db) == "ok", f"round {number} ({how})"
        server = serve(*options, port=port, name="db")
    # the workers of killed servers died with them (no orphan writing behind the new server)
    wait_until(lambda: not any(Path(f"/proc/{p}").exists() for p in killed_workers), 10, "workers")

    for streamer in streamers:
        streamer.join(120)
        assert not streamer.is_alive()
    store = Store(db)
    try:
        wait_until(
            lambda: all(store.get(i) is not None and store.get(i).finished for i in accepted),  # type: ignore[union-attr]
            120,
            "every accepted simulation to finish",
        )
        outcomes: dict[str, int] = {}
        for sim_id, (name, seed, ticks) in accepted.items():
            record = store.get(sim_id)
            assert record is not None, f"{sim_id} was accepted and then lost"
            outcomes[record.status] = outcomes.get(record.status, 0) + 1
            lines = check_stored_trace(store, sim_id, record.tick)
            if record.status == "completed":
                assert record.tick == ticks
                digest = engine.trace_sha256(json.loads(line) for line in lines)
                assert digest == engine_sha256(name, seed, ticks, VERSION), sim_id
            else:
                assert record.status == "failed", (sim_id, record.status)
                error = json.loads(record.error_json or "{}")
                assert error.get("code") and error.get("message"), (sim_id, error)
        print(f"\ncrash rounds {[how for how, _ in ROUNDS]}: {len(accepted)} accepted, {outcomes}")
        # a crash is no reason to fail a run: every one of them resumed and completed
        assert outcomes == {"completed": len(accepted)}, outcomes
    finally:
        store.close()
    assert integrity(db) == "ok"
    for streamer in streamers:
        assert streamer.error is None, repr(streamer.error)
        assert streamer.hasher.out_of_order == []
        assert streamer.hasher.count == streamer.ticks
        assert streamer.hasher.hexdigest() == engine_sha256(
            streamer.name, streamer.seed, streamer.ticks
        )


def _file(store: Store, sim_id: str, ticks: int) -> dict[str, Any]:
    scenario = reliability_scenario("orphan", 9).to_wire()
    store.create(
        NewSimulation(
            id=sim_id,
            owner="",
            organization_id=None,
            scenario_json=engine.canonical_json(scenario),
            scenario_name="orphan",
            domain="ai_safety",
            seed=9,
            ticks=ticks,
            engine_version=VERSION,
            idempotency_key=None,
            input_hash="h",
            created_at="2026-11-24T00:00:00.000Z",
        )
    )
    return scenario


def test_a_broken_progress_channel_leaves_the_run_resumable(tmp_path: Path) -> None:
    """A worker whose server died (its progress pipe broken) must not fail the run: it stops,
    and the next worker resumes from the checkpoint to the engine's exact trace."""
    store = Store(tmp_path / "k.db")
    scenario = _file(store, "sim_orphan", 2_000)

    broke_at: list[int] = []

    def server_gone(_id: str, tick: int) -> None:
        # Chunks are also flushed on time (flush_seconds), so on a slow machine the first
        # stored tick past 500 need not be 500 itself.
        if tick >= 500:
            broke_at.append(tick)
            raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        execute(store, "sim_orphan", chunk_steps=100, on_progress=server_gone)
    record = store.get("sim_orphan")
    assert broke_at and 500 <= broke_at[0] < 2_000
    assert record is not None and record.status == "running" and record.tick == broke_at[0]
    assert execute(store, "sim_orphan", chunk_steps=100) == "completed"
    lines = check_stored_trace(store, "sim_orphan", 2_000)
    assert engine.trace_sha256(json.loads(line) for line in lines) == engine.trace_sha256(
        engine.iter_steps(scenario, 2_000, VERSION)
    )
