"""What only the PostgreSQL store has (the rest of its behaviour runs in test_storage.py on both
backends): typed errors for a database that cannot be used, leases between replicas, progress
notifications across processes, and one rate limit shared by replicas."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from kairos.cli import main
from kairos.errors import KairosError
from kairos.server import StorageError
from kairos.server._auth import RateLimit
from kairos.server._pg_store import PostgresStore, ProgressListener, SharedRateLimiter
from kairos.server._store import NewSimulation, open_store


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the probe is closed


def _new(sim_id: str) -> NewSimulation:
    return NewSimulation(
        id=sim_id,
        owner="org_a",
        organization_id="org_a",
        scenario_json=json.dumps({"name": "s"}),
        scenario_name="s",
        domain="ai_safety",
        seed=7,
        ticks=1000,
        engine_version="1.5.0",
        idempotency_key=None,
        input_hash="h",
        created_at="2026-12-02T10:00:00.000Z",
    )


def test_an_unreachable_server_is_a_typed_error_without_the_password() -> None:
    port = _closed_port()
    with pytest.raises(StorageError) as error:
        open_store(f"postgresql://kairos:s3cret@127.0.0.1:{port}/kairos")
    assert isinstance(error.value, KairosError)
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}/kairos" in str(error.value)
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(
    ("location", "fragment"),
    [
        ("postgresql://kairos@127.0.0.1:99999999/x", "PostgreSQL"),
        ("postgresql://127.0.0.1/x?sslmode=bogus", "PostgreSQL"),
        ("mysql://db.example/kairos", "unsupported database URL scheme 'mysql'"),
    ],
)
def test_malformed_locations_are_typed_errors(location: str, fragment: str) -> None:
    with pytest.raises(StorageError, match=fragment):
        open_store(location)


def test_kairos_serve_with_an_unusable_database_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _closed_port()
    status = main(["serve", "--port", "0", "--db", f"postgresql://u:pw@127.0.0.1:{port}/k"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 1, err
    assert len(lines) == 1 and lines[0].startswith("kairos: error: "), err
    assert "cannot connect to PostgreSQL" in lines[0] and "pw" not in lines[0].split("at ")[1]


def test_a_dead_replicas_simulations_are_claimed_once(postgres_dsn: str) -> None:
    alive = PostgresStore(postgres_dsn, replica_id="alive")
    dying = PostgresStore(postgres_dsn, replica_id="dying")
    for n in range(20):
        (alive if n % 2 else dying).create(_new(f"sim_{n}"))
    dying.finish("sim_0", "completed", completed_at="t")
    others = [PostgresStore(postgres_dsn, replica_id=f"r{n}") for n in range(3)]
    try:
        # Every replica's heartbeat is fresh: nobody may take anything.
        assert [o.claim_unfinished(60) for o in others] == [[], [], []]
        # "dying" stops beating (its heartbeat is now far in the past).
        alive._db.execute(
            "UPDATE replicas SET heartbeat_at = heartbeat_at - interval '1 hour' WHERE id = 'dying'"
        )
        claims: dict[str, list[str]] = {}

        def claim(store: PostgresStore) -> None:
            claims[str(store.replica_id)] = [r.id for r in store.claim_unfinished(60)]

        threads = [threading.Thread(target=claim, args=(o,)) for o in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        taken = [sim for ids in claims.values() for sim in ids]
        # Each unfinished simulation of the dead replica went to exactly one replica; the
        # finished one and the live replica's stay where they are.
        assert sorted(taken) == sorted(f"sim_{n}" for n in range(2, 20, 2))
        assert alive.claim_unfinished(60) == []
        # A replica that stops gracefully gives its simulations up at once.
        alive.release()
        assert sorted(r.id for r in others[0].claim_unfinished(60)) == sorted(
            f"sim_{n}" for n in range(1, 20, 2)
        )
    finally:
        for store in (alive, dying, *others):
            store.close()


def test_progress_reaches_listeners_in_other_processes(postgres_dsn: str) -> None:
    writer = open_store(postgres_dsn)  # as a worker process opens it
    writer.create(_new("sim_1"))
    woken: list[str] = []
    got = threading.Event()

    def wake(simulation_id: str) -> None:
        woken.append(simulation_id)
        got.set()

    listener = ProgressListener(postgres_dsn, wake)
    listener.start()
    try:
        # The listener may still be connecting: write until one notification arrives.
        tick = 0
        while not got.wait(0.2):
            assert tick < 500, "no progress notification arrived"
            writer.append_chunk("sim_1", tick + 1, [b'{"t":%d}' % (tick + 1)])
            tick += 1
        assert set(woken) == {"sim_1"}
    finally:
        listener.stop()
        writer.close()


def test_replicas_share_one_rate_limit(postgres_dsn: str) -> None:
    open_store(postgres_dsn).close()  # the tables
    limit = RateLimit(rate=0.01, burst=4)  # a token per 100 s: no refill during the test
    a, b = SharedRateLimiter(postgres_dsn, limit), SharedRateLimiter(postgres_dsn, limit)
    try:
        granted = [limiter.acquire("caller") for limiter in (a, b, a, b)]
        assert granted == [0.0, 0.0, 0.0, 0.0]
        assert a.acquire("caller") > 0 and b.acquire("caller") > 0
        assert b.acquire("someone else") == 0.0
    finally:
        a.close()
        b.close()


def test_a_worker_of_a_replica_presumed_dead_stops_and_leaves_the_run_to_the_new_owner(
    postgres_dsn: str,
) -> None:
    """A replica that was only slow (its heartbeat stale, its worker still running) must not
    race the replica that took its simulation over: the worker's next write finds the lease
    gone, and it stops without touching the run."""
    from kairos.server._execute import LOST, execute
    from tests.server.test_recovery import SCENARIO, _file

    slow = PostgresStore(postgres_dsn, replica_id="slow")
    _file(slow, "sim_1", 3_000)
    worker = PostgresStore(postgres_dsn, lease_holder="slow")
    taken = threading.Event()
    taken_at: list[int] = []

    def take_over(_id: str, tick: int) -> None:
        if tick >= 500 and not taken.is_set():  # mid-run: "slow" is presumed dead
            slow._db.execute(
                "UPDATE replicas SET heartbeat_at = heartbeat_at - interval '1 hour' "
                "WHERE id = 'slow'"
            )
            assert [r.id for r in new_owner.claim_unfinished(60)] == ["sim_1"]
            taken_at.append(tick)
            taken.set()

    new_owner = PostgresStore(postgres_dsn, replica_id="new")
    try:
        assert execute(worker, "sim_1", chunk_steps=100, on_progress=take_over) == LOST
        record = slow.get("sim_1")
        assert record is not None and record.status == "running" and record.tick == taken_at[0]
        # The new owner's worker finishes it, with the engine's exact trace.
        successor = PostgresStore(postgres_dsn, lease_holder="new")
        assert execute(successor, "sim_1", chunk_steps=100) == "completed"
        successor.close()
        from kairos import engine

        stored = [
            json.loads(line)
            for _f, _l, lines in slow.iter_chunks("sim_1", after_tick=0)
            for line in lines
        ]
        assert engine.trace_sha256(stored) == engine.trace_sha256(
            engine.iter_steps(SCENARIO, 3_000, "1.5.0")
        )
    finally:
        for store in (slow, worker, new_owner):
            store.close()


def test_an_embedded_server_on_an_unusable_database_raises_the_typed_error() -> None:
    from kairos.server import ServerConfig, ServerThread

    port = _closed_port()
    server = ServerThread(ServerConfig(db_url=f"postgresql://k@127.0.0.1:{port}/k", port=0))
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL"):
        server.start()
