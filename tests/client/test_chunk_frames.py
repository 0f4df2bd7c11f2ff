"""The one-call chunk decoder (issue 14): a trace chunk parsed and validated straight from a
WebSocket frame's bytes gives the same steps, and the same trace bytes and hash, as the general
path (``json.loads`` then ``TraceChunk.model_validate``); any other frame is left to the
general decoder."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from kairos.client._chunk_frames import decode_chunk_frame
from kairos.client._gc_paused import gc_paused
from kairos.server import ServerThread
from kairos.trace import Trace, TraceMetadata
from kairos_api import TraceChunk

from .conftest import scenario

TICKS = 1_500


async def frames_of(url: str, simulation_id: str) -> list[bytes]:
    """Every frame of a stream from the real server, as received."""
    frames: list[bytes] = []
    async with connect(url.replace("http://", "ws://") + "/trpc", max_size=None) as ws:
        params = {"path": "simulation.stream", "input": {"id": simulation_id}}
        await ws.send(json.dumps({"id": 1, "method": "subscription", "params": params}))
        async for message in ws:
            frame = message.encode() if isinstance(message, str) else message
            frames.append(frame)
            if json.loads(frame).get("result", {}).get("type") == "stopped":
                break
    return frames


@pytest.fixture(scope="module")
def frames(server: ServerThread) -> list[bytes]:
    source = scenario("frames", seed=11, capability=900)  # with a basin loss
    wire = source.to_wire()
    wire["oversightBodies"] = [{"name": "board", "guardrailStrength": 40, "responseLatency": 50}]
    created = httpx.post(
        server.url + "/trpc/simulation.create", json={"scenario": wire, "ticks": TICKS}
    )
    simulation_id = created.json()["result"]["data"]["id"]
    return asyncio.run(frames_of(server.url, simulation_id))


def general(frame: bytes) -> TraceChunk | None:
    result: dict[str, Any] = json.loads(frame).get("result", {})
    if result.get("type") != "data":
        return None
    return TraceChunk.model_validate(result["data"]["data"])


def test_chunks_decode_as_the_general_path_does(frames: list[bytes], tmp_path: Path) -> None:
    fast_steps, general_steps = [], []
    for frame in frames:
        expected = general(frame)
        decoded = decode_chunk_frame(frame)
        if expected is None:
            assert decoded is None
            continue
        assert decoded is not None
        assert decoded.chunk == expected
        assert decoded.tracked_id == str(expected.steps[-1].t) and decoded.request_id == 1
        fast_steps += decoded.chunk.steps
        general_steps += expected.steps
    assert len(fast_steps) == TICKS
    metadata = TraceMetadata("1.5.0", 11, "frames", TICKS, None)
    fast, slow = Trace(fast_steps, metadata), Trace(general_steps, metadata)
    assert fast.sha256() == slow.sha256()
    fast.to_jsonl(tmp_path / "fast.jsonl")
    slow.to_jsonl(tmp_path / "general.jsonl")
    assert (tmp_path / "fast.jsonl").read_bytes() == (tmp_path / "general.jsonl").read_bytes()
    assert fast.basin_losses() == slow.basin_losses() != []


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":1,"result":{"type":"started"}}',
        b'{"id":1,"result":{"type":"stopped"}}',
        b'{"id":1,"error":{"code":-32603,"message":"boom","data":{"code":"INTERNAL_SERVER_ERROR"}}}',
        b'{"id":1,"result":{"type":"data","data":{"steps":[]}}}',  # not tracked
        b'{"id":true,"result":{"type":"data","id":"1","data":{"id":"1","data":{"steps":[]}}}}',
        b'{"id":1,"result":{"type":"data","id":"2","data":{"id":"1","data":{"steps":[]}}}}',
        b'{"id":1,"result":{"type":"data","id":"1","data":{"id":"1","data":{"steps":[]}}}}',
        b"not json",
    ],
)
def test_other_frames_are_left_to_the_general_decoder(frame: bytes) -> None:
    assert decode_chunk_frame(frame) is None


def test_a_step_that_breaks_the_schema_is_left_to_the_general_decoder(frames: list[bytes]) -> None:
    data = next(f for f in frames if general(f) is not None)
    message = json.loads(data)
    message["result"]["data"]["data"]["steps"][0]["surprise"] = 1  # TraceStep forbids extras
    assert decode_chunk_frame(json.dumps(message)) is None
    message["result"]["data"]["data"]["steps"][0].pop("surprise")
    message["result"]["data"]["data"]["steps"][0]["stability"] = 1.5  # out of range
    assert decode_chunk_frame(json.dumps(message).encode()) is None


def test_a_validated_chunk_is_cut_at_the_resume_point_as_wire_json_is(
    frames: list[bytes],
) -> None:
    # The WebSocket driver hands the machine validated chunks: the exactly-once check must cut a
    # chunk that straddles the resume point exactly as it cuts the wire form.
    from kairos._trpc.resume import Deliver, Gap, check_chunk

    chunks = [f for f in frames if decode_chunk_frame(f) is not None]
    frame = chunks[1]  # not the first: a resume point before it is a gap
    decoded = decode_chunk_frame(frame)
    assert decoded is not None
    wire = json.loads(frame)["result"]["data"]["data"]
    first, last = wire["steps"][0]["t"], wire["steps"][-1]["t"]
    middle = str((first + last) // 2)
    for resume in (str(first - 1), middle, str(last)):
        from_wire = check_chunk(wire, str(last), resume)
        from_model = check_chunk(decoded.chunk, str(last), resume)
        assert isinstance(from_wire, Deliver) and isinstance(from_model, Deliver)
        if from_wire.data is None:
            assert from_model.data is None
        else:
            assert isinstance(from_model.data, TraceChunk)
            assert from_model.data == TraceChunk.model_validate(from_wire.data)
    assert first > 2
    gap = check_chunk(decoded.chunk, str(last), str(first - 2))
    assert isinstance(gap, Gap) and gap == check_chunk(wire, str(last), str(first - 2))


def test_the_websocket_driver_decodes_chunks_in_one_call(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spy on the real decoder, over a real server: every chunk of a run takes the one-call
    # path, and the trace is the engine's.
    from kairos import KairosClient, engine
    from kairos.client import _ws_connection

    decoded: list[int] = []
    real = _ws_connection.decode_chunk_frame

    def spy(frame: str | bytes) -> Any:
        result = real(frame)
        if result is not None:
            decoded.append(len(result.chunk.steps))
        return result

    monkeypatch.setattr(_ws_connection, "decode_chunk_frame", spy)
    wire = scenario().to_wire()
    with KairosClient(url=server.url) as client:
        trace = client.run(wire, ticks=TICKS)
    assert sum(decoded) >= TICKS
    assert trace.sha256() == engine.trace_sha256(engine.run(wire, TICKS))


@contextlib.contextmanager
def collections_counted() -> Iterator[list[int]]:
    """The generations of the cyclic collections that start inside the block."""
    started: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.collect()
    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)


def test_the_collector_stays_off_while_a_chunk_is_validated(frames: list[bytes]) -> None:
    """A chunk's thousands of new objects set the cyclic collector off several times during
    its validation (in a replay that cost more than the validation itself); the decoder
    pauses it, so at most the one collection due after the call runs."""
    chunks = [f for f in frames if b'"steps"' in f]
    assert gc.isenabled()
    with collections_counted() as unpaused:
        for frame in chunks:
            TraceChunk.model_validate(json.loads(frame)["result"]["data"]["data"])
    with collections_counted() as paused:
        for frame in chunks:
            assert decode_chunk_frame(frame) is not None
    assert len(unpaused) > len(chunks), "the test's chunks must be big enough to matter"
    assert len(paused) <= len(chunks), paused


def test_the_decoder_leaves_the_collector_as_it_found_it(frames: list[bytes]) -> None:
    chunk = next(f for f in frames if b'"steps"' in f)
    broken = chunk.replace(b'"stability":', b'"stability":"x","was":', 1)
    for enabled in (False, True):
        if not enabled:
            gc.disable()
        try:
            assert decode_chunk_frame(chunk) is not None
            assert gc.isenabled() is enabled
            assert decode_chunk_frame(broken) is None
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()
