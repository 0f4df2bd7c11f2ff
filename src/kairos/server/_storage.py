"""Durable storage of simulations and their traces in SQLite (the embedded default backend of
``_store_api.SimulationStore``; ``_pg_store`` is the PostgreSQL one).

Traces are stored in chunks of consecutive steps (each step as its canonical JSON line,
zlib-compressed per chunk), so that a trace page or a stream replay reads only the chunks it
needs and never loads a whole trace. The latest engine checkpoint is written in the same
transaction as the chunk that ends at its tick, so after a crash the stored trace and the
checkpoint always agree and a run can resume exactly where its last chunk ended.

One :class:`Store` is safe to share between threads; every process opens its own (SQLite in WAL
mode serializes the writers).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS simulations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    organization_id TEXT,
    status TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    scenario_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    seed INTEGER NOT NULL,
    ticks INTEGER NOT NULL,
    tick INTEGER NOT NULL DEFAULT 0,
    engine_version TEXT NOT NULL,
    idempotency_key TEXT,
    input_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    summary_json TEXT,
    error_json TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS simulations_idempotency
    ON simulations (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS simulations_owner ON simulations (owner, seq);
CREATE TABLE IF NOT EXISTS trace_chunks (
    simulation_id TEXT NOT NULL,
    first_tick INTEGER NOT NULL,
    last_tick INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (simulation_id, first_tick)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    simulation_id TEXT PRIMARY KEY,
    tick INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS decrees (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    simulation_id TEXT NOT NULL,
    event_json TEXT NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL,
    tick INTEGER,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS decrees_idempotency
    ON decrees (simulation_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decrees_simulation ON decrees (simulation_id, status);
"""

_COLUMNS = (
    "id, owner, organization_id, status, scenario_json, scenario_name, domain, seed, ticks, "
    "tick, engine_version, idempotency_key, input_hash, created_at, completed_at, summary_json, "
    "error_json, cancel_requested, seq"
)


_DECREE_COLUMNS = (
    "id, simulation_id, event_json, idempotency_key, status, tick, reason, created_at, seq"
)

REJECTED_AFTER_LAST_TICK = "the run computed its last tick before the decree could take effect"


@dataclass(frozen=True)
class DecreeRecord:
    """One row of ``decrees``: an intervention submitted into a running simulation.

    ``status`` is ``pending`` until the worker running the simulation takes it up between two
    ticks: it is then ``applied`` with ``tick``, the first tick it took effect in (the next
    tick the worker had not computed), or ``rejected`` with a ``reason`` when the run ended
    first.
    """

    id: str
    simulation_id: str
    event_json: str
    idempotency_key: str | None
    status: str
    tick: int | None
    reason: str | None
    created_at: str
    seq: int


class DecreeRefused(Exception):
    """A decree for a simulation that can no longer take one (finished or being cancelled)."""

    def __init__(self, record: SimulationRecord, reason: str) -> None:
        super().__init__(f"{record.id} cannot take a decree: {reason}")
        self.record = record
        self.reason = reason


