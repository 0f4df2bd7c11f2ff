"""The client against an official @trpc/server 11.25.2 (tests/node/fixture_server.mjs).

The fixture answers in the shape of the KAIROS API with known steps and injectable errors, so
these tests check that the client speaks tRPC as the official server does, not only as our
reference server does. Skipped with a reason where Node.js is not installed.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos.client import KairosClient
from kairos.errors import (
    AuthenticationError,
    EngineVersionError,
    InternalServerError,
    NotFoundError,
    SimulationError,
)
from tests._node import NodeFixtureServer

from .conftest import scenario

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def fixture_server() -> Iterator[NodeFixtureServer]:
    with tempfile.TemporaryDirectory(prefix="client-trpc-fixture-") as tmp:
        server = NodeFixtureServer(
            Path(tmp), env={"FIXTURE_STREAM_DELAY_MS": "5", "FIXTURE_CHUNK": "50"}
        )
        try:
            yield server
        finally:
            server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_run_against_official_trpc(
    fixture_server: NodeFixtureServer, use_async: bool
) -> None:
    source = scenario(unique("node-run-"), seed=4)
    with KairosClient(fixture_server.url) as client:
        trace = await client.arun(source, 400) if use_async else client.run(source, 400)
        versions = await client.engine.aversions() if use_async else client.engine.versions()
    assert [step.t for step in trace] == list(range(1, 401))
    assert trace.metadata.seed == 4 and trace.metadata.scenario_name == source.name
    assert versions.default == "1.4.4"


def test_injected_503_then_success_is_retried(fixture_server: NodeFixtureServer) -> None:
    source = scenario(unique("inject:SERVICE_UNAVAILABLE:2:"))
    with KairosClient(fixture_server.url, retry_backoff=0.01) as client:
        assert len(client.run(source, 20)) == 20
    with (
        KairosClient(fixture_server.url, retry_backoff=0.01, max_retries=1) as client,
        pytest.raises(InternalServerError) as info,
    ):
        client.run(scenario(unique("inject:BAD_GATEWAY:5:")), 20)
    assert info.value.code == "BAD_GATEWAY" and info.value.path == "simulation.create"


def test_retired_version_and_not_found(fixture_server: NodeFixtureServer) -> None:
    with KairosClient(fixture_server.url) as client:
        with pytest.raises(EngineVersionError) as info:
            client.run(scenario(), 10, engine_version="1.3.2")
        assert info.value.requested == "1.3.2" and "1.5.0" in info.value.available
        with pytest.raises(NotFoundError):
            client.simulation.get(id="sim_missing")


async def test_stream_error_is_a_simulation_error(fixture_server: NodeFixtureServer) -> None:
    async with KairosClient(fixture_server.url) as client:
        with pytest.raises(SimulationError) as info:
            await client.arun(scenario(unique("stream-error-")), 500)
    assert info.value.simulation_id is not None and info.value.simulation_id.startswith("sim_")


async def test_reconnect_notification_from_official_server(
    fixture_server: NodeFixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kairos")
    ticks: list[int] = []
    async with KairosClient(fixture_server.url) as client:
        async for step in client.astream_run(scenario(unique("node-move-")), 3000):
            ticks.append(step.t)
            if step.t == 100:
                fixture_server.broadcast_reconnect()
    assert ticks == list(range(1, 3001))
    assert any("server asked to reconnect" in r.getMessage() for r in caplog.records)


def test_rejected_key_over_http_and_websocket(fixture_server: NodeFixtureServer) -> None:
    with KairosClient(fixture_server.url, api_key="krs_bad", max_retries=0) as client:
        with pytest.raises(AuthenticationError):
            client.engine.versions()
        with pytest.raises(AuthenticationError):
            list(client.simulation.stream(id="sim_any"))
