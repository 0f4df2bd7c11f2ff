"""``scripts/bench storage``: per-replica figures of the two storage backends, side by side.

For SQLite (a file in a temporary directory) and PostgreSQL (``--dsn``, or a throwaway cluster
started here from Debian's ``postgresql`` binaries with its default durable settings), on
loopback:

* store operations from one process, as a server and its workers make them: ``create`` (a new
  simulation), ``get`` (the read behind every query and stream wake-up), ``append_chunk`` (a
  256-step chunk with its checkpoint: what a worker commits), a stream replay (chunks read
  back), and on PostgreSQL the shared rate limiter's ``acquire`` (one per request);
* end to end, one server (replica) with ``--workers`` worker processes: simulations per second
  (create over HTTP, run, wait for completion), as ``scripts/bench server`` measures them;
* PostgreSQL only: two replicas sharing the database, the same load split between them.

The machine's cores are shared by everything here (the database too), so the figures are per
replica *on this machine*; ``docs/deploy.md`` builds its scale plan from them.

    scripts/bench storage [--json] [--dsn postgresql://...] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.server import SIM_TICKS, SIMULATIONS, scenario
from kairos import engine
from kairos.server import ServerConfig, ServerThread
from kairos.server._auth import RateLimit
from kairos.server._store import NewSimulation, SimulationStore, open_store

CHUNK = 256
OPERATIONS = 400


def _new(n: int) -> NewSimulation:
    return NewSimulation(
        id=f"sim_bench_{n}_{time.monotonic_ns()}",
        owner="bench",
        organization_id=None,
        scenario_json=engine.canonical_json(scenario(n)),
        scenario_name=f"bench {n}",
        domain="ai_safety",
        seed=n,
        ticks=OPERATIONS * CHUNK,
        engine_version=engine.resolve_version(None).version,
        idempotency_key=f"key-{n}-{time.monotonic_ns()}",
        input_hash="h",
        created_at="2026-12-02T00:00:00.000Z",
    )


def _rate(count: int, action: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for n in range(count):
        action(n)
    return count / (time.perf_counter() - start)


def store_figures(location: str) -> dict[str, float]:
    """Operations per second on one store connection (one process)."""
    store: SimulationStore = open_store(location, replica_id="bench")
    try:
        ids = [store.create(_new(n))[0].id for n in range(8)]  # warm
        creates = _rate(OPERATIONS, lambda n: store.create(_new(1000 + n)))
        gets = _rate(OPERATIONS * 5, lambda n: store.get(ids[n % len(ids)]))
        steps = [engine.canonical_json(s).encode() for s in engine.iter_steps(scenario(1), CHUNK)]
        checkpoint = os.urandom(2048)  # about an engine checkpoint's size
        target = ids[0]
        chunks = _rate(
            OPERATIONS,
            lambda n: store.append_chunk(target, n * CHUNK + 1, steps, checkpoint=checkpoint),
        )
        start = time.perf_counter()
        replayed = sum(len(lines) for _f, _l, lines in store.iter_chunks(target, after_tick=0))
        replay = replayed / (time.perf_counter() - start)
        figures = {
            "create_per_s": creates,
            "get_per_s": gets,
            "append_chunk_per_s": chunks,
            "stored_steps_per_s": chunks * CHUNK,
            "replayed_steps_per_s": replay,
        }
    finally:
        store.close()
    if store.shared:
        from kairos.server._pg_store import SharedRateLimiter

        limiter = SharedRateLimiter(location, RateLimit(rate=1e6, burst=1_000_000))
        try:
            figures["rate_limit_acquire_per_s"] = _rate(
                OPERATIONS * 5, lambda n: limiter.acquire(f"caller-{n % 50}")
            )
        finally:
            limiter.close()
    return figures


async def _simulations_per_second(urls: list[str]) -> float:
    """Create SIMULATIONS runs spread over ``urls`` and wait until all completed."""
    clients = [httpx.AsyncClient(base_url=u + "/trpc", timeout=300) for u in urls]
    try:
        start = time.perf_counter()
        created = await asyncio.gather(
            *(
                clients[n % len(clients)].post(
                    "/simulation.create", json={"scenario": scenario(n), "ticks": SIM_TICKS}
                )
                for n in range(SIMULATIONS)
            )
        )
        pending = {r.json()["result"]["data"]["id"] for r in created}
        while pending:
            page = await clients[0].get(
                "/simulation.list",
                params={"input": json.dumps({"limit": 200, "status": "completed"})},
            )
            pending -= {s["id"] for s in page.json()["result"]["data"]["items"]}
            if pending:
                await asyncio.sleep(0.05)  # the polling itself must not be what is measured
        return SIMULATIONS / (time.perf_counter() - start)
    finally:
        for client in clients:
            await client.aclose()


def server_figures(options: dict[str, Any], workers: int, replicas: int = 1) -> float:
    """Simulations per second through ``replicas`` servers on one database (best of three)."""
    with contextlib.ExitStack() as stack:
        urls = []
        for _ in range(replicas):
            config = ServerConfig(port=0, workers=workers, rate_limit=None, **options)
            urls.append(stack.enter_context(ServerThread(config)).url)
        asyncio.run(_simulations_per_second(urls))  # warm the workers up
        return max(asyncio.run(_simulations_per_second(urls)) for _ in range(3))


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests._postgres import PostgresCluster, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(f"scripts/bench storage: no PostgreSQL ({reason}); pass --dsn")
    cluster = PostgresCluster().start()  # default settings: fsync and synchronous commit on
    try:
        yield cluster.dsn()
    finally:
        cluster.stop()


def fresh_database(dsn: str, name: str) -> str:
    """A fresh database ``name`` on the server of ``dsn`` (a postgresql:// URL); its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--dsn", default=None, help="a PostgreSQL server to measure")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "workers_per_replica": args.workers},
        "simulation": {"count": SIMULATIONS, "ticks": SIM_TICKS, "chunk_steps": CHUNK},
    }
    with tempfile.TemporaryDirectory(prefix="kairos-bench-") as tmp:
        db = str(Path(tmp) / "bench.db")
        results["sqlite"] = store_figures(db)
        results["sqlite"]["simulations_per_s_one_replica"] = server_figures(
            {"db_path": Path(tmp) / "server.db"}, args.workers
        )
    with postgres(args.dsn) as dsn:
        results["postgres"] = store_figures(fresh_database(dsn, "kairos_bench_store"))
        results["postgres"]["simulations_per_s_one_replica"] = server_figures(
            {"db_url": fresh_database(dsn, "kairos_bench_one")}, args.workers
        )
        results["postgres"]["simulations_per_s_two_replicas"] = server_figures(
            {"db_url": fresh_database(dsn, "kairos_bench_two")}, max(1, args.workers // 2), 2
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"storage backends on loopback, {results['machine']['cpus']} CPUs, "
        f"{args.workers} worker(s) per replica"
    )
    names = sorted({k for b in ("sqlite", "postgres") for k in results[b]})
    print(f"  {'figure':<36}{'sqlite':>14}{'postgres':>14}")
    for name in names:
        cells = [results[b].get(name) for b in ("sqlite", "postgres")]
        text = [f"{c:14.1f}" if c is not None else f"{'-':>14}" for c in cells]
        print(f"  {name:<36}{''.join(text)}")


if __name__ == "__main__":
    main()
