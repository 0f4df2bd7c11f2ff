"""Streams over Server-Sent Events: chosen (``stream_transport="sse"``) or used when the WebSocket
upgrade is refused; the same guarantees as over WebSocket (every tick once across cuts, typed
errors, the idle timeout)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kairos.client import KairosClient
from kairos.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    ValidationError,
)
from kairos.server import ServerThread
from kairos_api import TraceStep

from .conftest import API_KEY, expected_trace, scenario
from .faults import FaultProxy
from .test_streams import TICKS, assert_exact, websocket_opens


def sse_requests(proxy: FaultProxy) -> int:
    return sum(1 for sent in proxy.sent if b"accept: text/event-stream" in bytes(sent).lower())


def test_sse_stream_cut_mid_stream_sync_every_tick_once(proxy: FaultProxy) -> None:
    steps: list[TraceStep] = []
    with KairosClient(
        proxy.start_url, max_retries=5, retry_backoff=0.05, stream_transport="sse"
    ) as client:
        for step in client.stream_run(scenario("sse-cut-s", 21), TICKS, engine_version="1.4.4"):
            steps.append(step)
            if step.t in (500, 30_000):
                proxy.cut()
    assert sse_requests(proxy) >= 3  # the stream was resumed twice, with Last-Event-ID
    assert sum(b"last-event-id:" in bytes(sent).lower() for sent in proxy.sent) >= 2
    assert websocket_opens(proxy) == 0
    assert_exact(steps, "sse-cut-s", 21, TICKS)


async def test_auto_falls_back_to_sse_when_the_upgrade_is_refused(proxy: FaultProxy) -> None:
    proxy.default = ("refuse_upgrade", 403)
    source = scenario("fallback", 22)
    async with KairosClient(proxy.start_url) as client:
        first = await client.arun(source, ticks=500, engine_version="1.4.4")
        second = await client.arun(source, ticks=500, engine_version="1.4.4")
    expected = expected_trace(source, 500, "1.4.4", None)
    assert list(first.steps) == list(second.steps) == list(expected.steps)
    assert websocket_opens(proxy) == 1  # refused once; the client then stays on SSE
    assert sse_requests(proxy) == 2


def test_ws_chosen_does_not_fall_back(proxy: FaultProxy) -> None:
    proxy.default = ("refuse_upgrade", 403)
    with (
        KairosClient(
            proxy.start_url, max_retries=1, retry_backoff=0.01, stream_transport="ws"
        ) as client,
        pytest.raises(APIConnectionError, match="Could not open the WebSocket"),
    ):
        client.run(scenario("no-fallback", 23), ticks=50)
    assert sse_requests(proxy) == 0


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_stream_error_is_typed_the_same_on_both_transports(
    server: ServerThread, transport: str
) -> None:
    with (
        KairosClient(server.url, stream_transport=transport) as client,  # type: ignore[arg-type]
        pytest.raises(NotFoundError) as info,
    ):
        list(client.simulation.stream(id="sim_missing"))
    assert info.value.code == "NOT_FOUND"
    assert info.value.path == "simulation.stream"


async def test_a_silent_sse_stream_raises_api_timeout_error() -> None:
    """The server only pings: the stream is alive, but no event comes."""

    async def pinging(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                b"event: connected\ndata: {}\n\n\n"
            )
            while True:
                writer.write(b"event: ping\ndata: \n\n\n")
                await writer.drain()
                await asyncio.sleep(0.05)

    server = await asyncio.start_server(pinging, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = KairosClient(
        f"http://127.0.0.1:{port}", stream_idle_timeout=0.3, stream_transport="sse"
    )
    try:
        stream: AsyncIterator[object] = client.simulation.astream(id="sim_silent")
        with pytest.raises(APITimeoutError) as info:
            async for _ in stream:
                pass
        assert info.value.path == "simulation.stream"
    finally:
        await client.aclose()
        server.close()


def test_stream_transport_is_checked() -> None:
    with pytest.raises(ValidationError) as info:
        KairosClient("http://127.0.0.1:9", stream_transport="smoke")  # type: ignore[arg-type]
    assert "stream_transport" in str(info.value)
    assert "'auto', 'ws', 'sse'" in str(info.value)


def test_sse_carries_the_api_key_and_a_wrong_key_is_typed(keyed_server: ServerThread) -> None:
    source = scenario("sse-keyed", 24)
    with KairosClient(keyed_server.url, api_key=API_KEY, stream_transport="sse") as client:
        trace = client.run(source, ticks=100, engine_version="1.4.4")
        simulation_id = trace.metadata.simulation_id
    assert list(trace.steps) == list(expected_trace(source, 100, "1.4.4", None).steps)
    assert simulation_id is not None
    with (
        KairosClient(
            keyed_server.url, api_key="krs_wrong_key_0123456789", stream_transport="sse"
        ) as stranger,
        pytest.raises(AuthenticationError),
    ):
        list(stranger.simulation.stream(id=simulation_id))
