"""Streams that survive: killed sockets, graceful server restarts, silent streams, sharing."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest
from websockets.asyncio.server import ServerConnection, serve

from kairos.client import KairosClient
from kairos.errors import APIConnectionError, APITimeoutError
from kairos.server import ServerThread
from kairos_api import TraceStep

from .conftest import expected_trace, scenario, start_server
from .faults import FaultProxy

TICKS = 60_000  # long enough that the stream is still live when the socket is cut


def assert_exact(steps: list[TraceStep], name: str, seed: int, ticks: int) -> None:
    expected = expected_trace(scenario(name, seed), ticks, "1.4.4", None)
    assert len(steps) == ticks
    assert tuple(steps) == expected.steps or list(steps) == list(expected.steps)


def websocket_opens(proxy: FaultProxy) -> int:
    return sum(1 for sent in proxy.sent if b"upgrade: websocket" in bytes(sent).lower())


async def test_websocket_killed_mid_stream_async_every_tick_once(proxy: FaultProxy) -> None:
    steps: list[TraceStep] = []
    async with KairosClient(proxy.start_url, max_retries=5, retry_backoff=0.05) as client:
        async for step in client.astream_run(scenario("cut-a", 11), TICKS, engine_version="1.4.4"):
            steps.append(step)
            if step.t in (500, 30_000):
                proxy.cut()
    assert websocket_opens(proxy) >= 2  # the stream was resumed on a new socket
    assert_exact(steps, "cut-a", 11, TICKS)


def test_websocket_killed_mid_stream_sync_every_tick_once(proxy: FaultProxy) -> None:
    steps: list[TraceStep] = []
    with KairosClient(proxy.start_url, max_retries=5, retry_backoff=0.05) as client:
        for step in client.stream_run(scenario("cut-s", 12), TICKS, engine_version="1.4.4"):
            steps.append(step)
            if step.t in (500, 30_000):
                proxy.cut()
    assert websocket_opens(proxy) >= 2
    assert_exact(steps, "cut-s", 12, TICKS)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_reconnect_budget_spent_raises_api_connection_error(
    proxy: FaultProxy, use_async: bool
) -> None:
    steps: list[TraceStep] = []
    with (
        KairosClient(proxy.start_url, max_retries=2, retry_backoff=0.01) as client,
        pytest.raises(APIConnectionError) as info,
    ):
        if use_async:
            async for step in client.astream_run(scenario("budget", 3), TICKS):
                steps.append(step)
                if step.t == 300:
                    proxy.default = "reset"
                    proxy.cut()
        else:
            for step in client.stream_run(scenario("budget", 3), TICKS):
                steps.append(step)
                if step.t == 300:
                    proxy.default = "reset"
                    proxy.cut()
    assert type(info.value) is APIConnectionError  # typed, not a websockets exception
    assert 300 <= len(steps) < TICKS
    assert [s.t for s in steps] == list(range(1, len(steps) + 1))  # no hole, no repeat


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_server_reconnect_notification_moves_to_a_new_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    first = start_server(tmp_path, port=port)
    replacement: list[object] = []

    def restart() -> None:
        first.stop()  # graceful: every WebSocket client is told to reconnect
        replacement.append(start_server(tmp_path, port=port))

    steps: list[TraceStep] = []
    restarter: threading.Thread | None = None
    caplog.set_level(logging.INFO, logger="kairos")
    try:
        async with KairosClient(first.url, max_retries=10, retry_backoff=0.1) as client:
            async for step in client.astream_run(
                scenario("move", 5), TICKS, engine_version="1.4.4"
            ):
                steps.append(step)
                if step.t == 1000:
                    restarter = threading.Thread(target=restart)
                    restarter.start()
    finally:
        if restarter is not None:
            restarter.join()
        for server in replacement:
            server.stop()  # type: ignore[attr-defined]
        first.stop()
    assert any("server asked to reconnect" in r.getMessage() for r in caplog.records)
    assert_exact(steps, "move", 5, TICKS)


async def test_a_silent_stream_raises_api_timeout_error() -> None:
    async def silent(connection: ServerConnection) -> None:
        async for frame in connection:
            message = json.loads(frame)
            if message.get("method") == "subscription":
                await connection.send(
                    json.dumps({"id": message["id"], "result": {"type": "started"}})
                )

    async with serve(silent, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        client = KairosClient(f"http://127.0.0.1:{port}", stream_idle_timeout=0.3)
        try:
            stream: AsyncIterator[object] = client.simulation.astream(id="sim_silent")
            with pytest.raises(APITimeoutError) as info:
                async for _ in stream:
                    pass
            assert info.value.path == "simulation.stream"
        finally:
            await client.aclose()


async def test_concurrent_runs_share_one_websocket(proxy: FaultProxy) -> None:
    async with KairosClient(proxy.start_url) as client:
        traces = await asyncio.gather(
            *(client.arun(scenario(f"share-{i}", i), ticks=300) for i in range(20))
        )
    assert [len(t) for t in traces] == [300] * 20
    assert websocket_opens(proxy) == 1


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_stream_resumed_by_the_caller_starts_after_its_last_event_id(
    server: ServerThread, transport: Literal["ws", "sse"]
) -> None:
    # StreamInput(last_event_id=...) from the caller (as client.trace() waits for the end):
    # the first step is the one after it, on either transport, with no gap reported.
    with KairosClient(url=server.url, stream_transport=transport) as client:
        record = client.simulation.create(scenario=scenario().to_model(), ticks=600)
        ticks = [
            step.t
            for chunk in client.simulation.stream(id=record.id, last_event_id="450")
            for step in chunk.steps
        ]
    assert ticks == list(range(451, 601))
