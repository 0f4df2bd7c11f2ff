"""The streaming content types on the wire, ``kairos serve`` against the official @trpc/server
11.25.2 fixture (``tests/node/fixture_server.mjs``, set up with the same SSE options and chunk
size): identical raw requests for SSE subscriptions (``text/event-stream``) and streamed batches
(``trpc-accept: application/jsonl``) get the same status, headers, events, ids and lines, with
the messages the applications choose themselves, their data and the KAIROS additions masked."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from kairos._trpc.jsonl import decode_jsonl_batch
from kairos._trpc.sse import SSEParser
from tests._node import KairosServe, NodeFixtureServer, node_tools

pytestmark = pytest.mark.node

FIXTURE_ENV = {
    "FIXTURE_SSE_RECONNECT_MS": "20000",  # kairos serve's defaults
    "FIXTURE_SSE_PING_MS": "5000",
    "FIXTURE_CHUNK": "256",
}
SCENARIO = {
    "name": "fixture streams",
    "domain": "ai_safety",
    "seed": 7,
    "models": [
        {"name": "model", "capabilityIndex": 400, "alignmentScore": 70, "guardrailCoverage": 60}
    ],
    "events": [],
}


@pytest.fixture(scope="module")
def official() -> Iterator[NodeFixtureServer]:
    node_tools()
    with tempfile.TemporaryDirectory(prefix="trpc-fixture-streams-") as tmp:
        server = NodeFixtureServer(Path(tmp), env=FIXTURE_ENV)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    server = KairosServe(tmp_path_factory.mktemp("serve"), "--workers", "1", "--rate-limit", "0")
    try:
        yield server
    finally:
        server.stop()


def enc(value: Any) -> str:
    return quote(json.dumps(value, separators=(",", ":")))


def mask_shape(shape: Any, mask_message: bool) -> Any:
    shape = dict(shape)
    shape["data"] = {
        k: v for k, v in shape.get("data", {}).items() if k not in ("requestId", "kairos")
    }
    if mask_message:
        shape["message"] = "<message>"
    return shape


def sse_exchange(
    base: str, method: str, target: str, headers: dict[str, str], mask_message: bool
) -> Any:
    body = json.dumps({"id": "x"}).encode() if method == "POST" else None
    with httpx.stream(method, base + target, headers=headers, content=body, timeout=30) as response:
        raw = response.read()
    kept = ("content-type", "cache-control", "x-accel-buffering", "vary")
    head = (response.status_code, {k: response.headers.get(k) for k in kept})
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        # a request-level error: tRPC sends it as text/plain, we as JSON (docs/server.md)
        head[1]["content-type"] = None
        return head, json.loads(raw)
    events = []
    for event in SSEParser().feed(raw):
        data: Any = event.data
        if event.event == "serialized-error":
            data = mask_shape(json.loads(data), mask_message)
        elif event.event == "message":
            data = sorted(json.loads(data))  # the fixture's steps are fakes: keys only
        if event.event == "message" and events and events[-1][0] == "message":
            # Where a stored chunk ends depends on time as well as count (a slow moment ends one
            # early), so consecutive messages compare as one: the ids of the last tick and the
            # keys of the steps; tests/server/test_sse.py holds each id to its event's last tick.
            events[-1] = (event.event, event.id, data)
            continue
        events.append((event.event, event.id, data))
    return head, events


def create(base: str, ticks: int) -> str:
    response = httpx.post(
        base + "/trpc/simulation.create", json={"scenario": SCENARIO, "ticks": ticks}, timeout=30
    )
    assert response.status_code == 200, response.text
    simulation_id: str = response.json()["result"]["data"]["id"]
    return simulation_id


def wait(base: str, simulation_id: str) -> None:
    for _ in range(3000):
        record = httpx.get(
            base + "/trpc/simulation.get", params={"input": json.dumps({"id": simulation_id})}
        ).json()["result"]["data"]
        if record["status"] == "completed":
            return
        time.sleep(0.02)
    pytest.fail(f"{simulation_id} did not complete")


# (name, method, target (with {id} for a completed 600-tick run), headers, mask the message)
SSE_CASES: list[tuple[str, str, str, dict[str, str], bool]] = [
    ("stream", "GET", "/trpc/simulation.stream?input={input}", {}, False),
    (
        "resumed by Last-Event-ID",
        "GET",
        "/trpc/simulation.stream?input={input}",
        {"last-event-id": "256"},
        False,
    ),
    (
        "resumed by the lastEventId query",
        "GET",
        "/trpc/simulation.stream?input={input}&lastEventId=512",
        {},
        False,
    ),
    ("unknown id", "GET", f"/trpc/simulation.stream?input={enc({'id': 'nope'})}", {}, True),
    ("bad input", "GET", f"/trpc/simulation.stream?input={enc({'id': 5})}", {}, True),
    (
        "POST to a subscription",
        "POST",
        "/trpc/simulation.stream",
        {"content-type": "application/json"},
        False,
    ),
    (
        "bad connectionParams",
        "GET",
        "/trpc/simulation.stream?connectionParams=%5B1%5D",
        {},
        False,
    ),
]


@pytest.mark.parametrize("case", SSE_CASES, ids=[c[0] for c in SSE_CASES])
def test_same_sse_wire_as_trpc(
    case: tuple[str, str, str, dict[str, str], bool],
    official: NodeFixtureServer,
    ours: KairosServe,
) -> None:
    _name, method, target, headers, mask = case
    answers = []
    for base in (official.url, ours.url):
        simulation_id = create(base, 600)
        wait(base, simulation_id)
        path = target.replace("{input}", enc({"id": simulation_id}))
        answers.append(sse_exchange(base, method, path, headers, mask))
    assert json.dumps(answers[1]) == json.dumps(answers[0]), (
        f"{method} {target}\n@trpc/server: {json.dumps(answers[0])}\n"
        f"kairos serve: {json.dumps(answers[1])}"
    )


JSONL = {"trpc-accept": "application/jsonl"}
MIXED_INPUT = enc({"1": {"id": "nope"}, "2": {"id": 5}})
MIXED = f"/trpc/engine.versions,simulation.get,simulation.get?batch=1&input={MIXED_INPUT}"
JSONL_CASES: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
    ("mixed batch", "GET", MIXED, JSONL, None),
    ("mixed batch, accept header", "GET", MIXED, {"accept": "application/jsonl"}, None),
    (
        "mutations",
        "POST",
        "/trpc/simulation.create,simulation.create?batch=1",
        {**JSONL, "content-type": "application/json"},
        json.dumps({"0": {"scenario": SCENARIO, "ticks": 5}, "1": {"ticks": 5}}).encode(),
    ),
    ("not batched", "GET", "/trpc/engine.versions", JSONL, None),
    (
        "mixed kinds",
        "POST",
        "/trpc/engine.versions,simulation.create?batch=1",
        {**JSONL, "content-type": "application/json"},
        b"{}",
    ),
]


def jsonl_exchange(
    base: str, method: str, target: str, headers: dict[str, str], body: bytes | None
) -> Any:
    response = httpx.request(method, base + target, headers=headers, content=body, timeout=30)
    head = (response.status_code, response.headers.get("content-type"), response.headers["vary"])
    if response.status_code != 200:
        # a request-level error: tRPC sends it as text/plain, we as JSON (docs/server.md)
        return (head[0], head[2]), mask_shape(response.json()["error"], False)
    lines = response.text.splitlines()
    calls = decode_jsonl_batch(lines)
    masked = {}
    for index, envelope in sorted(calls.items()):
        assert isinstance(envelope, dict)
        if "error" in envelope:
            masked[index] = {"error": mask_shape(envelope["error"], True)}
        else:
            masked[index] = {"result": sorted(envelope["result"])}
    return head, json.loads(lines[0]), len(lines), masked


@pytest.mark.parametrize("case", JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_same_jsonl_wire_as_trpc(
    case: tuple[str, str, str, dict[str, str], bytes | None],
    official: NodeFixtureServer,
    ours: KairosServe,
) -> None:
    _name, method, target, headers, body = case
    expected = jsonl_exchange(official.url, method, target, headers, body)
    actual = jsonl_exchange(ours.url, method, target, headers, body)
    assert json.dumps(actual) == json.dumps(expected), (
        f"{method} {target}\n@trpc/server: {json.dumps(expected)}\n"
        f"kairos serve: {json.dumps(actual)}"
    )
