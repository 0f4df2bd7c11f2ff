"""tRPC over WebSocket against a real server: frames, subscriptions, resume, limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from kairos import engine
from kairos.server import ServerThread
from tests.server.conftest import EXECUTORS, SCENARIO, Wire


class Socket:
    """A raw tRPC WebSocket client: JSON frames in, JSON frames out."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: Any) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 30) -> Any:
        frame = await asyncio.wait_for(self.connection.recv(), timeout)
        return frame if frame in ("PING", "PONG") else json.loads(frame)

    async def until(self, id: int, kind: str) -> list[Any]:
        """Frames for request ``id`` up to and including the first of ``kind``."""
        frames = []
        while True:
            frame = await self.recv()
            if frame.get("id") != id:
                continue
            frames.append(frame)
            if kind in frame or frame.get("result", {}).get("type") == kind:
                return frames


def connect(url: str, **kwargs: Any) -> Any:
    return websockets.connect(url, max_size=None, **kwargs)


def subscribe(id: int, simulation_id: str, last_event_id: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"path": "simulation.stream", "input": {"id": simulation_id}}
    if last_event_id is not None:
        params["lastEventId"] = last_event_id
    return {"id": id, "method": "subscription", "params": params}


def ticks_of(frames: list[Any]) -> list[int]:
    out = []
    for frame in frames:
        result = frame.get("result", {})
        if result.get("type") == "data":
            assert result["id"] == result["data"]["id"]
            steps = result["data"]["data"]["steps"]
            assert result["id"] == str(steps[-1]["t"]), "events are tracked by their last tick"
            out += [step["t"] for step in steps]
    return out


async def test_query_and_mutation_over_the_socket(wire: Wire) -> None:
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        await ws.send({"id": 1, "method": "query", "params": {"path": "engine.versions"}})
        (reply,) = await ws.until(1, "data")
        assert reply == {"id": 1, "result": {"type": "data", "data": engine.engine_versions()}}
        create = {"scenario": SCENARIO, "ticks": 10}
        await ws.send(
            {
                "id": 2,
                "method": "mutation",
                "params": {"path": "simulation.create", "input": create},
            }
        )
        (created,) = await ws.until(2, "data")
        assert created["result"]["data"]["id"].startswith("sim_")
        await ws.send(
            {
                "id": "x",
                "method": "query",
                "params": {"path": "simulation.get", "input": {"id": "nope"}},
            }
        )
        (missing,) = await ws.until("x", "error")
        assert missing["error"]["data"]["code"] == "NOT_FOUND"
        await ws.send({"id": 3, "method": "mutation", "params": {"path": "engine.versions"}})
        (wrong_kind,) = await ws.until(3, "error")
        assert wrong_kind["error"]["message"] == 'No "mutation"-procedure on path "engine.versions"'


@EXECUTORS
async def test_stream_every_tick_once_then_resume(wire: Wire) -> None:
    record = wire.wait(wire.create(ticks=1000)["id"])
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        await ws.send(subscribe(1, record["id"]))
        frames = await ws.until(1, "stopped")
        assert frames[0]["result"] == {"type": "started"}
        ticks = ticks_of(frames)
        assert ticks == list(range(1, 1001))
        steps = [
            s
            for f in frames
            if f["result"]["type"] == "data"
            for s in f["result"]["data"]["data"]["steps"]
        ]
        assert engine.trace_sha256(steps) == engine.trace_sha256(engine.run(SCENARIO, 1000))

        await ws.send(subscribe(2, record["id"], last_event_id="637"))
        assert ticks_of(await ws.until(2, "stopped")) == list(range(638, 1001))


@EXECUTORS
async def test_stream_follows_a_running_simulation(wire: Wire) -> None:
    record = wire.create(ticks=30_000)
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        await ws.send(subscribe(1, record["id"]))
        frames = await ws.until(1, "stopped")
    assert ticks_of(frames) == list(range(1, 30_001))
    assert len([f for f in frames if f["result"]["type"] == "data"]) > 1


