"""The simulation store: the one contract of the server's database, its records and errors,
the SQL both backends run, and :func:`open_store`, which picks the backend of a ``--db``
location.

:class:`SimulationStore` is the contract the server, its workers and its streams use. SQLite
(``_sqlite_store.Store``, the embedded default: one server, its local workers, one file) and
PostgreSQL (``_pg_store.PostgresStore``: several replicas sharing one database) subclass it.
Both keep the same promises: a chunk of trace steps, the progress and the checkpoint at its last
tick commit together; an idempotency key maps to one simulation per owner; a simulation
accepted (``create`` returned) is in the database. A shared store (PostgreSQL) also holds what
replicas must agree on: which replica runs which simulation (a lease renewed by the replica's
heartbeat, so that another replica takes over the simulations of one that died) and the
rate-limit buckets.

The backends share the tables (``TABLES``, in each one's types), the queries, the row mapping
and the chunk encoding; a store implements the abstract members the two do differently (where
it lives, whether it is shared, its leases, closing) and states only what its database does its
own way:

* placeholders: the queries here are written with ``?``; ``PostgresStore._execute`` hands
  psycopg ``%s`` instead;
* transactions and locks (``_transaction``, ``_lock_simulation``): SQLite's ``BEGIN IMMEDIATE``
  takes the one write lock of the file, so no other writer can come between a read and the
  write it decides; PostgreSQL locks the simulation's row ``FOR UPDATE`` and, in a worker, checks
  the lease its replica must still hold (``LeaseLost`` otherwise);
* what a filed simulation gets besides its input (``_filing``: PostgreSQL names the replica
  that runs it) and the notice of progress a write sends (``_notify``: PostgreSQL's ``NOTIFY``).

Traces are stored in chunks of consecutive steps (each step as its canonical JSON line,
zlib-compressed per chunk), so that a trace page or a stream replay reads only the chunks it
needs and never loads a whole trace. The latest engine checkpoint is written in the same
transaction as the chunk that ends at its tick, so after a crash the stored trace and the
checkpoint always agree and a run can resume exactly where its last chunk ended.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kairos.errors import KairosError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


class StorageError(KairosError):
    """The server's database cannot be used: a malformed location, a PostgreSQL server that
    cannot be reached or refuses the login, a missing driver, or a schema of another version."""


class LeaseLost(Exception):
    """A worker's replica no longer holds the simulation (another replica took it over while
    this one was presumed dead): the worker stops it without touching it, the new owner goes
    on. Raised only by a store opened with a ``lease_holder``."""


REPLICA_ENV = "KAIROS_WORKER_REPLICA"
"""The replica a worker process writes for (set by the pool; empty on SQLite)."""


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
    """What :meth:`SimulationStore.create` needs to file a simulation."""

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


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different input."""

    def __init__(self, existing: SimulationRecord) -> None:
        super().__init__(f"idempotency key already used for {existing.id} with another input")
        self.existing = existing


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


