"""The official-tRPC fixture server (``tests/node/fixture_server.mjs``, @trpc/server 11.25.2)
works, answers what the Python client's tests will expect, and speaks the same wire as
``kairos serve``: identical raw HTTP requests and WebSocket frames sent to both get the same
status and the same envelopes (messages the applications choose themselves masked, and the
KAIROS additions ``data.requestId``/``data.kairos`` left out)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests._node import KairosServe, NodeFixtureServer, trpc_fixture_server  # noqa: F401

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "kairos.schema.json").read_text())

SCENARIO = {
    "name": "fixture smoke",
    "domain": "ai_safety",
    "seed": 7,
    "models": [
        {"name": "model", "capabilityIndex": 400, "alignmentScore": 70, "guardrailCoverage": 60}
    ],
    "events": [],
}


def validator(definition: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        SCHEMA["$id"], Resource.from_contents(SCHEMA)
    )
    return Draft202012Validator({"$ref": f"{SCHEMA['$id']}#/$defs/{definition}"}, registry=registry)


@pytest.fixture(scope="module")
def kairos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    server = KairosServe(tmp_path_factory.mktemp("serve"), "--workers", "1", "--rate-limit", "0")
    try:
        yield server
    finally:
        server.stop()


def enc(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- the fixture on its own ---------------------------------------------------------------------


def test_fixture_http_answers(trpc_fixture_server: NodeFixtureServer) -> None:  # noqa: F811
    http = httpx.Client(base_url=trpc_fixture_server.trpc_url, timeout=10)
    versions = http.get("/engine.versions").json()["result"]["data"]
    assert versions["default"] == "1.4.4"
    validator("EngineVersions").validate(versions)

    created = http.post("/simulation.create", json={"scenario": SCENARIO, "ticks": 250})
    assert created.status_code == 200
    record = created.json()["result"]["data"]
    validator("Simulation").validate(record)
    again = http.post("/simulation.create", json={"scenario": SCENARIO, "ticks": 250})
    assert again.json()["result"]["data"] == record, "deterministic"
    got = http.get("/simulation.get", params={"input": enc({"id": record["id"]})})
    assert got.json() == {"result": {"data": record}}

    missing = http.get("/simulation.get", params={"input": enc({"id": "sim_nope"})})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "simulation 'sim_nope' not found",
            "code": -32004,
            "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "simulation.get"},
        }
    }
    boom = http.get("/boom")
    assert boom.status_code == 500
    assert boom.json()["error"]["message"] == "kaboom"
    assert boom.json()["error"]["data"]["code"] == "INTERNAL_SERVER_ERROR"

    who = http.get("/whoami", headers={"authorization": "Bearer krs_x"}).json()
    assert who["result"]["data"] == {
        "authorization": "Bearer krs_x",
        "source": "header",
        "connectionParams": None,
    }
    refused = http.get("/whoami", headers={"authorization": "Bearer krs_bad"})
    assert refused.status_code == 401
    assert refused.json()["error"]["data"] == {
        "code": "UNAUTHORIZED",
        "httpStatus": 401,
        "path": "whoami",
    }


def test_fixture_injected_errors(trpc_fixture_server: NodeFixtureServer) -> None:  # noqa: F811
    http = httpx.Client(base_url=trpc_fixture_server.trpc_url, timeout=10)
    name = f"inject:TOO_MANY_REQUESTS:2:{time.monotonic_ns()}"
    body = {"scenario": {**SCENARIO, "name": name}, "ticks": 5}
    for _ in range(2):
        limited = http.post("/simulation.create", json=body)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert limited.json()["error"]["data"]["kairos"] == {"kind": "rate_limit", "retryAfter": 1}
    assert http.post("/simulation.create", json=body).status_code == 200

    name = f"inject:SERVICE_UNAVAILABLE:1:{time.monotonic_ns()}"
    body = {"scenario": {**SCENARIO, "name": name}, "ticks": 5}
    unavailable = http.post("/simulation.create", json=body)
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == -32603
    assert http.post("/simulation.create", json=body).status_code == 200

    pinned = http.post(
        "/simulation.create", json={"scenario": SCENARIO, "ticks": 5, "engineVersion": "1.3.2"}
    )
    assert pinned.status_code == 412
    assert pinned.json()["error"]["data"]["kairos"] == {
        "kind": "engine_version",
        "requested": "1.3.2",
        "active": ["1.4.4", "1.5.0"],
    }
    key = f"idem-{time.monotonic_ns()}"
    assert http.post(
        "/simulation.create", json={"scenario": SCENARIO, "ticks": 5, "idempotencyKey": key}
    ).is_success
    conflict = http.post(
        "/simulation.create", json={"scenario": SCENARIO, "ticks": 6, "idempotencyKey": key}
    )
    assert conflict.status_code == 409


def recv(ws: Any, timeout: float = 5) -> Any:
    text = ws.recv(timeout=timeout)
    return text if text in ("PING", "PONG") else json.loads(text)


def test_fixture_ws_stream_tracked_and_resume(
    trpc_fixture_server: NodeFixtureServer,  # noqa: F811
) -> None:
    http = httpx.Client(base_url=trpc_fixture_server.trpc_url, timeout=10)
    record = http.post("/simulation.create", json={"scenario": SCENARIO, "ticks": 250}).json()
    sim_id = record["result"]["data"]["id"]
    step_validator = validator("TraceStep")
    with connect(trpc_fixture_server.ws_url) as ws:
        sub = {"id": 1, "method": "subscription", "params": {"path": "simulation.stream"}}
        ws.send(json.dumps({**sub, "params": {**sub["params"], "input": {"id": sim_id}}}))
        assert recv(ws) == {"id": 1, "result": {"type": "started"}}
        ticks: list[int] = []
        frame = recv(ws)
        while frame["result"]["type"] == "data":
            result = frame["result"]
            assert list(result) == ["type", "data", "id"]
            assert list(result["data"]) == ["id", "data"]
            assert result["data"]["id"] == result["id"]
            steps = result["data"]["data"]["steps"]
            assert result["id"] == str(steps[-1]["t"])
            for step in steps:
                step_validator.validate(step)
            ticks += [s["t"] for s in steps]
            frame = recv(ws)
        assert frame == {"id": 1, "result": {"type": "stopped"}}
        assert ticks == list(range(1, 251))

        # resume: params.lastEventId is merged into the input by @trpc/server
        resume = {**sub, "id": 2}
        resume["params"] = {**sub["params"], "input": {"id": sim_id}, "lastEventId": "120"}
        ws.send(json.dumps(resume))
        assert recv(ws)["result"]["type"] == "started"
        first = recv(ws)
        assert first["result"]["data"]["data"]["steps"][0]["t"] == 121


def test_fixture_ws_connection_params_refusal_and_reconnect(
    trpc_fixture_server: NodeFixtureServer,  # noqa: F811
) -> None:
    with connect(trpc_fixture_server.ws_url + "?connectionParams=1") as ws:
        ws.send(enc({"method": "connectionParams", "data": {"authorization": "Bearer krs_a"}}))
        ws.send(enc({"id": 1, "method": "query", "params": {"path": "whoami"}}))
        assert recv(ws) == {
            "id": 1,
            "result": {
                "type": "data",
                "data": {
                    "authorization": "Bearer krs_a",
                    "source": "connectionParams",
                    "connectionParams": {"authorization": "Bearer krs_a"},
                },
            },
        }
        trpc_fixture_server.broadcast_reconnect()
        assert recv(ws) == {"id": None, "method": "reconnect"}

    # what the official server does when createContext refuses a connection
    with connect(trpc_fixture_server.ws_url + "?connectionParams=1") as ws:
        ws.send(enc({"method": "connectionParams", "data": {"authorization": "Bearer krs_bad"}}))
        assert recv(ws) == {
            "id": None,
            "error": {
                "message": "the API key is not valid",
                "code": -32001,
                "data": {"code": "UNAUTHORIZED", "httpStatus": 401},
            },
        }
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1005, "closed without a status code (seen as 1005)"


def test_fixture_keepalive_ping(tmp_path: Path) -> None:
    server = NodeFixtureServer(tmp_path, env={"FIXTURE_KEEPALIVE_PING_MS": "100"})
    try:
        with connect(server.ws_url) as ws:
            assert ws.recv(timeout=3) == "PING"
            ws.send("PONG")
    finally:
        server.stop()


# -- the same wire as kairos serve ------------------------------------------------------------


def normalize(body: Any, mask_messages: bool) -> Any:
    """The envelope(s) without KAIROS additions; app-chosen messages masked on request."""
    if isinstance(body, list):
        return [normalize(item, mask_messages) for item in body]
    if isinstance(body, dict) and "error" in body:
        error = dict(body["error"])
        error["data"] = {
            k: v for k, v in error.get("data", {}).items() if k not in ("requestId", "kairos")
        }
        if mask_messages:
            error["message"] = "<message>"
        return {**body, "error": error}
    if isinstance(body, dict) and "result" in body:
        return {"result": {k: "<data>" for k in body["result"]}}
    return body


UNKNOWN = {"id": "sim_doesnotexist0000"}
SIM = {"scenario": SCENARIO, "ticks": 5}

# (name, method, path and query, headers, body, whether the messages are the app's own)
HTTP_CASES: list[tuple[str, str, str, dict[str, str], bytes | None, bool]] = [
    ("query ok", "GET", "/trpc/engine.versions", {}, None, False),
    ("unknown path", "GET", "/trpc/nope", {}, None, False),
    ("mutation by GET", "GET", "/trpc/simulation.create", {}, None, False),
    ("HEAD", "HEAD", "/trpc/engine.versions", {}, None, False),
    ("not found", "GET", f"/trpc/simulation.get?input={enc(UNKNOWN)}", {}, None, True),
    ("bad JSON input", "GET", "/trpc/simulation.get?input=%7Bnope", {}, None, True),
    ("POST without content-type", "POST", "/trpc/simulation.create", {}, enc(SIM).encode(), False),
    # The message is compared masked: @trpc/server 11.25.2 says `Unsupported content-type
    # "text/plain` (its closing quote is missing); we close the quote. Status and shape match.
    (
        "POST text/plain",
        "POST",
        "/trpc/simulation.create",
        {"content-type": "text/plain"},
        enc(SIM).encode(),
        True,
    ),
    ("OPTIONS", "OPTIONS", "/trpc/engine.versions", {}, None, False),
    (
        "batch 207",
        "GET",
        f"/trpc/engine.versions,simulation.get?batch=1&input={enc({'1': UNKNOWN})}",
        {},
        None,
        True,
    ),
    (
        "batch 404+404",
        "GET",
        f"/trpc/simulation.get,simulation.get?batch=1&input={enc({'0': UNKNOWN, '1': UNKNOWN})}",
        {},
        None,
        True,
    ),
    (
        "batch all ok",
        "GET",
        f"/trpc/engine.versions,engine.versions?batch=1&input={enc({})}",
        {},
        None,
        False,
    ),
    # @trpc/server parses the input lazily, when a procedure with an input parser asks for it:
    # a procedure without input (engine.versions) never sees a bad input
    (
        "bad JSON input, no-input procedure",
        "GET",
        "/trpc/engine.versions?input=%7Bnope",
        {},
        None,
        True,
    ),
    (
        "batch input not an object",
        "GET",
        "/trpc/simulation.get?batch=1&input=%5B1%5D",
        {},
        None,
        False,
    ),
    (
        "batch input not an object, no-input procedure",
        "GET",
        "/trpc/engine.versions?batch=1&input=%5B1%5D",
        {},
        None,
        False,
    ),
    (
        "batch mixed types",
        "POST",
        "/trpc/engine.versions,simulation.create?batch=1",
        {"content-type": "application/json"},
        b"{}",
        False,
    ),
    (
        "batched subscription",
        "GET",
        f"/trpc/simulation.stream,simulation.stream?batch=1&input={enc({})}",
        {},
        None,
        False,
    ),
    ("malformed path escape", "GET", "/trpc/engine.versions%E0%A4%A", {}, None, False),
]


def exchange(base: str, method: str, target: str, headers: dict[str, str], body: Any) -> Any:
    response = httpx.request(method, base + target, headers=headers, content=body, timeout=10)
    try:
        parsed = response.json() if response.content else None
    except json.JSONDecodeError:
        parsed = response.text
    return response.status_code, response.headers.get("allow"), parsed


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_same_http_wire_as_kairos_serve(
    case: tuple[str, str, str, dict[str, str], bytes | None, bool],
    trpc_fixture_server: NodeFixtureServer,  # noqa: F811
    kairos_server: KairosServe,
) -> None:
    _name, method, target, headers, body, app_messages = case
    official = exchange(trpc_fixture_server.url, method, target, headers, body)
    ours = exchange(kairos_server.url, method, target, headers, body)
    expected = (official[0], official[1], normalize(official[2], app_messages))
    actual = (ours[0], ours[1], normalize(ours[2], app_messages))
    assert json.dumps(actual) == json.dumps(expected), (
        f"{method} {target}\n@trpc/server: {json.dumps(expected)}\n"
        f"kairos serve: {json.dumps(actual)}"
    )


def ws_exchange(url: str, frames: list[str], replies: int) -> list[Any]:
    out: list[Any] = []
    with connect(url) as ws:
        for frame in frames:
            ws.send(frame)
        for _ in range(replies):
            out.append(recv(ws))
    return out


WS_CASES: list[tuple[str, list[str], int, bool]] = [
    (
        "query ok",
        [enc({"id": 1, "method": "query", "params": {"path": "engine.versions"}})],
        1,
        False,
    ),
    (
        "not found",
        [enc({"id": 1, "method": "query", "params": {"path": "simulation.get", "input": UNKNOWN}})],
        1,
        True,
    ),
    ("unknown path", [enc({"id": 7, "method": "query", "params": {"path": "nope"}})], 1, False),
    ("invalid JSON", ["{nope"], 1, True),
    ("not an object", ["42"], 1, False),
    ("unknown method", [enc({"id": 1, "method": "nope", "params": {"path": "x"}})], 1, False),
    ("PING", ["PING"], 1, False),
    (
        "subscription error then stopped",
        [
            enc(
                {
                    "id": "s",
                    "method": "subscription",
                    "params": {"path": "simulation.stream", "input": UNKNOWN},
                }
            )
        ],
        2,
        True,
    ),
    (
        "stop of an unknown id, then a query",
        [
            enc({"id": 9, "method": "subscription.stop"}),
            enc({"id": 1, "method": "query", "params": {"path": "engine.versions"}}),
        ],
        1,
        False,
    ),
]


@pytest.mark.parametrize("case", WS_CASES, ids=[c[0] for c in WS_CASES])
def test_same_ws_wire_as_kairos_serve(
    case: tuple[str, list[str], int, bool],
    trpc_fixture_server: NodeFixtureServer,  # noqa: F811
    kairos_server: KairosServe,
) -> None:
    _name, frames, replies, app_messages = case
    official = ws_exchange(trpc_fixture_server.ws_url, frames, replies)
    ours = ws_exchange(kairos_server.url.replace("http", "ws") + "/trpc", frames, replies)

    def norm(messages: list[Any]) -> list[Any]:
        out = []
        for message in messages:
            if isinstance(message, dict) and "result" in message:
                message = {**message, "result": {**message["result"]}}
                if "data" in message["result"]:
                    message["result"]["data"] = "<data>"
            out.append(normalize(message, app_messages) if isinstance(message, dict) else message)
        return out

    assert json.dumps(norm(ours)) == json.dumps(norm(official)), (
        f"frames {frames}\n@trpc/server: {json.dumps(norm(official))}\n"
        f"kairos serve: {json.dumps(norm(ours))}"
    )
