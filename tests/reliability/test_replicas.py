"""Replicas sharing one PostgreSQL database (real ``kairos serve`` processes, a real PostgreSQL).

* ``kill -9`` of the replica that runs the simulations and serves the streams, with creates in
  flight: the clients reach the other replica through a balancer (a plain TCP one in front of
  both, as a load balancer would be), the survivor takes over the dead replica's simulations
  once its lease expires, every accepted simulation completes with the engine's exact trace,
  and every stream gets every tick exactly once, in order.
* Idempotency keys and rate limits hold across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kairos import engine
from kairos.client import KairosClient
from kairos.server._store import decode_chunk, open_store

from .conftest import ServeFactory, engine_sha256, reliability_scenario, wait_until
from .test_crash import VERSION, Creator, Streamer

LEASE = "2"  # seconds: short, so that the take-over happens quickly in the test


class Balancer:
    """A TCP balancer on 127.0.0.1: each new connection goes to the first backend that accepts
    it (a dead backend refuses, and the next one gets the connection); bytes are piped both
    ways, and a connection whose backend dies is closed, as a real balancer would."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.routed: dict[int, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Balancer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.ports:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            self.routed[port] = self.routed.get(port, 0) + 1
            break
        else:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            for side in (sink, writer, up_writer):
                side.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
def balancer() -> Iterator[Balancer]:
    front = Balancer([])
    front.start()
    yield front
    front.stop()


def replica(serve: ServeFactory, dsn: str, name: str, *options: str) -> Any:
    return serve("--db", dsn, "--workers", "2", "--lease", LEASE, *options, name=name)


def stored_lines(dsn: str, sim_id: str, upto: int) -> list[bytes]:
    """The stored trace of ``sim_id``: contiguous chunks from tick 1 to ``upto``."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT first_tick, last_tick, data FROM trace_chunks WHERE simulation_id = %s "
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


def stored_ticks(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as connection:
        row = connection.execute("SELECT COALESCE(SUM(tick), 0) FROM simulations").fetchone()
    return int(row[0]) if row else 0


def test_kill_9_of_a_replica_loses_nothing_and_streams_go_on(
    serve: ServeFactory, postgres_dsn: str, balancer: Balancer
) -> None:
    a = replica(serve, postgres_dsn, "a", "--rate-limit", "0")
    b = replica(serve, postgres_dsn, "b", "--rate-limit", "0")
    balancer.ports[:] = [a.port, b.port]  # everything goes to A while it lives

    accepted: dict[str, tuple[str, int, int]] = {}
    streamers = [
        Streamer(balancer.url, "replica-stream-0", 90, 15_000, hold_at=1_000),
        Streamer(balancer.url, "replica-stream-1", 91, 10_000, hold_at=1_000),
    ]
    for streamer in streamers:
        streamer.start()
    with KairosClient(balancer.url, engine_version=VERSION) as client:
        for n in range(3):  # long runs that A starts and B must finish
            name, seed = f"replica-long-{n}", 95 + n
            record = client.simulation.create(
                scenario=reliability_scenario(name, seed).to_wire(), ticks=15_000
            )
            accepted[record.id] = (name, seed, 15_000)
    target = stored_ticks(postgres_dsn) + 5_000
    wait_until(lambda: stored_ticks(postgres_dsn) >= target, 60, "progress on replica A")
    creator = Creator(balancer.url, "replica-create", ticks=2_000)
    creator.start()
    wait_until(lambda: len(creator.accepted) >= 3, 60, "creates on replica A")
    assert balancer.routed.get(a.port, 0) > 0 and balancer.routed.get(b.port, 0) == 0
    for streamer in streamers:  # each has read a part from A and holds its stream open
        assert streamer.holding.wait(60), f"{streamer.name}: {streamer.error!r}"
        assert streamer.is_alive(), f"{streamer.name}: {streamer.error!r}"
    a_workers = a.worker_pids()
    a.kill()  # kill -9 of the server process, creates in flight; its workers die with it
    on_a = len(creator.accepted)
    # creates go on through the balancer, now answered by B
    wait_until(lambda: len(creator.accepted) >= min(on_a + 3, Creator.LIMIT), 60, "creates on B")
    creator.halt.set()
    creator.join(20)
    accepted.update(creator.accepted)
    wait_until(lambda: not any(psutil_alive(p) for p in a_workers), 10, "A's workers to die")
    for streamer in streamers:  # the rest of each stream comes from B
        streamer.release.set()

    for streamer in streamers:
        streamer.join(180)
        assert not streamer.is_alive(), f"{streamer.name} did not finish"
    store = open_store(postgres_dsn)
    try:
        wait_until(
            lambda: all(store.get(i) is not None and store.get(i).finished for i in accepted),  # type: ignore[union-attr]
            180,
            "every accepted simulation to finish",
        )
        for sim_id, (name, seed, ticks) in accepted.items():
            record = store.get(sim_id)
            assert record is not None, f"{sim_id} was accepted and then lost"
            assert record.status == "completed", (sim_id, record.status, record.error_json)
            lines = stored_lines(postgres_dsn, sim_id, ticks)
            digest = engine.trace_sha256(json.loads(line) for line in lines)
            assert digest == engine_sha256(name, seed, ticks, VERSION), sim_id
    finally:
        store.close()
    assert balancer.routed.get(b.port, 0) > 0, "nothing failed over to B"
    for streamer in streamers:
        assert streamer.error is None, repr(streamer.error)
        assert streamer.hasher.out_of_order == []
        assert streamer.hasher.count == streamer.ticks
        assert streamer.hasher.hexdigest() == engine_sha256(
            streamer.name, streamer.seed, streamer.ticks
        )
    print(
        f"\nreplica failover: {len(accepted)} accepted simulations completed on B after kill -9"
        f" of A; {len(streamers)} streams exactly once; connections routed {balancer.routed}"
    )


def psutil_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _create(url: str, key: str, seed: int, api_key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    scenario = reliability_scenario("idem", seed).to_wire()
    return httpx.post(
        url + "/trpc/simulation.create",
        json={"scenario": scenario, "ticks": 50, "idempotencyKey": key},
        headers=headers,
        timeout=30,
    )


def test_idempotency_keys_and_rate_limits_hold_across_replicas(
    serve: ServeFactory, postgres_dsn: str
) -> None:
    limit = ("--api-key", "org_a=krs_a", "--rate-limit", "0.01", "--rate-burst", "6")
    a = replica(serve, postgres_dsn, "a", *limit)
    b = replica(serve, postgres_dsn, "b", *limit)
    # One key, filed on A then on B: one simulation; another input under it: CONFLICT on B.
    first = _create(a.url, "same-key", 1, "krs_a")
    again = _create(b.url, "same-key", 1, "krs_a")
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["result"]["data"]["id"] == again.json()["result"]["data"]["id"]
    conflict = _create(b.url, "same-key", 2, "krs_a")
    assert conflict.status_code == 409, conflict.text
    # Three requests so far (burst 6, one token per 100 s): three more pass, alternating
    # replicas, and the next one is limited on either replica.
    headers = {"authorization": "Bearer krs_a"}
    for url in (a.url, b.url, a.url):
        assert httpx.get(url + "/trpc/engine.versions", headers=headers).status_code == 200
    for url in (b.url, a.url):
        limited = httpx.get(url + "/trpc/engine.versions", headers=headers)
        assert limited.status_code == 429, limited.text
