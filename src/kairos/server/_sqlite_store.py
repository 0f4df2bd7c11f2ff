"""The SQLite backend of the simulation store (the embedded default; ``_pg_store`` is the
PostgreSQL one, and both subclass ``_store.SimulationStore``, running its SQL).

One :class:`Store` is safe to share between threads; every process opens its own. SQLite in WAL
mode serializes the writers: a write transaction (``BEGIN IMMEDIATE``) holds the file's one write
lock from its first statement, and one server owns the file, so there are no leases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kairos.server._store import TABLES, SimulationRecord, SimulationStore, StorageError

MIN_SQLITE = (3, 35, 0)

_DDL = TABLES.format(
    meta="meta",
    serial="INTEGER PRIMARY KEY AUTOINCREMENT",
    integer="INTEGER",
    flag="INTEGER NOT NULL DEFAULT 0",
    blob="BLOB",
    more_columns="",
    more_indexes="",
    chunk_options=" WITHOUT ROWID",
)


class Store(SimulationStore):
    """The simulation store of one server (or one worker process) in a SQLite file."""

    def __init__(self, path: Path | str) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old: the store needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or later (upserts with RETURNING)"
            )
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=30.0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(_DDL)
            self._check_schema_version("meta", str(self.path))

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

    # -- the dialect -----------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _lock_simulation(self, simulation_id: str) -> int | None:
        # The transaction's BEGIN IMMEDIATE already holds the write lock of the whole file.
        row = self._db.execute(
            "SELECT tick FROM simulations WHERE id = ?", (simulation_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def _filing(self) -> dict[str, Any]:
        return {}

    def _notify(self, simulation_id: str) -> None:
        pass  # one server: its workers' progress reaches its streams through the pool


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