async def test_stop_duplicate_ids_and_the_subscription_limit(
    wire: Wire, server: ServerThread
) -> None:
    record = wire.create(ticks=1_000_000)
    try:
        async with connect(wire.ws_url) as raw:
            ws = Socket(raw)
            await ws.send(subscribe(1, record["id"]))
            await ws.until(1, "started")
            await ws.send(subscribe(1, record["id"]))
            duplicate = await ws.until(1, "error")
            assert duplicate[-1]["error"]["message"] == "Duplicate id 1"
            await ws.send({"id": 1, "method": "subscription.stop"})
            await ws.until(1, "stopped")
            await ws.send({"id": 99, "method": "subscription.stop"})  # unknown: ignored
            limit = server.config.max_subscriptions_per_connection
            for n in range(100, 100 + limit):
                await ws.send(subscribe(n, record["id"]))
            await ws.send(subscribe(9999, record["id"]))
            refused = await ws.until(9999, "error")
            assert (
                refused[-1]["error"]["data"]["kairos"]["limit"]
                == "max_subscriptions_per_connection"
            )
    finally:
        wire.mutate("simulation.cancel", {"id": record["id"]})


async def test_malformed_frames_get_id_null_parse_errors_and_the_socket_stays(wire: Wire) -> None:
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        cases = {
            "{oops": None,
            "42": "Not an object",
            json.dumps({"id": 1, "method": "explode", "params": {}}): "Invalid procedure type",
            json.dumps(
                {"id": [1], "method": "query", "params": {"path": "x"}}
            ): "Invalid request id",
            json.dumps({"id": 1, "method": "query"}): "Not an object",
            json.dumps(
                [{"id": 5, "method": "query", "params": {"path": "engine.versions"}}, 7]
            ): "Not an object",
        }
        for frame, message in cases.items():
            await ws.send(frame)
            reply = await ws.recv()
            assert reply["id"] is None
            assert reply["error"]["code"] == -32700
            assert reply["error"]["data"]["code"] == "PARSE_ERROR"
            if message is not None:
                assert reply["error"]["message"] == message
        await ws.send("PING")
        assert await ws.recv() == "PONG"
        await ws.send({"id": 6, "method": "query", "params": {"path": "domain.list"}})
        assert (await ws.until(6, "data"))[0]["result"]["data"] == engine.domain_info()


async def test_an_oversized_message_is_refused_without_closing(wire: Wire) -> None:
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        await ws.send(
            json.dumps(
                {"id": 1, "method": "query", "params": {"path": "x", "input": "y" * (1 << 21)}}
            )
        )
        reply = await ws.recv()
        assert reply["id"] is None and reply["error"]["data"]["code"] == "PAYLOAD_TOO_LARGE"
        await ws.send({"id": 2, "method": "query", "params": {"path": "engine.versions"}})
        assert (await ws.until(2, "data"))[0]["result"]["type"] == "data"


@EXECUTORS
async def test_streaming_a_failed_or_cancelled_run_ends_with_a_typed_error(wire: Wire) -> None:
    record = wire.create(ticks=1_000_000)
    wire.mutate("simulation.cancel", {"id": record["id"]})
    async with connect(wire.ws_url) as raw:
        ws = Socket(raw)
        await ws.send(subscribe(1, record["id"]))
        frames = await ws.until(1, "stopped")
    error = next(f for f in frames if "error" in f)["error"]
    assert error["data"]["kairos"] == {
        "kind": "simulation",
        "simulationId": record["id"],
        "reason": "cancelled",
    }


@pytest.mark.parametrize("how", ["connection_params", "header"])
async def test_api_keys_on_the_socket(keyed_server: ServerThread, how: str) -> None:
    url = keyed_server.url.replace("http://", "ws://") + "/trpc"
    if how == "connection_params":
        context = connect(url + "?connectionParams=1")
    else:
        context = connect(url, additional_headers={"authorization": "Bearer krs_alpha"})
    async with context as raw:
        ws = Socket(raw)
        if how == "connection_params":
            await ws.send(
                {"method": "connectionParams", "data": {"authorization": "Bearer krs_alpha"}}
            )
        await ws.send({"id": 1, "method": "query", "params": {"path": "engine.versions"}})
        assert (await ws.until(1, "data"))[0]["result"]["type"] == "data"


async def test_a_bad_key_on_the_socket_is_refused_and_closed(keyed_server: ServerThread) -> None:
    url = keyed_server.url.replace("http://", "ws://") + "/trpc?connectionParams=1"
    async with connect(url) as raw:
        ws = Socket(raw)
        await ws.send({"method": "connectionParams", "data": {"authorization": "Bearer krs_wrong"}})
        reply = await ws.recv()
        assert reply["id"] is None and reply["error"]["data"]["code"] == "UNAUTHORIZED"
        assert "krs_wrong" not in json.dumps(reply)
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv(timeout=5)
