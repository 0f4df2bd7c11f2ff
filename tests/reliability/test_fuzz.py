"""Fuzz of a real server's HTTP and WebSocket endpoints with random and malformed payloads.

Every answer must be a well-formed tRPC envelope (an error shape, or a correct success), with
no stack trace outside dev mode; the server must keep answering a health query afterwards; and
over a long run (a ``kairos serve`` subprocess) its resident memory must stay bounded.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kairos._trpc.sse import SSEParser
from kairos._trpc.ws_client import ProtocolViolation, decode_server_frame
from kairos.server import ServerThread
from kairos_api import PROCEDURES
from tests._node import KairosServe
from tests.server.conftest import SCENARIO, start_server

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CODES = {
    "PARSE_ERROR": 400, "BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403,
    "NOT_FOUND": 404, "METHOD_NOT_SUPPORTED": 405, "TIMEOUT": 408, "CONFLICT": 409,
    "PRECONDITION_FAILED": 412, "PAYLOAD_TOO_LARGE": 413, "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNPROCESSABLE_CONTENT": 422, "TOO_MANY_REQUESTS": 429, "INTERNAL_SERVER_ERROR": 500,
}  # fmt: skip
LEAKS = ("Traceback", 'File "', "site-packages", "/src/kairos", "stack")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server(tmp_path_factory.mktemp("fuzz"), rate_limit=None, workers=1)
    yield thread
    thread.stop()


# -- checking answers --------------------------------------------------------------------------


def check_envelope(item: Any) -> None:
    assert isinstance(item, dict), item
    if "result" in item:
        assert set(item) == {"result"} and isinstance(item["result"], dict)
        return
    assert set(item) == {"error"}, item
    shape = item["error"]
    assert isinstance(shape["message"], str) and isinstance(shape["code"], int)
    data = shape["data"]
    assert CODES[data["code"]] == data["httpStatus"], shape
    assert "stack" not in data
    assert not any(leak in shape["message"] for leak in LEAKS), shape["message"]


def check_http(status: int, body: bytes, method: str = "GET", content_type: str = "") -> None:
    if method == "HEAD":
        assert status in (204, 404) and body == b""  # 404: outside /trpc
        return
    assert 200 <= status < 600 and status != 500, (status, body[:300])
    text = body.decode("ascii")  # the server escapes every non-ASCII character
    assert not any(leak in text for leak in LEAKS), text[:300]
    if content_type == "text/event-stream":  # a GET of a subscription, answered as tRPC does
        check_sse(status, body)
        return
    decoded = json.loads(text)
    for item in decoded if isinstance(decoded, list) else [decoded]:
        check_envelope(item)


def check_sse(status: int, body: bytes) -> None:
    events = SSEParser().feed(body)
    assert status == 200 and events and events[0].event == "connected", body[:300]
    for event in events[1:]:
        assert event.event in ("message", "serialized-error", "return", "ping"), event
        if event.event == "serialized-error":
            check_envelope({"error": json.loads(event.data)})


def raw_http(port: int, request: bytes, *, timeout: float = 30) -> tuple[int, bytes]:
    """Send raw bytes; the status and body of the answer (connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)  # no half-close: uvicorn drops a connection at EOF
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


def healthy(url: str) -> None:
    response = httpx.get(url + "/trpc/engine.versions", timeout=30)
    assert response.status_code == 200 and "default" in response.json()["result"]["data"]


# -- HTTP ----------------------------------------------------------------------------------------

known_paths = st.sampled_from(sorted(PROCEDURES))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)
wrong_types = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "scenario": json_values | st.just(SCENARIO),
        "ticks": json_values,
        "limit": json_values,
        "cursor": json_values,
        "fromTick": json_values,
        "organizationId": json_values,
        "idempotencyKey": json_values,
        "engineVersion": json_values,
        "status": json_values,
        "lastEventId": json_values,
    },
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | wrong_types.map(lambda v: json.dumps(v).encode())
)
paths = (
    known_paths
    | st.lists(known_paths, min_size=1, max_size=5).map(",".join)
    | st.text(max_size=30).map(lambda t: quote(t, safe=",.%"))
    | st.sampled_from(["%", "%zz", "%ff%fe", "..", "a%2Cb", "simulation.get%00"])
)


