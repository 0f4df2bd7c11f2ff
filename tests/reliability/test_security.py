"""Security: keys (missing, wrong, revoked), isolation of organizations over WebSocket streams
and batches, keys never in logs, reprs or errors, and resource limits (bodies, nesting, ticks,
subscriptions, slow clients)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from kairos import KairosClient
from kairos.errors import AuthenticationError
from kairos.server import ServerThread
from kairos.server._auth import KeyRing, RateLimit, RateLimiter
from kairos.server._context import caller_ident
from tests._node import KairosServe
from tests.reliability.test_fuzz import check_http, healthy, raw_http
from tests.server.conftest import SCENARIO, Wire, start_server

ALPHA, BETA, GAMMA = "krs_alpha_s3cr3t_0001", "krs_beta_s3cr3t_0002", "krs_gamma_s3cr3t_0003"


def wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Path]]:
    tmp = tmp_path_factory.mktemp("security")
    keys = tmp / "keys.txt"
    keys.write_text(f"# test keys\norg_alpha={ALPHA}\n\norg_beta={BETA}\n")
    thread = start_server(
        tmp,
        api_keys_file=keys,
        api_keys_poll_seconds=0.1,
        rate_limit=None,
        max_subscriptions_per_connection=20,
    )
    yield thread, keys
    thread.stop()


def ws_url(server: ServerThread) -> str:
    return server.url.replace("http", "ws") + "/trpc"


async def ws_call(ws: Any, id: int, method: str, path: str, input: Any = None) -> Any:
    params: dict[str, Any] = {"path": path}
    if input is not None:
        params["input"] = input
    await ws.send(json.dumps({"id": id, "method": method, "params": params}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message.get("id") in (id, None):
            return message


# -- keys ----------------------------------------------------------------------------------------


def test_missing_wrong_and_malformed_keys_are_unauthorized(
    keyed: tuple[ServerThread, Path],
) -> None:
    server, _ = keyed
    for headers in (
        {},
        {"authorization": "Bearer krs_nope"},
        {"authorization": ALPHA},  # no scheme
        {"authorization": "Basic " + ALPHA},
        {"authorization": "Bearer " + ALPHA[:-1]},
        {"authorization": "Bearer " + ALPHA + "x"},
        {"authorization": "Bearer " + "x" * 100_000},
    ):
        response = httpx.get(server.url + "/trpc/engine.versions", headers=headers, timeout=30)
        assert response.status_code == 401, headers
        assert response.json()["error"]["data"]["code"] == "UNAUTHORIZED"
        assert ALPHA not in response.text


def test_made_up_keys_share_their_address_bucket() -> None:
    """Rate limiting by the fingerprint of any presented token let a caller dodge the limit,
    and grow the limiter by one bucket per made-up key."""
    ring = KeyRing({ALPHA: "org_alpha"})
    made_up = {caller_ident(ring, f"Bearer junk{i}", "10.0.0.1") for i in range(100)}
    assert made_up == {"addr:10.0.0.1"}
    assert caller_ident(ring, f"Bearer {ALPHA}", "10.0.0.1").startswith("key_")
    limiter = RateLimiter(RateLimit(rate=1, burst=5), max_buckets=1000)
    for i in range(10_000):
        limiter.acquire(f"caller{i}")
    assert len(limiter) <= 1000


def test_a_revoked_key_stops_working_without_a_restart(
    keyed: tuple[ServerThread, Path],
) -> None:
    server, keys = keyed
    keys.write_text(f"org_alpha={ALPHA}\norg_beta={BETA}\norg_gamma={GAMMA}\n")
    gamma = Wire(server.url, GAMMA)
    wait_until(lambda: gamma.query("engine.versions").status_code == 200)

    async def go() -> None:
        headers = {"authorization": f"Bearer {GAMMA}"}
        async with websockets.connect(ws_url(server), additional_headers=headers) as ws:
            first = await ws_call(ws, 1, "query", "engine.versions")
            assert "result" in first
            keys.write_text(f"org_alpha={ALPHA}\norg_beta={BETA}\n")  # revoke gamma
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert message["id"] is None
            assert message["error"]["data"]["code"] == "UNAUTHORIZED"
            assert "revoked" in message["error"]["message"]
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws_call(ws, 2, "query", "engine.versions"), 30)

    asyncio.run(go())
    assert gamma.query("engine.versions").status_code == 401
    assert Wire(server.url, ALPHA).query("engine.versions").status_code == 200
    # a new socket with the revoked key is refused at once
    with pytest.raises(AuthenticationError):
        KairosClient(server.url, api_key=GAMMA, max_retries=0).engine.versions()


def test_a_broken_keys_file_keeps_the_last_keys_and_an_empty_one_locks_everyone_out(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"org_alpha={ALPHA}\n")
    ring = KeyRing({}, keys)
    keys.write_text("org_alpha=has a space\n")
    assert not ring.reload_if_changed(force=True)
    assert ring.organization_of(ALPHA) == "org_alpha"
    keys.write_text("# nobody\n")
    assert ring.reload_if_changed(force=True)
    assert ring.enabled and ring.organization_of(ALPHA) is None


def test_kairos_serve_reloads_on_sighup_and_documents_it(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"org_alpha={ALPHA}\norg_gamma={GAMMA}\n")
    serve = KairosServe(tmp_path, "--workers", "1", "--api-keys-file", str(keys))
    try:
        gamma = Wire(serve.url, GAMMA)
        assert gamma.query("engine.versions").status_code == 200
        keys.write_text(f"org_alpha={ALPHA}\n")
        os.utime(keys, ns=(0, 0))  # the same mtime as nothing before: only SIGHUP can tell
        serve.signal(__import__("signal").SIGHUP)
        wait_until(lambda: gamma.query("engine.versions").status_code == 401)
        assert Wire(serve.url, ALPHA).query("engine.versions").status_code == 200
    finally:
        serve.stop()
    assert ALPHA not in serve.log() and GAMMA not in serve.log()
    import subprocess

    from tests._node import kairos_command

    help_text = subprocess.run(
        [*kairos_command(), "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--api-keys-file" in help_text and "revoked" in help_text


# -- isolation -----------------------------------------------------------------------------------


def test_organizations_are_isolated_over_batches_and_websocket_streams(
    keyed: tuple[ServerThread, Path],
) -> None:
    server, _ = keyed
    alpha, beta = Wire(server.url, ALPHA), Wire(server.url, BETA)
    mine = alpha.create(ticks=20)["id"]
    alpha.wait(mine)
    # batches: every call of beta's batch naming alpha's simulation is NOT_FOUND
    calls = ["simulation.get", "simulation.trace", "simulation.get"]
    inputs = {"0": {"id": mine}, "1": {"id": mine}, "2": {"id": mine}}
    response = beta.http.get(
        "/" + ",".join(calls), params={"batch": "1", "input": json.dumps(inputs)}
    )
    assert [r["error"]["data"]["code"] for r in response.json()] == ["NOT_FOUND"] * 3
    cancel = beta.http.post(
        "/simulation.cancel,simulation.cancel?batch=1", json={"0": {"id": mine}, "1": {"id": mine}}
    )
    assert [r["error"]["data"]["code"] for r in cancel.json()] == ["NOT_FOUND"] * 2
    listed = beta.data(beta.query("simulation.list", {"organizationId": "org_alpha"}))
    assert mine not in {s["id"] for s in listed["items"]}
    assert ALPHA not in response.text and "org_alpha" not in response.text

    async def go() -> None:
        headers = {"authorization": f"Bearer {BETA}"}
        async with websockets.connect(ws_url(server), additional_headers=headers) as ws:
            await ws.send(
                json.dumps(
                    {"id": 1, "method": "subscription",
                     "params": {"path": "simulation.stream", "input": {"id": mine},
                                "lastEventId": "0"}}
                )
            )  # fmt: skip
            while True:  # started (maybe), then the error: never a data frame
                stream = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if "error" in stream:
                    break
                assert stream["result"]["type"] == "started", stream
            assert stream["error"]["data"]["code"] == "NOT_FOUND"
            for id, (method, path) in enumerate(
                [("query", "simulation.get"), ("query", "simulation.trace"),
                 ("mutation", "simulation.cancel")], 2
            ):  # fmt: skip
                answer = await ws_call(ws, id, method, path, {"id": mine})
                assert answer["error"]["data"]["code"] == "NOT_FOUND"
            # a batch frame of both kinds
            frame = [
                {"id": 10, "method": "query", "params": {"path": "simulation.get",
                                                         "input": {"id": mine}}},
                {"id": 11, "method": "subscription", "params": {"path": "simulation.stream",
                                                                "input": {"id": mine}}},
            ]  # fmt: skip
            await ws.send(json.dumps(frame))
            seen = {}
            while len(seen) < 2:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if "error" in message:
                    seen[message["id"]] = message["error"]["data"]["code"]
                else:
                    assert message["result"]["type"] != "data", message
            assert seen == {10: "NOT_FOUND", 11: "NOT_FOUND"}

    asyncio.run(go())
    assert alpha.wait(mine)["status"] == "completed"  # beta's cancels did nothing


# -- keys never leak -----------------------------------------------------------------------------


def test_keys_are_never_in_server_or_client_logs_reprs_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIROS_LOG", "debug")
    serve = KairosServe(
        tmp_path, "--workers", "1", "--api-key", f"org_alpha={ALPHA}", "--rate-limit", "0"
    )
    caplog.set_level(logging.DEBUG)
    try:
        with KairosClient(serve.url, api_key=ALPHA) as client:
            assert ALPHA not in repr(client) and ALPHA not in repr(client.settings)
            from tests.reliability.conftest import reliability_scenario

            client.run(reliability_scenario("leak"), 10)
            steps = list(client.stream_run(reliability_scenario("leak2"), 10))
            assert len(steps) == 10
        for wrong in (ALPHA + "x", ALPHA[:-1]):
            with KairosClient(serve.url, api_key=wrong, max_retries=0) as bad:
                with pytest.raises(AuthenticationError) as info:
                    bad.engine.versions()
                text = str(info.value) + repr(info.value) + repr(info.value.body)
                assert wrong not in text and ALPHA not in text
        # raw requests (unlogged here) with the key where a careless server might log it
        for request in (
            b"GET /trpc/engine.versions HTTP/1.1\r\nauthorization: " + ALPHA.encode(),
            b"GET /trpc/engine.versions HTTP/1.1\r\nauthorization: Bearer " + ALPHA.encode()[:-1],
            b"GET /trpc/engine.versions?input=1 HTTP/1.1\r\nauthorization: Bearer x",
        ):
            raw_http(serve.port, request + b"\r\nconnection: close\r\n\r\n")
    finally:
        serve.stop()
    assert caplog.records and "DEBUG" in serve.log()
    for text in (caplog.text, serve.log()):
        assert ALPHA not in text and ALPHA[:-1] not in text


# -- limits --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server(
        tmp_path_factory.mktemp("limits"),
        rate_limit=None,
        workers=1,
        max_body_bytes=64 * 1024,
        max_subscriptions_per_connection=25,
        max_ticks=1000,
        header_timeout_seconds=2,
        body_timeout_seconds=2,
    )
    yield thread
    thread.stop()


def test_oversized_bodies_with_and_without_content_length(limited: ServerThread) -> None:
    big = b'{"id":"' + b"x" * 200_000 + b'"}'
    declared = httpx.post(
        limited.url + "/trpc/simulation.cancel",
        content=big,
        headers={"content-type": "application/json"},
    )
    check_http(declared.status_code, declared.content, "POST")
    assert declared.json()["error"]["data"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # chunked transfer encoding: no content-length
        for _ in range(100):
            yield b"x" * 4096

    chunked = httpx.post(
        limited.url + "/trpc/simulation.cancel",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"]["data"]["kairos"]["limit"] == "max_body_bytes"
    lying = raw_http(
        limited.port or 0,
        b"POST /trpc/simulation.cancel HTTP/1.1\r\ncontent-type: application/json\r\n"
        b"content-length: 99999999999999999999\r\nconnection: close\r\n\r\n{}",
    )
    assert lying[0] in (400, 413)
    check_http(*lying, "POST")
    healthy(limited.url)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_a_clean_400(limited: ServerThread, depth: int) -> None:
    for body in (b"[" * depth, b'{"a":' * depth):
        response = httpx.post(
            limited.url + "/trpc/simulation.create",
            content=body[: 60 * 1024],
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        check_http(response.status_code, response.content, "POST")


def test_huge_tick_counts_are_refused(limited: ServerThread) -> None:
    wire = Wire(limited.url)
    for ticks in (1001, 10**7, 10**12, 10**300, 1e308, -1, 0, 2.5):
        response = wire.mutate("simulation.create", {"scenario": SCENARIO, "ticks": ticks})
        assert response.status_code == 400, (ticks, response.text)
        check_http(response.status_code, response.content, "POST")


def test_thousands_of_subscriptions_on_one_socket(limited: ServerThread) -> None:
    wire = Wire(limited.url)
    sim = wire.create(ticks=200_000 // 1000)["id"]  # finishes quickly; streams stay open briefly

    async def go() -> None:
        async with websockets.connect(ws_url(limited), max_size=None) as ws:
            n = 2000
            frames = [
                {"id": i, "method": "subscription",
                 "params": {"path": "simulation.stream", "input": {"id": sim}}}
                for i in range(n)
            ]  # fmt: skip
            for start in range(0, n, 100):
                await ws.send(json.dumps(frames[start : start + 100]))
            refused = 0
            ended: set[int] = set()
            while len(ended) + refused < n:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if "error" in message:
                    code = message["error"]["data"]["code"]
                    if code == "TOO_MANY_REQUESTS":
                        refused += 1
                        continue
                    raise AssertionError(message)
                if message["result"]["type"] == "stopped":
                    ended.add(message["id"])
            assert refused > 0 and len(ended) >= 25
            answer = await ws_call(ws, n + 1, "query", "engine.versions")
            assert "result" in answer

    asyncio.run(go())


def test_slow_loris_connections_are_closed(limited: ServerThread) -> None:
    """uvicorn has no header timeout: a client sending one byte a second held its connection
    (and a slot) forever. Now the headers must be complete within header_timeout_seconds."""
    request = b"GET /trpc/engine.versions HTTP/1.1\r\nhost: x\r\nx-slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", limited.port or 0), timeout=30) as sock:
        closed = False
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed, "the server kept a slow-loris connection open"
    # a slow body: the app answers 408 TIMEOUT instead of waiting forever
    with socket.create_connection(("127.0.0.1", limited.port or 0), timeout=30) as sock:
        sock.sendall(
            b"POST /trpc/simulation.cancel HTTP/1.1\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n{"
        )
        sock.settimeout(30)
        answer = sock.recv(65536)
        assert b" 408 " in answer.split(b"\r\n", 1)[0], answer[:200]
        assert b'"TIMEOUT"' in answer or b"TIMEOUT" in sock.recv(65536)
    healthy(limited.url)
