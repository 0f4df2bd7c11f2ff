"""The PostgreSQL backend of the simulation store (psycopg 3), shared by server replicas.

The same tables, queries and promises as the SQLite store (``_sqlite_store``; both run the SQL of
``_store``): a chunk of steps, the progress and the checkpoint at the chunk's last tick
commit in one transaction (the simulation's row is locked first, so two writers can never
interleave or repeat ticks); an idempotency key is a unique index, so two replicas filing the
same key at once get one simulation.

What replicas share besides the data:

* **Leases.** Every simulation names the replica that runs it (``claimed_by``); each replica
  renews a heartbeat row. A replica whose heartbeat is older than the lease is dead to the
  others: the first to look claims its unfinished simulations (``FOR UPDATE SKIP LOCKED``, so
  one replica gets each) and resumes them from their last checkpoint.
* **Progress.** A stored chunk (and a final status) sends ``NOTIFY kairos_progress, '<id>'``
  in its transaction; every replica LISTENs (:class:`ProgressListener`) and wakes its streams.
  Streams also re-read on a timeout, so a lost notification costs latency, never data.
* **Rate limits.** :class:`SharedRateLimiter` keeps the token buckets in a table, refilled by
  the database clock, so a caller's limit is one limit whichever replica it reaches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from kairos.errors import MissingDependencyError
from kairos.server._auth import RateLimit, RateLimiter
from kairos.server._store import (
    FIELDS,
    TABLES,
    LeaseLost,
    SimulationRecord,
    SimulationStore,
    StorageError,
    simulation_record,
)

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("kairos.server")

CHANNEL = "kairos_progress"
_DDL_LOCK = 0x6B6169726F73  # an advisory lock id: replicas starting at once create tables once

# What replicas share besides the simulations: their heartbeats and the rate-limit buckets.
_REPLICA_TABLES = """CREATE TABLE IF NOT EXISTS replicas (
    id TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_buckets (
    caller TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    granted BOOLEAN NOT NULL
);
"""

_DDL = (
    TABLES.format(
        meta="kairos_meta",
        serial="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        integer="BIGINT",
        flag="BOOLEAN NOT NULL DEFAULT FALSE",
        blob="BYTEA",
        more_columns=",\n    claimed_by TEXT",
        more_indexes="\nCREATE INDEX IF NOT EXISTS simulations_unfinished\n"
        "    ON simulations (seq) WHERE status IN ('queued', 'running');",
        chunk_options="",
    )
    + _REPLICA_TABLES
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependencyError("PostgreSQL storage", "psycopg", "postgres") from None
    return psycopg


def describe(dsn: str) -> str:
    """The DSN without its password: ``host:port/dbname`` (for messages and logs)."""
    psycopg = _psycopg()
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "a malformed postgresql:// DSN"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def connect(dsn: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection to ``dsn``, or a :class:`StorageError` saying why there is none."""
    pg = _psycopg()
    try:
        options = pg.conninfo.conninfo_to_dict(dsn)
    except pg.Error as exc:
        raise StorageError(f"not a valid PostgreSQL DSN: {_first_line(exc)}") from None
    options.setdefault("connect_timeout", 5)
    options.setdefault("application_name", "kairos-server")
    try:
        connection: psycopg.Connection[Any] = pg.connect(autocommit=autocommit, **options)
    except pg.Error as exc:
        raise StorageError(
            f"cannot connect to PostgreSQL at {describe(dsn)}: {_first_line(exc)}"
        ) from None
    return connection


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresStore(SimulationStore):
    """The simulation store in a PostgreSQL database (one connection per process)."""

    def __init__(
        self, dsn: str, *, replica_id: str | None = None, lease_holder: str | None = None
    ) -> None:
        super().__init__()
        self._dsn = dsn
        self._replica_id = replica_id
        self._lease_holder = lease_holder
        self._db = connect(dsn)
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                self._db.execute(_DDL)
                self._check_schema_version("kairos_meta", describe(dsn))
        except _psycopg().Error as exc:
            self._db.close()
            raise StorageError(
                f"cannot set up the tables in {describe(dsn)}: {_first_line(exc)}"
            ) from None
        except StorageError:
            self._db.close()
            raise
        self.heartbeat()  # alive from the start: no other replica claims what this one files

    @property
    def location(self) -> str:
        return self._dsn

    @property
    def replica_id(self) -> str | None:
        return self._replica_id

    @property
    def shared(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- leases ----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        if self.replica_id is None:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO replicas (id, heartbeat_at) VALUES (%s, clock_timestamp()) "
                "ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
                (self.replica_id,),
            )

    def claim_unfinished(self, stale_seconds: float) -> list[SimulationRecord]:
        if self.replica_id is None:
            raise RuntimeError("a store opened without a replica id cannot claim simulations")
        self.heartbeat()
        with self._lock:
            rows = self._db.execute(
                "WITH orphans AS ("
                "  SELECT s.seq FROM simulations s"
                "  WHERE s.status IN ('queued', 'running')"
                "    AND s.claimed_by IS DISTINCT FROM %(me)s"
                "    AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.claimed_by"
                "      AND r.heartbeat_at > clock_timestamp() - make_interval(secs => %(stale)s))"
                "  ORDER BY s.seq FOR UPDATE SKIP LOCKED"
                ") UPDATE simulations SET claimed_by = %(me)s FROM orphans "
                "WHERE simulations.seq = orphans.seq RETURNING "
                + ", ".join(f"simulations.{name}" for name in FIELDS),
                {"me": self.replica_id, "stale": float(stale_seconds)},
            ).fetchall()
            # Replicas gone for an hour are forgotten (their simulations were claimed long ago).
            self._db.execute(
                "DELETE FROM replicas WHERE heartbeat_at < clock_timestamp() - interval '1 hour'"
            )
        return sorted((simulation_record(row) for row in rows), key=lambda r: r.seq)

    def release(self) -> None:
        if self.replica_id is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM replicas WHERE id = %s", (self.replica_id,))

    # -- the dialect -----------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._db.execute(sql.replace("?", "%s"), params)

    def _transaction(self) -> AbstractContextManager[psycopg.Transaction]:
        return self._db.transaction()

    def _lock_simulation(self, simulation_id: str) -> int | None:
        row = self._db.execute(
            "SELECT tick, claimed_by FROM simulations WHERE id = %s FOR UPDATE", (simulation_id,)
        ).fetchone()
        if row is None:
            return None
        if self._lease_holder is not None and row[1] != self._lease_holder:
            raise LeaseLost(simulation_id)
        return int(row[0])

    def _filing(self) -> dict[str, Any]:
        return {"claimed_by": self.replica_id}

    def _notify(self, simulation_id: str) -> None:
        self._db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, simulation_id))


