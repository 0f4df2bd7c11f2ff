"""The PostgreSQL backend of the simulation store (psycopg 3), shared by server replicas.

The same tables and promises as the SQLite store (``_storage``): a chunk of steps, the progress
and the checkpoint at the chunk's last tick commit in one transaction (the simulation's row is
locked first, so two writers can never interleave or repeat ticks); an idempotency key is a
unique index, so two replicas filing the same key at once get one simulation.

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
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from kairos.errors import MissingDependencyError
from kairos.server._auth import RateLimit, RateLimiter
from kairos.server._storage import (
    _COLUMNS,
    _DECREE_COLUMNS,
    FINAL_STATUSES,
    REJECTED_AFTER_LAST_TICK,
    SCHEMA_VERSION,
    DecreeConflict,
    DecreeRecord,
    DecreeRefused,
    IdempotencyConflict,
    NewSimulation,
    SimulationRecord,
    _decree_record,
    _record,
    decode_chunk,
    encode_chunk,
)
from kairos.server._store_api import LeaseLost, StorageError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("kairos.server")

CHANNEL = "kairos_progress"
_DDL_LOCK = 0x6B6169726F73  # an advisory lock id: replicas starting at once create tables once

_DDL = """
CREATE TABLE IF NOT EXISTS kairos_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS simulations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    organization_id TEXT,
    status TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    scenario_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    seed BIGINT NOT NULL,
    ticks BIGINT NOT NULL,
    tick BIGINT NOT NULL DEFAULT 0,
    engine_version TEXT NOT NULL,
    idempotency_key TEXT,
    input_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    summary_json TEXT,
    error_json TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    claimed_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS simulations_idempotency
    ON simulations (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS simulations_owner ON simulations (owner, seq);
CREATE INDEX IF NOT EXISTS simulations_unfinished
    ON simulations (seq) WHERE status IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS trace_chunks (
    simulation_id TEXT NOT NULL,
    first_tick BIGINT NOT NULL,
    last_tick BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (simulation_id, first_tick)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    simulation_id TEXT PRIMARY KEY,
    tick BIGINT NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS decrees (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    simulation_id TEXT NOT NULL,
    event_json TEXT NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL,
    tick BIGINT,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS decrees_idempotency
    ON decrees (simulation_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decrees_simulation ON decrees (simulation_id, status);
CREATE TABLE IF NOT EXISTS replicas (
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


class PostgresStore:
    """The simulation store in a PostgreSQL database (one connection per process)."""

    def __init__(
        self, dsn: str, *, replica_id: str | None = None, lease_holder: str | None = None
    ) -> None:
        self._dsn = dsn
        self._replica_id = replica_id
        self._lease_holder = lease_holder
        self._lock = threading.RLock()
        self._db = connect(dsn)
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                self._db.execute(_DDL)
                row = self._db.execute(
                    "SELECT value FROM kairos_meta WHERE key = 'schema_version'"
                ).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO kairos_meta (key, value) VALUES ('schema_version', %s)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) != SCHEMA_VERSION:
                    raise StorageError(
                        f"{describe(dsn)} holds storage schema version {row[0]}; "
                        f"this server reads version {SCHEMA_VERSION}"
                    )
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

    # -- simulation records --------------------------------------------------------------

    def create(self, new: NewSimulation) -> tuple[SimulationRecord, bool]:
        values = (
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
            self.replica_id,
        )
        with self._lock, self._db.transaction():
            row = self._db.execute(
                "INSERT INTO simulations (id, owner, organization_id, status, scenario_json, "
                "scenario_name, domain, seed, ticks, engine_version, idempotency_key, "
                "input_hash, created_at, claimed_by) "
                "VALUES (%s, %s, %s, 'queued', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL "
                f"DO NOTHING RETURNING {_COLUMNS}",
                values,
            ).fetchone()
            if row is not None:
                return _record(row), True
            existing = self._one(
                "WHERE owner = %s AND idempotency_key = %s", (new.owner, new.idempotency_key)
            )
        assert existing is not None  # the conflict was on this key, and rows are never deleted
        if existing.input_hash != new.input_hash:
            raise IdempotencyConflict(existing)
        return existing, False

    def get(self, simulation_id: str, owner: str | None = None) -> SimulationRecord | None:
        with self._lock:
            if owner is None:
                return self._one("WHERE id = %s", (simulation_id,))
            return self._one("WHERE id = %s AND owner = %s", (simulation_id, owner))

    def page(
        self,
        owner: str,
        *,
        before_seq: int | None,
        limit: int,
        organization_id: str | None = None,
        status: str | None = None,
    ) -> tuple[list[SimulationRecord], int | None]:
        clauses: list[str] = ["owner = %s"]
        params: list[Any] = [owner]
        if before_seq is not None:
            clauses.append("seq < %s")
            params.append(before_seq)
        if organization_id is not None:
            clauses.append("organization_id = %s")
            params.append(organization_id)
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        query = f"SELECT {_COLUMNS} FROM simulations WHERE {' AND '.join(clauses)} "
        query += "ORDER BY seq DESC LIMIT %s"
        with self._lock:
            rows = self._db.execute(query, (*params, limit + 1)).fetchall()
        records = [_record(row) for row in rows[:limit]]
        next_seq = records[-1].seq if len(rows) > limit else None
        return records, next_seq

    def unfinished(self) -> list[SimulationRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM simulations WHERE status IN ('queued', 'running') "
                "ORDER BY seq"
            ).fetchall()
        return [_record(row) for row in rows]

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
                + ", ".join(f"simulations.{c.strip()}" for c in _COLUMNS.split(",")),
                {"me": self.replica_id, "stale": float(stale_seconds)},
            ).fetchall()
            # Replicas gone for an hour are forgotten (their simulations were claimed long ago).
            self._db.execute(
                "DELETE FROM replicas WHERE heartbeat_at < clock_timestamp() - interval '1 hour'"
            )
        return sorted((_record(row) for row in rows), key=lambda r: r.seq)

    def release(self) -> None:
        if self.replica_id is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM replicas WHERE id = %s", (self.replica_id,))

    # -- status ----------------------------------------------------------------------------

    def mark_running(self, simulation_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE simulations SET status = 'running' WHERE id = %s AND status = 'queued' "
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
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        with self._lock, self._db.transaction():
            self._check_lease(simulation_id)
            self._db.execute(
                "UPDATE simulations SET status = %s, completed_at = %s, summary_json = %s, "
                "error_json = %s WHERE id = %s AND status IN ('queued', 'running')",
                (status, completed_at, summary_json, error_json, simulation_id),
            )
            self._db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, simulation_id))
            return self._one("WHERE id = %s", (simulation_id,))

    def request_cancel(self, simulation_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE simulations SET cancel_requested = TRUE WHERE id = %s", (simulation_id,)
            )

    def cancel_requested(self, simulation_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT cancel_requested FROM simulations WHERE id = %s", (simulation_id,)
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
        if not lines:
            return
        last_tick = first_tick + len(lines) - 1
        with self._lock, self._db.transaction():
            row = self._db.execute(
                "SELECT tick, claimed_by FROM simulations WHERE id = %s FOR UPDATE",
                (simulation_id,),
            ).fetchone()
            if row is None:
                raise KeyError(simulation_id)
            if self._lease_holder is not None and row[1] != self._lease_holder:
                raise LeaseLost(simulation_id)
            if row[0] != first_tick - 1:
                raise ValueError(
                    f"{simulation_id}: chunk starts at tick {first_tick} but the stored trace "
                    f"ends at tick {row[0]}"
                )
            self._db.execute(
                "INSERT INTO trace_chunks (simulation_id, first_tick, last_tick, data) "
                "VALUES (%s, %s, %s, %s)",
                (simulation_id, first_tick, last_tick, encode_chunk(lines)),
            )
            self._db.execute(
                "UPDATE simulations SET tick = %s WHERE id = %s", (last_tick, simulation_id)
            )
            if checkpoint is not None:
                self._db.execute(
                    "INSERT INTO checkpoints (simulation_id, tick, data) VALUES (%s, %s, %s) "
                    "ON CONFLICT (simulation_id) DO UPDATE "
                    "SET tick = EXCLUDED.tick, data = EXCLUDED.data",
                    (simulation_id, last_tick, checkpoint),
                )
            self._db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, simulation_id))

    def latest_checkpoint(self, simulation_id: str) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tick, data FROM checkpoints WHERE simulation_id = %s", (simulation_id,)
            ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def rewind(self, simulation_id: str, tick: int) -> None:
        with self._lock, self._db.transaction():
            self._db.execute("SELECT 1 FROM simulations WHERE id = %s FOR UPDATE", (simulation_id,))
            self._check_lease(simulation_id)
            self._db.execute(
                "DELETE FROM trace_chunks WHERE simulation_id = %s AND first_tick > %s",
                (simulation_id, tick),
            )
            self._db.execute(
                "UPDATE simulations SET tick = %s WHERE id = %s", (tick, simulation_id)
            )
            if tick == 0:
                self._db.execute(
                    "DELETE FROM checkpoints WHERE simulation_id = %s", (simulation_id,)
                )

    def read_steps(self, simulation_id: str, from_tick: int, limit: int) -> list[bytes]:
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
        position = after_tick
        while True:
            # As in the SQLite store: seek the chunk holding position + 1 on the primary key (a
            # filter on last_tick alone visits every earlier chunk: quadratic over a trace).
            with self._lock:
                row = self._db.execute(
                    "SELECT first_tick, last_tick, data FROM trace_chunks WHERE simulation_id = %s"
                    " AND first_tick <= %s ORDER BY first_tick DESC LIMIT 1",
                    (simulation_id, position + 1),
                ).fetchone()
                if row is None or int(row[1]) <= position:
                    row = self._db.execute(
                        "SELECT first_tick, last_tick, data FROM trace_chunks WHERE simulation_id"
                        " = %s AND first_tick > %s ORDER BY first_tick LIMIT 1",
                        (simulation_id, position),
                    ).fetchone()
            if row is None:
                return
            first, last, data = int(row[0]), int(row[1]), bytes(row[2])
            lines = decode_chunk(data)
            skip = max(0, position + 1 - first)
            yield first + skip, last, lines[skip:]
            position = last

    # -- decrees (as in the SQLite store; the simulation's row lock orders them) ------------

    def add_decree(
        self,
        *,
        decree_id: str,
        simulation_id: str,
        event_json: str,
        idempotency_key: str | None,
        created_at: str,
    ) -> tuple[DecreeRecord, bool]:
        with self._lock, self._db.transaction():
            # The row lock serializes this against the worker's claim and the last chunk.
            locked = self._db.execute(
                "SELECT 1 FROM simulations WHERE id = %s FOR UPDATE", (simulation_id,)
            ).fetchone()
            if idempotency_key is not None:
                existing = self._decree(
                    "WHERE simulation_id = %s AND idempotency_key = %s",
                    (simulation_id, idempotency_key),
                )
                if existing is not None:
                    if existing.event_json != event_json:
                        raise DecreeConflict(existing)
                    return existing, False
            record = self._one("WHERE id = %s", (simulation_id,)) if locked else None
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
                "created_at) VALUES (%s, %s, %s, %s, 'pending', %s)",
                (decree_id, simulation_id, event_json, idempotency_key, created_at),
            )
            made = self._decree("WHERE id = %s", (decree_id,))
            assert made is not None
            return made, True

    def claim_decrees(self, simulation_id: str, next_tick: int, ticks: int) -> list[DecreeRecord]:
        with self._lock, self._db.transaction():
            self._check_lease(simulation_id)
            self._db.execute("SELECT 1 FROM simulations WHERE id = %s FOR UPDATE", (simulation_id,))
            if next_tick > ticks:
                self._db.execute(
                    "UPDATE decrees SET status = 'rejected', reason = %s "
                    "WHERE simulation_id = %s AND status = 'pending'",
                    (REJECTED_AFTER_LAST_TICK, simulation_id),
                )
                return []
            rows = self._db.execute(
                "UPDATE decrees SET status = 'applied', tick = %s "
                "WHERE simulation_id = %s AND status = 'pending' "
                f"RETURNING {_DECREE_COLUMNS}",
                (next_tick, simulation_id),
            ).fetchall()
        return sorted((_decree_record(row) for row in rows), key=lambda d: d.seq)

    def reject_pending_decrees(self, simulation_id: str, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE decrees SET status = 'rejected', reason = %s "
                "WHERE simulation_id = %s AND status = 'pending'",
                (reason, simulation_id),
            )

    def decrees(self, simulation_id: str) -> list[DecreeRecord]:
        return self._decrees(
            "WHERE simulation_id = %s ORDER BY status != 'applied', tick, seq", (simulation_id,)
        )

    def get_decree(self, decree_id: str) -> DecreeRecord | None:
        return self._decree("WHERE id = %s", (decree_id,))

    def _decree(self, where: str, params: tuple[Any, ...]) -> DecreeRecord | None:
        found = self._decrees(where, params)
        return found[0] if found else None

    def _decrees(self, where: str, params: tuple[Any, ...]) -> list[DecreeRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DECREE_COLUMNS} FROM decrees {where}", params
            ).fetchall()
        return [_decree_record(row) for row in rows]

    def _one(self, where: str, params: tuple[Any, ...]) -> SimulationRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM simulations {where}", params).fetchone()
        return _record(row) if row else None

    def _check_lease(self, simulation_id: str) -> None:
        """In a worker's transaction: lock the row, and stop if another replica owns it."""
        if self._lease_holder is None:
            return
        row = self._db.execute(
            "SELECT claimed_by FROM simulations WHERE id = %s FOR UPDATE", (simulation_id,)
        ).fetchone()
        if row is not None and row[0] != self._lease_holder:
            raise LeaseLost(simulation_id)


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
