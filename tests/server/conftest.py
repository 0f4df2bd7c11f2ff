"""Real reference servers on 127.0.0.1 for the server tests, and small wire helpers.

The module-scoped servers (``server``, ``keyed_server``) and the ``store`` are parametrized over
both storage backends: SQLite, and a real PostgreSQL (tests/_postgres.py) where one can run.
Every test that uses them runs on both; the rest (transport edge cases that never reach the
store differently) run on SQLite only, to keep CI's time in bounds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kairos.server import ServerConfig, ServerThread
from kairos.server._auth import RateLimit
from kairos.server._store import SimulationStore, open_store

BACKENDS = ["sqlite", "postgres"]

SCENARIO: dict[str, Any] = {
    "name": "capability sweep point",
    "seed": 7,
    "models": [
        {"name": "model", "capabilityIndex": 400, "alignmentScore": 70, "guardrailCoverage": 60}
    ],
    "events": [{"tick": 3, "type": "capability_jump", "target": "model", "magnitude": 0.3}],
}


class Wire:
    """tRPC calls over plain httpx, as any HTTP client would make them."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=url + "/trpc", headers=headers, timeout=30)
        self.ws_url = url.replace("http://", "ws://") + "/trpc"

    def query(self, path: str, input: Any = None, **kwargs: Any) -> httpx.Response:
        params = {"input": json.dumps(input)} if input is not None else {}
        return self.http.get(f"/{path}", params=params, **kwargs)

    def mutate(self, path: str, input: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"/{path}", json=input, **kwargs)

    def data(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return response.json()["result"]["data"]

    def create(self, ticks: int = 300, **overrides: Any) -> dict[str, Any]:
        scenario = {**SCENARIO, **overrides}
        return self.data(self.mutate("simulation.create", {"scenario": scenario, "ticks": ticks}))

    def wait(self, simulation_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            record = self.data(self.query("simulation.get", {"id": simulation_id}))
            if record["status"] in ("completed", "failed", "cancelled"):
                return record
            assert time.monotonic() < deadline, f"{simulation_id} still {record['status']}"
            time.sleep(0.02)


def start_server(tmp: Path, **options: Any) -> ServerThread:
    options.setdefault("workers", 2)
    config = ServerConfig(db_path=tmp / "kairos.db", port=0, **options)
    server = ServerThread(config)
    server.start()
    return server


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """A real Dask LocalCluster: two worker processes (under nannies, which restart a worker
    that dies) of one thread each; the scheduler runs in this process."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    yield cluster
    cluster.close()


EXECUTORS = pytest.mark.parametrize("server", ["sqlite", "dask"], indirect=True)
"""Runs a test of the module's ``server`` (and ``wire``) on local workers and on Dask (both on
SQLite), instead of on each storage backend."""


def backend_options(request: pytest.FixtureRequest, backend: str) -> dict[str, Any]:
    """ServerConfig options selecting ``backend``: nothing for SQLite (the ``db_path`` default
    of :func:`start_server`), a fresh PostgreSQL database's DSN otherwise."""
    if backend == "postgres":
        return {"db_url": request.getfixturevalue("postgres_cluster").new_database()}
    return {}


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives, on each backend: a SQLite path or a PostgreSQL DSN."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return str(tmp_path / "kairos.db")


@pytest.fixture
def store(store_location: str) -> Iterator[SimulationStore]:
    """A fresh store on each backend."""
    opened = open_store(store_location, replica_id="test-replica")
    yield opened
    opened.close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    options: dict[str, Any] = {}
    if request.param == "dask":
        options["executor"] = request.getfixturevalue("dask_cluster").scheduler_address
    else:
        options.update(backend_options(request, request.param))
    thread = start_server(tmp_path_factory.mktemp("server"), rate_limit=None, **options)
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def wire(server: ServerThread) -> Wire:
    return Wire(server.url)


@pytest.fixture(scope="module", params=BACKENDS)
def keyed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    thread = start_server(
        tmp_path_factory.mktemp("keyed"),
        api_keys={"krs_alpha": "org_alpha", "krs_beta": "org_beta"},
        rate_limit=RateLimit(rate=5.0, burst=20),
        **backend_options(request, request.param),
    )
    yield thread
    thread.stop()