class SharedRateLimiter(RateLimiter):
    """Token buckets in the database, so that every replica counts a caller's requests against
    the same limit. Refills by the database's clock; one statement per request."""

    def __init__(self, dsn: str, limit: RateLimit) -> None:
        super().__init__(limit)
        self._shared_lock = threading.Lock()
        self._db = connect(dsn)

    def __len__(self) -> int:
        with self._shared_lock:
            row = self._db.execute("SELECT count(*) FROM rate_buckets").fetchone()
        return int(row[0]) if row else 0

    def acquire(self, caller: str, cost: float = 1.0) -> float:
        rate, burst = self.limit.rate, float(self.limit.burst)
        refilled = "LEAST(%(burst)s, b.tokens + GREATEST(0, EXCLUDED.at - b.at) * %(rate)s)"
        with self._shared_lock:
            row = self._db.execute(
                "INSERT INTO rate_buckets AS b (caller, tokens, at, granted) "
                "VALUES (%(caller)s, %(burst)s - %(cost)s, "
                "extract(epoch FROM clock_timestamp()), TRUE) "
                "ON CONFLICT (caller) DO UPDATE SET "
                f"tokens = CASE WHEN {refilled} >= %(cost)s THEN {refilled} - %(cost)s "
                f"ELSE {refilled} END, granted = {refilled} >= %(cost)s, at = EXCLUDED.at "
                "RETURNING tokens, granted",
                {"caller": caller, "burst": burst, "rate": rate, "cost": float(cost)},
            ).fetchone()
        assert row is not None
        tokens, granted = float(row[0]), bool(row[1])
        return 0.0 if granted else max(0.0, (cost - tokens) / rate)

    def prune(self) -> None:
        """Forget the buckets that have refilled (they hold no information)."""
        with self._shared_lock:
            self._db.execute(
                "DELETE FROM rate_buckets WHERE tokens + "
                "(extract(epoch FROM clock_timestamp()) - at) * %s >= %s",
                (self.limit.rate, float(self.limit.burst)),
            )

    def close(self) -> None:
        with self._shared_lock:
            self._db.close()


class ProgressListener:
    """LISTENs on the progress channel on its own thread and calls ``wake(simulation_id)`` (on
    the server's event loop) for every notification from any replica or worker."""

    def __init__(self, dsn: str, wake: Callable[[str], None]) -> None:
        self._dsn = dsn
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kairos-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        psycopg = _psycopg()
        while not self._stop.is_set():
            try:
                with connect(self._dsn) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=0.5):
                            self._wake(note.payload)
            except (StorageError, psycopg.Error) as exc:
                # Streams fall back to re-reading on their timeout meanwhile.
                log.warning("progress notifications interrupted (%s); reconnecting", exc)
                self._stop.wait(1.0)
