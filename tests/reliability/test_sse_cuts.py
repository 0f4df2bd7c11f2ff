"""A 100 000-tick SSE subscription (tRPC's ``httpSubscriptionLink`` wire) through a fault proxy
that cuts the connection every N events, in the middle of the next one, against a real
``kairos serve``. The consumer resumes as EventSource does, with ``Last-Event-ID``; the steps it
receives must be the engine's trace, each exactly once (hash-checked)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kairos._trpc.sse import SSEParser
from kairos.client import KairosClient
from tests.client.faults import FaultProxy
from tests.reliability.conftest import (
    ServeFactory,
    TraceHasher,
    engine_sha256,
    reliability_scenario,
)


class SSECutProxy(FaultProxy):
    """Pipes HTTP, but resets a connection once the server has sent ``every`` complete SSE events
    on it and a piece of the next one (so the client also sees half an event)."""

    def __init__(self, upstream_port: int, every: int) -> None:
        super().__init__(upstream_port)
        self.every = every
        self.sse_cuts = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.add(up_writer)

        async def upstream() -> None:
            with contextlib.suppress(OSError):
                while chunk := await reader.read(65536):
                    up_writer.write(chunk)
                    await up_writer.drain()

        async def downstream() -> None:
            # Our events end with "\n\n\n" (tRPC's framing); each is one HTTP chunk.
            events, tail, cutting = 0, b"", False
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await up_reader.read(4096):
                    if cutting:
                        writer.write(chunk[: len(chunk) // 2])  # half of what follows
                        await writer.drain()
                        self.sse_cuts += 1
                        return
                    window = tail + chunk
                    count = window.count(b"\n\n\n") - tail.count(b"\n\n\n")
                    events += count
                    tail = window[-2:]
                    writer.write(chunk)
                    await writer.drain()
                    if events >= self.every:
                        cutting = True

        try:
            await asyncio.wait(
                [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for end in (writer, up_writer):
                self._writers.discard(end)
                with contextlib.suppress(Exception):
                    end.transport.abort()


@pytest.fixture
def cut_proxy(serve: ServeFactory) -> Iterator[tuple[Any, SSECutProxy]]:
    server = serve("--workers", "2", "--rate-limit", "0", "--sse-ping", "0.5")
    proxy = SSECutProxy(server.port, every=25)
    proxy.start()
    try:
        yield server, proxy
    finally:
        proxy.stop()


def consume(url: str, simulation_id: str, hasher: TraceHasher) -> dict[str, int]:
    """Follow the subscription to its ``return`` event, reconnecting with ``Last-Event-ID`` after
    every cut, as EventSource does (and as tRPC's client relies on)."""
    figures = {"connections": 0, "events": 0, "pings": 0, "reconnects": 0}
    last_id: str | None = None
    params = {"input": json.dumps({"id": simulation_id})}
    with httpx.Client(timeout=60) as http:
        while True:
            figures["connections"] += 1
            headers = {"accept": "text/event-stream"}
            if last_id is not None:
                headers["last-event-id"] = last_id
            parser = SSEParser(last_event_id=last_id or "")
            try:
                with http.stream(
                    "GET", f"{url}/trpc/simulation.stream", params=params, headers=headers
                ) as response:
                    assert response.status_code == 200
                    assert response.headers["content-type"] == "text/event-stream"
                    for piece in response.iter_raw():
                        for event in parser.feed(piece):
                            if event.event == "return":
                                return figures
                            if event.event == "ping":
                                figures["pings"] += 1
                            elif event.event == "serialized-error":
                                pytest.fail(f"the stream failed: {event.data}")
                            elif event.event == "message":
                                figures["events"] += 1
                                for step in json.loads(event.data)["steps"]:
                                    hasher.add(step)
                                assert event.id == str(hasher.count), "id = last tick sent"
                                last_id = event.id
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass
            figures["reconnects"] += 1
            assert figures["reconnects"] < 10_000, "no progress"


def test_sse_stream_of_100k_ticks_cut_every_25_events_arrives_exactly_once(
    cut_proxy: tuple[Any, SSECutProxy],
) -> None:
    server, proxy = cut_proxy
    name, seed, ticks = "sse-cut-every", 41, 100_000
    scenario = reliability_scenario(name, seed).to_wire()
    created = httpx.post(
        f"{server.url}/trpc/simulation.create",
        json={"scenario": scenario, "ticks": ticks, "engineVersion": "1.4.4"},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    simulation_id = created.json()["result"]["data"]["id"]
    hasher = TraceHasher()
    started = time.monotonic()
    figures = consume(proxy.start_url, simulation_id, hasher)
    elapsed = time.monotonic() - started
    print(
        f"\nSSE {ticks} ticks: {elapsed:.1f} s, {figures['events']} events, "
        f"{proxy.sse_cuts} cuts, {figures['connections']} connections, {figures['pings']} pings"
    )
    assert proxy.sse_cuts >= 5, "the stream was not cut often enough to test anything"
    assert hasher.out_of_order == []
    assert hasher.count == ticks
    assert hasher.hexdigest() == engine_sha256(name, seed, ticks)


def test_sdk_sse_stream_of_100k_ticks_cut_every_25_events_arrives_exactly_once(
    cut_proxy: tuple[Any, SSECutProxy],
) -> None:
    """The same cuts under ``KairosClient(stream_transport="sse")``: its SSE driver resumes with
    ``Last-Event-ID`` (the subscription machine's one tracked id) after every cut."""
    _, proxy = cut_proxy
    name, seed, ticks = "sdk-sse-cut-every", 43, 100_000
    hasher = TraceHasher()
    with KairosClient(
        proxy.start_url, stream_transport="sse", max_retries=5, retry_backoff=0.05
    ) as client:
        for step in client.stream_run(
            reliability_scenario(name, seed), ticks, engine_version="1.4.4"
        ):
            hasher.add(step)
    assert proxy.sse_cuts >= 5, "the stream was not cut often enough to test anything"
    assert hasher.out_of_order == []
    assert hasher.count == ticks
    assert hasher.hexdigest() == engine_sha256(name, seed, ticks)
