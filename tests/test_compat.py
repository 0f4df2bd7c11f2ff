"""The fast path a new install must get right, marked ``compat``: scripts/compat runs these on the
lowest allowed versions of the direct dependencies, and on the oldest and newest Python of the
machine with the newest versions (the server subclasses uvicorn internals). They also run in the
full suite. Only core dependencies and pytest are assumed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos import KairosClient, engine
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.server import ServerConfig, ServerThread
from kairos.trace import LazyTrace, Trace, TraceMetadata

pytestmark = pytest.mark.compat

TICKS = 60


def scenario() -> AISafetyScenario:
    return (
        AISafetyScenario("compat", seed=5)
        .add_model(name="model", capability_index=520, alignment_score=60, guardrail_coverage=50)
        .add_oversight_body(name="board", guardrail_strength=60, response_latency=3)
        .add_event(20, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.4)
    )


def expected(version: str) -> Trace:
    wire = scenario().to_wire()
    steps = engine.run(wire, TICKS, version)
    return Trace.from_steps(steps, TraceMetadata(version, wire["seed"], wire["name"], TICKS, None))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = ServerConfig(
        db_path=tmp_path_factory.mktemp("compat") / "kairos.db",
        port=0,
        workers=1,
        rate_limit=None,
        header_timeout_seconds=1,
    )
    thread = ServerThread(config)
    thread.start()
    yield thread
    thread.stop()


def test_embedded_run_and_streams_equal_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIROS_URL", raising=False)
    monkeypatch.delenv("KAIROS_API_KEY", raising=False)
    with KairosClient() as client:
        trace = client.run(scenario(), ticks=TICKS)
        want = expected(trace.metadata.engine_version)
        assert trace.sha256() == want.sha256()
        streamed = list(client.stream_run(scenario(), ticks=TICKS))
        assert Trace(streamed, want.metadata).sha256() == want.sha256()

        async def collect() -> list[Any]:
            return [step async for step in client.astream_run(scenario(), ticks=TICKS)]

        assert Trace(asyncio.run(collect()), want.metadata).sha256() == want.sha256()


def test_a_served_run_over_http_and_websocket(server: ServerThread, tmp_path: Path) -> None:
    with KairosClient(server.url) as client:
        trace = client.run(scenario(), ticks=TICKS, out=tmp_path / "t.jsonl")
        assert isinstance(trace, LazyTrace)
        want = expected(trace.metadata.engine_version)
        assert trace.sha256() == want.sha256()
        record = client.simulation.get(id=trace.metadata.simulation_id or "")
        assert record.status == "completed" and record.summary is not None
        assert record.summary.mean_stability == want.mean_stability()
        steps = list(client.simulation.stream(id=record.id))
        assert [s.t for chunk in steps for s in chunk.steps] == list(range(1, TICKS + 1))


def test_the_guarded_protocol_answers_bad_requests_and_closes_idle_headers(
    server: ServerThread,
) -> None:
    # server/_header_timeout.py subclasses uvicorn's HTTP protocols; these are its two behaviours.
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=30) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert json.loads(body)["error"]["data"]["code"] == "BAD_REQUEST"
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=30) as sock:
        sock.sendall(b"GET /trpc/engine.versions HTTP/1.1\r\nhost: x\r\n")
        assert sock.recv(1) == b"", "a connection with incomplete headers stayed open"


def test_cli_run_stream_and_versions(server: ServerThread, tmp_path: Path) -> None:
    # Against the module's server: the embedded start is the first test's (a subprocess each
    # would only repeat it, slowly).
    source = tmp_path / "scenario.json"
    scenario().to_json(source)
    kairos = [sys.executable, "-m", "kairos"]

    def call(*args: str) -> str:
        result = subprocess.run(
            [*kairos, *args], cwd=tmp_path, capture_output=True, text=True, env=clean_env()
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    url = ("--url", server.url)
    call("run", str(source), "--ticks", str(TICKS), "--out", str(tmp_path / "run.jsonl"), *url)
    trace = LazyTrace.open(tmp_path / "run.jsonl")
    assert trace.sha256() == expected(trace.metadata.engine_version).sha256()
    lines = call("stream", str(source), "--ticks", str(TICKS), *url).splitlines()
    assert len([line for line in lines if line.startswith("{")]) == TICKS
    assert engine.engine_versions()["default"] in call("versions")