@FUZZ
@given(
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    paths,
    st.booleans(),
    bodies,
    st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1", ""]),
)
@example("GET", "simulation.stream", False, b"", "")  # an SSE answer whose input is missing
@example("GET", "simulation.stream", False, b'{"id": 5}', "")
def test_random_http_requests_get_trpc_envelopes(
    server: ServerThread, method: str, path: str, batch: bool, body: bytes, content_type: str
) -> None:
    query = "batch=1&" if batch else ""
    if method == "GET" and body:
        query += "input=" + quote(body.decode("latin-1"), safe="")
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.request(
        method,
        f"{server.url}/trpc/{path}?{query}",
        content=None if method in ("GET", "HEAD") else body,
        headers=headers,
        timeout=30,
    )
    check_http(
        response.status_code, response.content, method, response.headers.get("content-type", "")
    )


NASTY_BODIES = [
    b"\xff\xfe\xfd",
    b'{"id": "\xed\xa0\x80"}',
    b"[" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[" * 900 + b"]" * 900,
    b'{"ticks": 1e999, "scenario": {"seed": -1e999}}',
    b'{"ticks": NaN}',
    b'{"ticks": Infinity}',
    b'{"ticks": -Infinity}',
    b'{"ticks": ' + b"9" * 4000 + b"}",
    b'{"ticks": ' + b"9" * 5000 + b"}",
    b'{"id": "a", "id": 5, "id": null}',
    b'{"0": {"id": 1}, "0": [], "1": "x"}',
    b"",
    b"null",
    b'"just a string"',
    b"\x00\x00\x00\x00",
    b'{"scenario": ' + json.dumps({**SCENARIO, "seed": 10**300}).encode() + b', "ticks": 3}',
    b'{"scenario": ' + json.dumps(SCENARIO).encode() + b', "ticks": 10000000000}',
]


@pytest.mark.parametrize("body", NASTY_BODIES, ids=range(len(NASTY_BODIES)))
@pytest.mark.parametrize("path", ["simulation.create", "simulation.cancel,simulation.create"])
def test_nasty_bodies_are_clean_errors(server: ServerThread, path: str, body: bytes) -> None:
    batch = "?batch=1" if "," in path else ""
    response = httpx.post(
        f"{server.url}/trpc/{path}{batch}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    check_http(response.status_code, response.content, "POST")
    assert response.status_code in (400, 413), response.text[:300]


@pytest.mark.parametrize(
    "target",
    [
        b"simulation.get?input=" + b"%5B" * 100_000,  # 100 000 levels of [ in a query
        b"simulation.get?input=" + b"%ff%fe%80",
        b"simulation.get?input=%",
        b"simulation.get?input=%zz&input=%",
        b"simulation.get?input=" + quote('{"id":"' + "x" * 200_000 + '"}').encode(),
        b"simulation.get,simulation.list,engine.versions?batch=1&input=" + b"%5B" * 5000,
        b"simulation.get?" + b"&".join(b"k%d=v" % i for i in range(20_000)),
        b"nope.nope?input=%7B%7D",
        b"%c0%af..%c0%af",
        b"simulation.get?input=" + quote(json.dumps({"id": "\ud800"})).encode(),
    ],
    ids=range(10),
)
def test_nasty_urls_are_clean_errors(server: ServerThread, target: bytes) -> None:
    request = b"GET /trpc/" + target + b" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    status, body = raw_http(server.port or 0, request)
    check_http(status, body)
    assert status == 207 or 400 <= status < 500  # 207: a batch with some good calls
    healthy(server.url)


def test_an_oversized_request_line_gets_a_trpc_envelope(server: ServerThread) -> None:
    # Rejected by the HTTP parser itself, before the application sees it.
    request = b"GET /trpc/simulation.get?input=" + b"x" * 5_000_000 + b" HTTP/1.1\r\n\r\n"
    status, body = raw_http(server.port or 0, request)
    check_http(status, body)
    assert status == 400
    healthy(server.url)


# -- WebSocket -----------------------------------------------------------------------------------


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 10_000_000

    async def frame(self) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), 30)
        assert isinstance(raw, str) and raw.isascii()
        if raw == "PONG":
            return "PONG"
        event = decode_server_frame(raw)
        assert not isinstance(event, ProtocolViolation), raw
        message = json.loads(raw)
        if "error" in message:
            check_envelope({"error": message["error"]})
        return message

    async def sync(self) -> list[Any]:
        """Send a health query and collect every frame up to its answer."""
        self.next_id += 1
        marker = self.next_id
        await self.ws.send(
            json.dumps({"id": marker, "method": "query", "params": {"path": "engine.versions"}})
        )
        frames = []
        while True:
            message = await self.frame()
            if isinstance(message, dict) and message.get("id") == marker:
                assert "default" in message["result"]["data"], message
                return frames
            frames.append(message)


