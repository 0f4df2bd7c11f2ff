"""The records and errors of the simulation store, and how a ``--db`` location picks its
backend.

The store itself is ``_sql_store.SimulationStore``, the one contract the server, its workers and
its streams use, with two backends derived from it: SQLite (``_storage.Store``, the embedded
default: one server, its local workers, one file) and PostgreSQL (``_pg_store.PostgresStore``:
several replicas sharing one database). Both keep the same promises: a chunk of trace steps, the
progress and the checkpoint at its last tick commit together; an idempotency key maps to one
simulation per owner; a simulation accepted (``create`` returned) is in the database.

A shared store (PostgreSQL) also holds what replicas must agree on: which replica runs which
simulation (a lease renewed by the replica's heartbeat, so that another replica takes over the
simulations of one that died) and the rate-limit buckets.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kairos.errors import KairosError

if TYPE_CHECKING:
    from kairos.server._sql_store import SimulationStore

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
    from kairos.server._storage import Store

    try:
        return Store(Path(location))
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open the SQLite database {location}: {exc}") from None