class DecreeConflict(Exception):
    """The decree's idempotency key was used before with another event."""

    def __init__(self, existing: DecreeRecord) -> None:
        super().__init__(f"idempotency key already used for {existing.id} with another event")
        self.existing = existing


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different input."""

    def __init__(self, existing: SimulationRecord) -> None:
        super().__init__(f"idempotency key already used for {existing.id} with another input")
        self.existing = existing


@dataclass(frozen=True)
class SimulationRecord:
    """One row of ``simulations``: what was asked, how far it got, what it came to."""

    id: str
    owner: str
    organization_id: str | None
    status: str
    scenario_json: str
    scenario_name: str
    domain: str
    seed: int
    ticks: int
    tick: int
    engine_version: str
    idempotency_key: str | None
    input_hash: str
    created_at: str
    completed_at: str | None
    summary_json: str | None
    error_json: str | None
    cancel_requested: bool
    seq: int

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class NewSimulation:
    """What :meth:`Store.create` needs to file a simulation."""

    id: str
    owner: str
    organization_id: str | None
    scenario_json: str
    scenario_name: str
    domain: str
    seed: int
    ticks: int
    engine_version: str
    idempotency_key: str | None
    input_hash: str
    created_at: str


def encode_chunk(lines: Sequence[bytes]) -> bytes:
    """Steps (one canonical JSON line each) -> the stored chunk bytes."""
    return zlib.compress(b"\n".join(lines), 1)


def decode_chunk(data: bytes) -> list[bytes]:
    return zlib.decompress(data).split(b"\n")


class Store:
    """The simulation store of one server (or one worker process)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=30.0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(_DDL)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} holds storage schema version {row[0]}; "
                    f"this server reads version {SCHEMA_VERSION}"
                )

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def shared(self) -> bool:
        return False

    @property
    def replica_id(self) -> str | None:
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- ownership (one server owns a SQLite file: every unfinished run is its own) ---------

    def claim_unfinished(self, stale_seconds: float) -> list[SimulationRecord]:
        return self.unfinished()

    def heartbeat(self) -> None:
        pass

    def release(self) -> None:
        pass

    # -- simulation records --------------------------------------------------------------

    def create(self, new: NewSimulation) -> tuple[SimulationRecord, bool]:
        """File a simulation; returns ``(record, created)``.

        With an idempotency key already used by the same owner, the existing record is returned
        (``created`` is False) when the input is the same, and :class:`IdempotencyConflict` is
        raised when it is not.
        """
        with self._lock, self._transaction():
            if new.idempotency_key is not None:
                existing = self._one(
                    "WHERE owner = ? AND idempotency_key = ?", (new.owner, new.idempotency_key)
                )
                if existing is not None:
                    if existing.input_hash != new.input_hash:
                        raise IdempotencyConflict(existing)
                    return existing, False
            self._db.execute(
                "INSERT INTO simulations (id, owner, organization_id, status, scenario_json, "
                "scenario_name, domain, seed, ticks, engine_version, idempotency_key, input_hash, "
                "created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.id,
                    new.owner,
                    new.organization_id,
                    new.scenario_json,
                    new.scenario_name,
                    new.domain,
                    new.seed,
                    new.ticks,
                    new.engine_version,
                    new.idempotency_key,
                    new.input_hash,
                    new.created_at,
                ),
            )
            record = self._one("WHERE id = ?", (new.id,))
            assert record is not None
            return record, True

    def get(self, simulation_id: str, owner: str | None = None) -> SimulationRecord | None:
        """The record, or None; with ``owner``, only when it belongs to that owner."""
        with self._lock:
            if owner is None:
                return self._one("WHERE id = ?", (simulation_id,))
            return self._one("WHERE id = ? AND owner = ?", (simulation_id, owner))

    def page(
        self,
        owner: str,
        *,
        before_seq: int | None,
        limit: int,
        organization_id: str | None = None,
        status: str | None = None,
    ) -> tuple[list[SimulationRecord], int | None]:
        """One page of the owner's simulations, newest first, and the ``seq`` to continue
        before (None on the last page)."""
        clauses: list[str] = ["owner = ?"]
        params: list[Any] = [owner]
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        if organization_id is not None:
            clauses.append("organization_id = ?")
            params.append(organization_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        query = f"SELECT {_COLUMNS} FROM simulations WHERE {' AND '.join(clauses)} "
        query += "ORDER BY seq DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit + 1)).fetchall()
        records = [_record(row) for row in rows[:limit]]
        next_seq = records[-1].seq if len(rows) > limit else None
        return records, next_seq

    def unfinished(self) -> list[SimulationRecord]:
        """Simulations that were queued or running, oldest first (to resume after a restart)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM simulations WHERE status IN ('queued', 'running') "
                "ORDER BY seq"
            ).fetchall()
        return [_record(row) for row in rows]

    def mark_running(self, simulation_id: str) -> bool:
        """queued -> running; False if the simulation is no longer queued (e.g. cancelled)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE simulations SET status = 'running' WHERE id = ? AND status = 'queued' "
                "AND cancel_requested = 0",
                (simulation_id,),
            )
            return cursor.rowcount == 1

    def finish(
        self,
        simulation_id: str,
        status: str,
        *,
        completed_at: str,
        summary_json: str | None = None,
        error_json: str | None = None,
    ) -> SimulationRecord | None:
        """Move an unfinished simulation to a final status (a finished one is left alone)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        with self._lock:
            self._db.execute(
                "UPDATE simulations SET status = ?, completed_at = ?, summary_json = ?, "
                "error_json = ? WHERE id = ? AND status IN ('queued', 'running')",
                (status, completed_at, summary_json, error_json, simulation_id),
            )
            return self._one("WHERE id = ?", (simulation_id,))

    def request_cancel(self, simulation_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE simulations SET cancel_requested = 1 WHERE id = ?", (simulation_id,)
            )

    def cancel_requested(self, simulation_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT cancel_requested FROM simulations WHERE id = ?", (simulation_id,)
            ).fetchone()
        return bool(row and row[0])

    # -- traces and checkpoints ----------------------------------------------------------

    def append_chunk(
        self,
        simulation_id: str,
        first_tick: int,
        lines: Sequence[bytes],
        *,
        checkpoint: bytes | None = None,
    ) -> None:
        """Store steps ``first_tick .. first_tick + len(lines) - 1`` and advance the progress.

        ``checkpoint``, when given, is the engine state after the chunk's last tick; it replaces
        the previous one in the same transaction.
        """
        if not lines:
            return
        last_tick = first_tick + len(lines) - 1
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT tick FROM simulations WHERE id = ?", (simulation_id,)
            ).fetchone()
            if row is None:
                raise KeyError(simulation_id)
            if row[0] != first_tick - 1:
                raise ValueError(
                    f"{simulation_id}: chunk starts at tick {first_tick} but the stored trace "
                    f"ends at tick {row[0]}"
                )
            self._db.execute(
                "INSERT INTO trace_chunks (simulation_id, first_tick, last_tick, data) "
                "VALUES (?, ?, ?, ?)",
                (simulation_id, first_tick, last_tick, encode_chunk(lines)),
            )
            self._db.execute(
                "UPDATE simulations SET tick = ? WHERE id = ?", (last_tick, simulation_id)
            )
            if checkpoint is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO checkpoints (simulation_id, tick, data) "
                    "VALUES (?, ?, ?)",
                    (simulation_id, last_tick, checkpoint),
                )

    def latest_checkpoint(self, simulation_id: str) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tick, data FROM checkpoints WHERE simulation_id = ?", (simulation_id,)
            ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def rewind(self, simulation_id: str, tick: int) -> None:
        """Drop every stored step after ``tick`` (to resume from a checkpoint at ``tick``)."""
        with self._lock, self._transaction():
            self._db.execute(
                "DELETE FROM trace_chunks WHERE simulation_id = ? AND first_tick > ?",
                (simulation_id, tick),
            )
            self._db.execute("UPDATE simulations SET tick = ? WHERE id = ?", (tick, simulation_id))
            if tick == 0:
                self._db.execute(
                    "DELETE FROM checkpoints WHERE simulation_id = ?", (simulation_id,)
                )

    def read_steps(self, simulation_id: str, from_tick: int, limit: int) -> list[bytes]:
        """Up to ``limit`` stored steps starting at ``from_tick``, as canonical JSON lines."""
        out: list[bytes] = []
        for first, _last, lines in self.iter_chunks(simulation_id, after_tick=from_tick - 1):
            start = max(0, from_tick - first)
            out.extend(lines[start : start + limit - len(out)])
            if len(out) >= limit:
                break
        return out

    def iter_chunks(
        self, simulation_id: str, *, after_tick: int
    ) -> Iterator[tuple[int, int, list[bytes]]]:
        """Stored chunks holding ticks after ``after_tick``, in order, one at a time:
        ``(first_tick, last_tick, lines)`` with the lines at or before ``after_tick`` cut."""
        position = after_tick
        while True:
            # Chunks are consecutive: the one holding position + 1 is the last to start at or
            # before it. Both lookups seek the primary key (a filter on last_tick alone scanned
            # every earlier chunk, so reading a long trace took quadratic time).
            with self._lock:
                row = self._db.execute(
                    "SELECT first_tick, last_tick, data FROM trace_chunks "
                    "WHERE simulation_id = ? AND first_tick <= ? ORDER BY first_tick DESC LIMIT 1",
                    (simulation_id, position + 1),
                ).fetchone()
                if row is None or int(row[1]) <= position:
                    row = self._db.execute(
                        "SELECT first_tick, last_tick, data FROM trace_chunks "
                        "WHERE simulation_id = ? AND first_tick > ? ORDER BY first_tick LIMIT 1",
                        (simulation_id, position),
                    ).fetchone()
            if row is None:
                return
            first, last, data = int(row[0]), int(row[1]), bytes(row[2])
            lines = decode_chunk(data)
            skip = max(0, position + 1 - first)
            yield first + skip, last, lines[skip:]
            position = last

    # -- decrees ---------------------------------------------------------------------------

    def add_decree(
        self,
        *,
        decree_id: str,
        simulation_id: str,
        event_json: str,
        idempotency_key: str | None,
        created_at: str,
    ) -> tuple[DecreeRecord, bool]:
        """File a pending decree; returns ``(record, created)``.

        A key already used for this simulation returns that decree (``created`` False) when
        the event is the same and raises :class:`DecreeConflict` when it is not, before the
        simulation's state is looked at (a retry of an accepted decree is answered the same,
        even after the run has ended). :class:`DecreeRefused` when the simulation has ended,
        is being cancelled or has computed its last tick.
        """
        with self._lock, self._transaction():
            if idempotency_key is not None:
                existing = self._decree(
                    "WHERE simulation_id = ? AND idempotency_key = ?",
                    (simulation_id, idempotency_key),
                )
                if existing is not None:
                    if existing.event_json != event_json:
                        raise DecreeConflict(existing)
                    return existing, False
            record = self._one("WHERE id = ?", (simulation_id,))
            if record is None:
                raise KeyError(simulation_id)
            if record.finished:
                raise DecreeRefused(record, f"it is {record.status}")
            if record.cancel_requested:
                raise DecreeRefused(record, "it is being cancelled")
            if record.tick >= record.ticks:
                raise DecreeRefused(record, f"it has computed its last tick ({record.ticks})")
            self._db.execute(
                "INSERT INTO decrees (id, simulation_id, event_json, idempotency_key, status, "
                "created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                (decree_id, simulation_id, event_json, idempotency_key, created_at),
            )
            made = self._decree("WHERE id = ?", (decree_id,))
            assert made is not None
            return made, True

    def claim_decrees(self, simulation_id: str, next_tick: int, ticks: int) -> list[DecreeRecord]:
        """Apply the pending decrees at ``next_tick`` (the worker's next tick not computed),
        in the order they were filed, and return them; past the last tick (``ticks``) they are
        rejected instead and the list is empty."""
        with self._lock, self._transaction():
            if next_tick > ticks:
                self._db.execute(
                    "UPDATE decrees SET status = 'rejected', reason = ? "
                    "WHERE simulation_id = ? AND status = 'pending'",
                    (REJECTED_AFTER_LAST_TICK, simulation_id),
                )
                return []
            pending = self._decrees(
                "WHERE simulation_id = ? AND status = 'pending' ORDER BY seq", (simulation_id,)
            )
            self._db.executemany(
                "UPDATE decrees SET status = 'applied', tick = ? WHERE id = ?",
                [(next_tick, decree.id) for decree in pending],
            )
            return [dataclasses.replace(d, status="applied", tick=next_tick) for d in pending]

    def reject_pending_decrees(self, simulation_id: str, reason: str) -> None:
        """Reject the decrees still pending (the run ended without taking them up)."""
        with self._lock:
            self._db.execute(
                "UPDATE decrees SET status = 'rejected', reason = ? "
                "WHERE simulation_id = ? AND status = 'pending'",
                (reason, simulation_id),
            )

    def decrees(self, simulation_id: str) -> list[DecreeRecord]:
        """Every decree of a simulation: the applied ones in the order they took effect (tick,
        then filing order), then the others in filing order."""
        return self._decrees(
            "WHERE simulation_id = ? ORDER BY status != 'applied', tick, seq", (simulation_id,)
        )

    def get_decree(self, decree_id: str) -> DecreeRecord | None:
        return self._decree("WHERE id = ?", (decree_id,))

    def _decree(self, where: str, params: tuple[Any, ...]) -> DecreeRecord | None:
        found = self._decrees(where, params)
        return found[0] if found else None

    def _decrees(self, where: str, params: tuple[Any, ...]) -> list[DecreeRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DECREE_COLUMNS} FROM decrees {where}", params
            ).fetchall()
        return [_decree_record(row) for row in rows]

    # -- internals -----------------------------------------------------------------------

    def _one(self, where: str, params: tuple[Any, ...]) -> SimulationRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM simulations {where}", params).fetchone()
        return _record(row) if row else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _record(row: Sequence[Any]) -> SimulationRecord:
    return SimulationRecord(
        id=row[0],
        owner=row[1],
        organization_id=row[2],
        status=row[3],
        scenario_json=row[4],
        scenario_name=row[5],
        domain=row[6],
        seed=int(row[7]),
        ticks=int(row[8]),
        tick=int(row[9]),
        engine_version=row[10],
        idempotency_key=row[11],
        input_hash=row[12],
        created_at=row[13],
        completed_at=row[14],
        summary_json=row[15],
        error_json=row[16],
        cancel_requested=bool(row[17]),
        seq=int(row[18]),
    )


def _decree_record(row: Sequence[Any]) -> DecreeRecord:
    """A ``decrees`` row (``_DECREE_COLUMNS``) as a record; both stores select these columns."""
    return DecreeRecord(
        id=row[0],
        simulation_id=row[1],
        event_json=row[2],
        idempotency_key=row[3],
        status=row[4],
        tick=None if row[5] is None else int(row[5]),
        reason=row[6],
        created_at=row[7],
        seq=int(row[8]),
    )