ws_messages = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.integers(0, 10),
        "jsonrpc": st.sampled_from(["2.0", "1.0", None]),
        "method": st.sampled_from(
            ["query", "mutation", "subscription", "subscription.stop", "connectionParams", "x"]
        )
        | json_values,
        "params": st.fixed_dictionaries(
            {},
            optional={
                "path": known_paths | json_values,
                "input": wrong_types | json_values,
                "lastEventId": json_values | st.sampled_from(["1", "-1", "9" * 30]),
            },
        )
        | json_values,
    },
)
ws_frames = (
    ws_messages.map(json.dumps)
    | st.lists(ws_messages, max_size=4).map(json.dumps)
    | st.binary(max_size=100)
    | st.text(max_size=100)
    | st.sampled_from(["PING", "PONG", "[]", "{}", "[" * 10_000, '{"id":1,"id":NaN}'])
)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ws_frames, min_size=1, max_size=25))
def test_random_ws_frames_get_envelopes_and_the_socket_keeps_working(
    server: ServerThread, frames: list[str | bytes]
) -> None:
    async def go() -> None:
        async with websockets.connect(server.url.replace("http", "ws") + "/trpc") as ws:
            socket_ = Socket(ws)
            for frame in frames:
                await ws.send(frame)
            await socket_.sync()
            for sub in range(11):  # stop anything the fuzz subscribed to
                await ws.send(json.dumps({"id": sub, "method": "subscription.stop"}))
            await socket_.sync()

    asyncio.run(go())


WS_NASTIES: list[str | bytes] = [
    "[" * 100_000,
    b"\xff\xfe\x00binary",
    b'{"id":1,"method":"query","params":{"path":"engine.versions"}}',  # binary, but valid
    '{"id":1e999,"method":"query","params":{"path":"engine.versions"}}',
    '{"id":2,"method":"query","params":{"path":"simulation.get","input":{"id":1e999}}}',
    '{"id":NaN,"method":"query"}',
    '{"id":3,"method":"query","params":{"path":"simulation.get","input":'
    + "[" * 900
    + "]" * 900
    + "}}",
    '{"id":4,"id":5,"method":"query","method":"mutation","params":{"path":"nope"}}',
    '{"id":6,"method":"subscription","params":{"path":"simulation.stream",'
    '"input":{"id":"x"},"lastEventId":"' + "9" * 5000 + '"}}',
    "PING" * 1000,
    b"\xed\xa0\x80",  # a lone surrogate as (invalid) UTF-8
]