def is_postgres(location: str | Path) -> bool:
    """Whether a ``--db`` location names a PostgreSQL database (a ``postgresql://`` DSN)."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def open_store(
    location: str | Path, *, replica_id: str | None = None, lease_holder: str | None = None
) -> SimulationStore:
    """The store at ``location``: a ``postgresql://`` DSN, or a SQLite file path.

    ``replica_id`` names the server that will run simulations from it; a worker process opens
    the store with its server's name as ``lease_holder`` instead, and its writes to a
    simulation another replica has taken over raise :class:`LeaseLost`. Raises
    :class:`StorageError` when the database cannot be used.
    """
    if is_postgres(location):
        from kairos.server._pg_store import PostgresStore

        return PostgresStore(str(location), replica_id=replica_id, lease_holder=lease_holder)
    if isinstance(location, str) and "://" in location:
        scheme = location.split("://", 1)[0]
        raise StorageError(
            f"unsupported database URL scheme {scheme!r}: use a postgresql:// DSN or a SQLite "
            "file path"
        )
    from kairos.server._sqlite_store import Store

    try:
        return Store(Path(location))
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open the SQLite database {location}: {exc}") from None


SCHEMA_VERSION = 1
REJECTED_AFTER_LAST_TICK = "the run computed its last tick before the decree could take effect"

# Both tables are selected as their records' fields, in order (see simulation_record and
# decree_record).
FIELDS = tuple(field.name for field in dataclasses.fields(SimulationRecord))
COLUMNS = ", ".join(FIELDS)
DECREE_COLUMNS = ", ".join(field.name for field in dataclasses.fields(DecreeRecord))

# The tables both stores keep, to be filled in with one database's words (str.format): {meta}
# names the table of the schema version; {serial} is the type of a seq key (rows numbered in
# filing order), {integer} of a tick or count, {flag} of cancel_requested with its default,
# {blob} of stored bytes. {more_columns} (each after a comma) end simulations, {more_indexes}
# follow its indexes and {chunk_options} close trace_chunks.
TABLES = """
CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS simulations (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    organization_id TEXT,
    status TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    scenario_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    seed {integer} NOT NULL,
    ticks {integer} NOT NULL,
    tick {integer} NOT NULL DEFAULT 0,
    engine_version TEXT NOT NULL,
    idempotency_key TEXT,
    input_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    summary_json TEXT,
    error_json TEXT,
    cancel_requested {flag}{more_columns}
);
CREATE UNIQUE INDEX IF NOT EXISTS simulations_idempotency
    ON simulations (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS simulations_owner ON simulations (owner, seq);{more_indexes}
CREATE TABLE IF NOT EXISTS trace_chunks (
    simulation_id TEXT NOT NULL,
    first_tick {integer} NOT NULL,
    last_tick {integer} NOT NULL,
    data {blob} NOT NULL,
    PRIMARY KEY (simulation_id, first_tick)
){chunk_options};
CREATE TABLE IF NOT EXISTS checkpoints (
    simulation_id TEXT PRIMARY KEY,
    tick {integer} NOT NULL,
    data {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS decrees (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    simulation_id TEXT NOT NULL,
    event_json TEXT NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL,
    tick {integer},
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS decrees_idempotency
    ON decrees (simulation_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decrees_simulation ON decrees (simulation_id, status);
"""


def encode_chunk(lines: Sequence[bytes]) -> bytes:
    """Steps (one canonical JSON line each) -> the stored chunk bytes."""
    return zlib.compress(b"\n".join(lines), 1)


def decode_chunk(data: bytes) -> list[bytes]:
    return zlib.decompress(data).split(b"\n")


def simulation_record(row: Sequence[Any]) -> SimulationRecord:
    """A ``simulations`` row selected as ``COLUMNS``."""
    values = dict(zip(FIELDS, row, strict=True))
    values["cancel_requested"] = bool(values["cancel_requested"])  # SQLite stores 0 or 1
    return SimulationRecord(**values)


def decree_record(row: Sequence[Any]) -> DecreeRecord:
    return DecreeRecord(*row)


class Cursor(Protocol):
    """What the shared queries read from a statement (sqlite3's and psycopg's cursors)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class SimulationStore(ABC):
    """What the server, its workers and its streams need from a database, on whichever
    database a subclass connects to (:func:`open_store` picks one for a ``--db``).

    Every method holds ``_lock`` while it uses the connection, so one store is safe to share
    between threads; a method that reads before it writes does both in one ``_transaction``
    after ``_lock_simulation``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- what each backend does differently ---------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store lives, as a worker process opens it (a path or a DSN)."""

    @property
    @abstractmethod
    def shared(self) -> bool:
        """True when several servers may use this store at once (leases, shared limits)."""

    @property
    @abstractmethod
    def replica_id(self) -> str | None:
        """The server this store was opened for (None: a worker's, or SQLite's)."""

    @abstractmethod
    def close(self) -> None:
        """Close the store's connections; it is not used afterwards."""

    @abstractmethod
    def claim_unfinished(self, stale_seconds: float) -> list[SimulationRecord]:
        """The unfinished simulations this server should run now: on SQLite every one (one
        server owns the file); on a shared store those whose replica has not renewed its
        lease within ``stale_seconds``, now claimed by this one."""

    @abstractmethod
    def heartbeat(self) -> None:
        """Renew this server's lease on the simulations it runs (no-op when not shared)."""

    @abstractmethod
    def release(self) -> None:
        """Give up this server's leases at once (a graceful stop), so another takes over."""

    # -- what each database does its own way -------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with ``?`` placeholders."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[object]:
        """A transaction that commits on success and rolls back on an exception."""

    @abstractmethod
    def _lock_simulation(self, simulation_id: str) -> int | None:
        """In a transaction: keep other writers off the simulation until it commits, and raise
        ``LeaseLost`` if this store writes for a replica that no longer runs it. Its stored
        tick, or None when there is no such simulation."""

    @abstractmethod
    def _filing(self) -> dict[str, Any]:
        """Columns a new simulation gets besides its :class:`NewSimulation` fields."""

    @abstractmethod
    def _notify(self, simulation_id: str) -> None:
        """In a write's transaction: tell other servers' streams the simulation moved on."""

    def _check_schema_version(self, meta_table: str, name: str) -> None:
        """Record this schema version in a new database, or refuse another one's."""
        row = self._execute(
            f"SELECT value FROM {meta_table} WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            self._execute(
                f"INSERT INTO {meta_table} (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise StorageError(
                f"{name} holds storage schema version {row[0]}; "
                f"this server reads version {SCHEMA_VERSION}"
            )

    # -- simulation records --------------------------------------------------------------

    def create(self, new: NewSimulation) -> tuple[SimulationRecord, bool]:
        """File a simulation; returns ``(record, created)``.

        With an idempotency key already used by the same owner, the existing record is returned
        (``created`` is False) when the input is the same, and :class:`IdempotencyConflict` is
        raised when it is not. The key's unique index decides, so two servers filing the same
        key at once get one simulation.
        """
        filed = {**dataclasses.asdict(new), **self._filing()}
        with self._lock, self._transaction():
            row = self._execute(
                f"INSERT INTO simulations (status, {', '.join(filed)}) "
                f"VALUES ('queued', {', '.join('?' for _ in filed)}) "
                "ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL "
                f"DO NOTHING RETURNING {COLUMNS}",
                tuple(filed.values()),
            ).fetchone()
            if row is not None:
                return simulation_record(row), True
            existing = self._one(
                "WHERE owner = ? AND idempotency_key = ?", (new.owner, new.idempotency_key)
            )
        assert existing is not None  # the conflict was on this key, and rows are never deleted
        if existing.input_hash != new.input_hash:
            raise IdempotencyConflict(existing)
        return existing, False

    def get(self, simulation_id: str, owner: str | None = None) -> SimulationRecord | None:
        """The record, or None; with ``owner``, only when it belongs to that owner."""
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
        query = f"SELECT {COLUMNS} FROM simulations WHERE {' AND '.join(clauses)} "
        query += "ORDER BY seq DESC LIMIT ?"
        with self._lock:
            rows = self._execute(query, (*params, limit + 1)).fetchall()
        records = [simulation_record(row) for row in rows[:limit]]
        next_seq = records[-1].seq if len(rows) > limit else None
        return records, next_seq

    def unfinished(self) -> list[SimulationRecord]:
        """Simulations that were queued or running, oldest first (to resume after a restart)."""
        with self._lock:
            rows = self._execute(
                f"SELECT {COLUMNS} FROM simulations WHERE status IN ('queued', 'running') "
                "ORDER BY seq"
            ).fetchall()
        return [simulation_record(row) for row in rows]

    def mark_running(self, simulation_id: str) -> bool:
        """queued -> running; False if the simulation is no longer queued (e.g. cancelled)."""
        with self._lock:
            cursor = self._execute(
                "UPDATE simulations SET status = 'running' WHERE id = ? AND status = 'queued' "
                "AND NOT cancel_requested",
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
        with self._lock, self._transaction():
            self._lock_simulation(simulation_id)
            self._execute(
                "UPDATE simulations SET status = ?, completed_at = ?, summary_json = ?, "
                "error_json = ? WHERE id = ? AND status IN ('queued', 'running')",
                (status, completed_at, summary_json, error_json, simulation_id),
            )
            self._notify(simulation_id)
            return self._one("WHERE id = ?", (simulation_id,))

    def request_cancel(self, simulation_id: str) -> None:
        """Flag the simulation for cancelling: its worker stops before storing its next chunk."""
        with self._lock:
            self._execute(
                "UPDATE simulations SET cancel_requested = TRUE WHERE id = ?", (simulation_id,)
            )

    def cancel_requested(self, simulation_id: str) -> bool:
        """Whether a cancel was requested (False for an unknown simulation)."""
        with self._lock:
            row = self._execute(
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
            stored = self._lock_simulation(simulation_id)
            if stored is None:
                raise KeyError(simulation_id)
            if stored != first_tick - 1:
                raise ValueError(
                    f"{simulation_id}: chunk starts at tick {first_tick} but the stored trace "
                    f"ends at tick {stored}"
                )
            self._execute(
                "INSERT INTO trace_chunks (simulation_id, first_tick, last_tick, data) "
                "VALUES (?, ?, ?, ?)",
                (simulation_id, first_tick, last_tick, encode_chunk(lines)),
            )
            self._execute(
                "UPDATE simulations SET tick = ? WHERE id = ?", (last_tick, simulation_id)
            )
            if checkpoint is not None:
                self._execute(
                    "INSERT INTO checkpoints (simulation_id, tick, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (simulation_id) DO UPDATE "
                    "SET tick = EXCLUDED.tick, data = EXCLUDED.data",
                    (simulation_id, last_tick, checkpoint),
                )
            self._notify(simulation_id)

    def latest_checkpoint(self, simulation_id: str) -> tuple[int, bytes] | None:
        """``(tick, engine state)`` of the last stored checkpoint, or None."""
        with self._lock:
            row = self._execute(
                "SELECT tick, data FROM checkpoints WHERE simulation_id = ?", (simulation_id,)
            ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def rewind(self, simulation_id: str, tick: int) -> None:
        """Drop every stored step after ``tick`` (to resume from a checkpoint at ``tick``)."""
        with self._lock, self._transaction():
            self._lock_simulation(simulation_id)
            self._execute(
                "DELETE FROM trace_chunks WHERE simulation_id = ? AND first_tick > ?",
                (simulation_id, tick),
            )
            self._execute("UPDATE simulations SET tick = ? WHERE id = ?", (tick, simulation_id))
            if tick == 0:
                self._execute("DELETE FROM checkpoints WHERE simulation_id = ?", (simulation_id,))

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
                row = self._execute(
                    "SELECT first_tick, last_tick, data FROM trace_chunks "
                    "WHERE simulation_id = ? AND first_tick <= ? ORDER BY first_tick DESC LIMIT 1",
                    (simulation_id, position + 1),
                ).fetchone()
                if row is None or int(row[1]) <= position:
                    row = self._execute(
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
            # The simulation's lock orders this against the worker's claim and its last chunk.
            exists = self._lock_simulation(simulation_id) is not None
            if idempotency_key is not None:
                existing = self._decree(
                    "WHERE simulation_id = ? AND idempotency_key = ?",
                    (simulation_id, idempotency_key),
                )
                if existing is not None:
                    if existing.event_json != event_json:
                        raise DecreeConflict(existing)
                    return existing, False
            record = self._one("WHERE id = ?", (simulation_id,)) if exists else None
            if record is None:
                raise KeyError(simulation_id)
            if record.finished:
                raise DecreeRefused(record, f"it is {record.status}")
            if record.cancel_requested:
                raise DecreeRefused(record, "it is being cancelled")
            if record.tick >= record.ticks:
                raise DecreeRefused(record, f"it has computed its last tick ({record.ticks})")
            self._execute(
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
            self._lock_simulation(simulation_id)
            if next_tick > ticks:
                self.reject_pending_decrees(simulation_id, REJECTED_AFTER_LAST_TICK)
                return []
            rows = self._execute(
                "UPDATE decrees SET status = 'applied', tick = ? "
                f"WHERE simulation_id = ? AND status = 'pending' RETURNING {DECREE_COLUMNS}",
                (next_tick, simulation_id),
            ).fetchall()
        return sorted((decree_record(row) for row in rows), key=lambda d: d.seq)

    def reject_pending_decrees(self, simulation_id: str, reason: str) -> None:
        """Reject the decrees still pending (the run ended without taking them up)."""
        with self._lock:
            self._execute(
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
        """The decree, or None."""
        return self._decree("WHERE id = ?", (decree_id,))

    # -- reading rows ----------------------------------------------------------------------

    def _decree(self, where: str, params: tuple[Any, ...]) -> DecreeRecord | None:
        found = self._decrees(where, params)
        return found[0] if found else None

    def _decrees(self, where: str, params: tuple[Any, ...]) -> list[DecreeRecord]:
        with self._lock:
            rows = self._execute(f"SELECT {DECREE_COLUMNS} FROM decrees {where}", params).fetchall()
        return [decree_record(row) for row in rows]

    def _one(self, where: str, params: tuple[Any, ...]) -> SimulationRecord | None:
        with self._lock:
            row = self._execute(f"SELECT {COLUMNS} FROM simulations {where}", params).fetchone()
        return simulation_record(row) if row else None
