"""Real reference servers on 127.0.0.1 for the client tests, a fault proxy, and scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.server import ServerConfig, ServerThread
from kairos.trace import Trace, TraceMetadata

from .faults import FaultProxy

API_KEY = "krs_client_test_key_0123456789"


def scenario(name: str = "client test", seed: int = 7, capability: int = 400) -> AISafetyScenario:
    """A small valid AI-safety scenario with one event."""
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
        )
        .add_event(3, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def expected_trace(
    source: AISafetyScenario, ticks: int, version: str, simulation_id: str | None
) -> Trace:
    """What the engine computes for the same run, as a Trace with the run's metadata."""
    wire = source.to_wire()
    return Trace.from_steps(
        engine.run(wire, ticks, version),
        TraceMetadata(version, wire["seed"], wire["name"], ticks, simulation_id),
    )


def start_server(tmp: Path, port: int = 0, **options: Any) -> ServerThread:
    options.setdefault("rate_limit", None)
    config = ServerConfig(db_path=tmp / "kairos.db", port=port, workers=2, **options)
    server = ServerThread(config)
    server.start()
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server(tmp_path_factory.mktemp("client-server"))
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server(tmp_path_factory.mktemp("client-keyed"), api_keys={API_KEY: "org_client"})
    yield thread
    thread.stop()


@pytest.fixture
def proxy(server: ServerThread) -> Iterator[FaultProxy]:
    assert server.port is not None
    fault = FaultProxy(server.port)
    fault.start()
    yield fault
    fault.stop()