def test_nasty_ws_frames_interleaved_with_valid_ones(server: ServerThread) -> None:
    async def go() -> None:
        async with websockets.connect(server.url.replace("http", "ws") + "/trpc") as ws:
            socket_ = Socket(ws)
            for nasty in WS_NASTIES:
                await ws.send(nasty)
                await socket_.sync()
            # A PING flood, read back: one PONG each, and the socket still answers.
            for _ in range(2000):
                await ws.send("PING")
            frames = await socket_.sync()
            assert frames.count("PONG") == 2000

    asyncio.run(go())


def test_a_query_flood_from_a_client_that_never_reads_stays_bounded(
    server: ServerThread,
) -> None:
    """Each query on a socket used to get its own task with no limit, so a client sending
    queries without reading the answers grew the server without bound. Now at most
    ``max_calls_in_flight_per_connection`` run and the socket is not read meanwhile; when the
    client vanishes, the connection and its tasks go away."""
    state = server._server.state
    limit = server.config.max_calls_in_flight_per_connection
    peak = 0

    async def go() -> None:
        nonlocal peak
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port or 0))
        ws = await websockets.connect(
            server.url.replace("http", "ws") + "/trpc", sock=sock, max_queue=1, ping_interval=None
        )
        for i in range(5000):
            frame = {"id": i, "method": "query", "params": {"path": "domain.list"}}
            try:
                await asyncio.wait_for(ws.send(json.dumps(frame)), 2)
            except asyncio.TimeoutError:
                break  # the server stopped reading: backpressure
            for connection in list(state.connections):
                peak = max(peak, len(connection.call_tasks))
        ws.transport.abort()  # vanish without a close handshake

    asyncio.run(go())
    assert 0 < peak <= limit
    deadline = time.monotonic() + 30
    while state.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not state.connections
    healthy(server.url)


# -- memory over a long run --------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fuzz_round(port: int, url: str, round_: int) -> tuple[int, int]:
    """One round of nasty HTTP requests and WS frames; (requests, frames) sent."""
    requests = 0
    with httpx.Client(base_url=url + "/trpc", timeout=30) as client:
        for body in NASTY_BODIES:
            client.post(
                "/simulation.create", content=body, headers={"content-type": "application/json"}
            )
            requests += 1
        for i in range(30):
            client.get("/simulation.get", params={"input": json.dumps({"id": f"sim_{round_}_{i}"})})
            client.get(f"/nope{i}.x", params={"input": "[" * 50})
            requests += 2
    for target in (b"simulation.get?input=" + b"%5B" * 20_000, b"%ff?input=%zz"):
        raw_http(port, b"GET /trpc/" + target + b" HTTP/1.1\r\nconnection: close\r\n\r\n")
        requests += 1

    async def ws_part() -> int:
        async with websockets.connect(url.replace("http", "ws") + "/trpc") as ws:
            socket_ = Socket(ws)
            sent = 0
            for nasty in WS_NASTIES[:-2]:
                await ws.send(nasty)
                sent += 1
            for i in range(200):
                await ws.send("PING")
                await ws.send(json.dumps({"id": i, "method": "query", "params": {"path": "x"}}))
                sent += 2
            await socket_.sync()
            return sent + 1

    return requests, asyncio.run(ws_part())


def test_memory_stays_bounded_over_a_long_fuzz(tmp_path: Path) -> None:
    serve = KairosServe(tmp_path, "--workers", "1", "--rate-limit", "0")
    try:
        requests = frames = 0
        for round_ in range(3):  # warm up: imports, caches, allocator arenas
            r, f = fuzz_round(serve.port, serve.url, round_)
            requests, frames = requests + r, frames + f
        start = rss_kib(serve.pid)
        for round_ in range(3, 23):
            r, f = fuzz_round(serve.port, serve.url, round_)
            requests, frames = requests + r, frames + f
        end = rss_kib(serve.pid)
        healthy(serve.url)
        print(f"fuzz: {requests} requests, {frames} frames; RSS {start} KiB -> {end} KiB")
        assert end < start + 64 * 1024, (start, end)
        assert "Traceback" not in serve.log()
    finally:
        serve.stop()
