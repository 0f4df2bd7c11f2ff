"""Subscriptions over SSE and streamed (JSONL) batches against real servers on 127.0.0.1: the
events and their ids, resume, keep-alive pings, isolation, auth, limits, max duration, a revoked
key, and the JSONL answers to mixed batches."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kairos import engine
from kairos._trpc.jsonl import decode_jsonl_batch
from kairos._trpc.sse import SSEEvent, SSEParser
from kairos.server import ServerThread
from kairos.server._auth import RateLimit
from tests.server.conftest import SCENARIO, Wire, start_server

STREAM = "/trpc/simulation.stream"
FAST_SSE = {"sse_ping_seconds": 0.05, "sse_reconnect_after_inactivity_seconds": 1.0}


def events(
    url: str,
    input: Any,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    until: Any = None,
) -> list[SSEEvent]:
    """The events of one SSE request, read to the end of the stream or until ``until(events)``."""
    query = {"input": json.dumps(input), **(params or {})}
    parser = SSEParser()
    out: list[SSEEvent] = []
    with httpx.stream(
        "GET", url + STREAM, params=query, headers=headers or {}, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        for piece in response.iter_raw():
            out += parser.feed(piece)
            if until is not None and until(out):
                break
    return out


def steps_of(stream: list[SSEEvent]) -> list[dict[str, Any]]:
    return [s for e in stream if e.event == "message" for s in json.loads(e.data)["steps"]]


def error_of(stream: list[SSEEvent]) -> dict[str, Any]:
    assert [e.event for e in stream] == ["connected", "serialized-error"], stream
    shape: dict[str, Any] = json.loads(stream[1].data)
    return shape


@pytest.fixture(scope="module")
def sse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = start_server(
        tmp_path_factory.mktemp("sse"),
        rate_limit=None,
        api_keys={"krs_alpha": "org_alpha", "krs_beta": "org_beta"},
        max_sse_streams_per_key=2,
        **FAST_SSE,
    )
    yield thread
    thread.stop()


ALPHA = {"authorization": "Bearer krs_alpha"}
BETA = {"authorization": "Bearer krs_beta"}


@pytest.fixture(scope="module")
def finished(sse_server: ServerThread) -> dict[str, Any]:
    wire = Wire(sse_server.url, "krs_alpha")
    record = wire.create(ticks=700)
    return wire.wait(record["id"])


def test_a_finished_run_streams_each_step_once_with_tracked_ids_then_return(
    sse_server: ServerThread, finished: dict[str, Any]
) -> None:
    stream = events(sse_server.url, {"id": finished["id"]}, headers=ALPHA)
    assert stream[0] == SSEEvent("connected", '{"reconnectAfterInactivityMs":1000}', "")
    assert stream[-1].event == "return"
    messages = [e for e in stream if e.event == "message"]
    # Chunks are stored on count and on time, so where they end varies; each id is its event's
    # last tick, whatever the boundaries.
    last_ticks = [str(json.loads(e.data)["steps"][-1]["t"]) for e in messages]
    assert [e.id for e in messages] == last_ticks, "the id is the event's last tick"
    assert last_ticks[-1] == "700" and len(messages) >= 2
    expected = list(engine.iter_steps(SCENARIO, 700, finished["engineVersion"]))
    got = steps_of(stream)
    assert engine.trace_sha256(got) == engine.trace_sha256(expected)


@pytest.mark.parametrize(
    ("how", "position"),
    [("header", "512"), ("query", "300"), ("input", "699"), ("header", "700")],
)
def test_a_resumed_stream_delivers_the_steps_after_the_id(
    sse_server: ServerThread, finished: dict[str, Any], how: str, position: str
) -> None:
    input: dict[str, Any] = {"id": finished["id"]}
    headers, params = dict(ALPHA), {}
    if how == "header":
        headers["last-event-id"] = position
        input["lastEventId"] = "1"  # the header wins, as in tRPC
    elif how == "query":
        params["lastEventId"] = position
    else:
        input["lastEventId"] = position
    stream = events(sse_server.url, input, headers=headers, params=params)
    assert [s["t"] for s in steps_of(stream)] == list(range(int(position) + 1, 701))
    assert stream[-1].event == "return"


def test_auth_by_header_or_connection_params_and_isolation(
    sse_server: ServerThread, finished: dict[str, Any]
) -> None:
    url, target = sse_server.url, {"id": finished["id"]}
    by_params = {"connectionParams": json.dumps({"authorization": "Bearer krs_alpha"})}
    assert events(url, target, params=by_params)[-1].event == "return"
    for headers, params, code in [
        ({}, {}, "UNAUTHORIZED"),
        ({"authorization": "Bearer krs_nope"}, {}, "UNAUTHORIZED"),
        (BETA, {}, "NOT_FOUND"),  # another organization's simulation does not exist
        ({}, {"connectionParams": json.dumps({"authorization": "Bearer krs_beta"})}, "NOT_FOUND"),
    ]:
        shape = error_of(events(url, target, headers=headers, params=params))
        assert shape["data"]["code"] == code and shape["data"]["path"] == "simulation.stream"
        assert shape["data"]["requestId"].startswith("req_")
        assert "krs_" not in json.dumps(shape)
    bad = httpx.get(url + STREAM, params={"input": json.dumps(target), "connectionParams": "[1]"})
    assert bad.status_code == 400 and bad.json()["error"]["data"]["code"] == "PARSE_ERROR"


def test_input_errors_and_wrong_methods_arrive_inside_the_stream(sse_server: ServerThread) -> None:
    url = sse_server.url
    shape = error_of(events(url, {"id": "x", "lastEventId": "not-a-tick"}, headers=ALPHA))
    assert (
        shape["data"]["code"] == "BAD_REQUEST" and shape["data"]["kairos"]["kind"] == "validation"
    )
    posted = httpx.post(url + STREAM, json={"id": "x"}, headers=ALPHA)
    assert posted.status_code == 200 and "METHOD_NOT_SUPPORTED" in posted.text
    # and the other answers stay as for every path
    assert httpx.head(url + STREAM).status_code == 204
    assert httpx.post(url + STREAM, content=b"{}", headers=ALPHA).status_code == 415
    assert httpx.options(url + STREAM).status_code == 415
    batched = httpx.get(url + STREAM + ",simulation.stream", params={"batch": "1"}, headers=ALPHA)
    assert batched.status_code == 400 and batched.json()[0]["error"]["message"] == (
        "Cannot batch subscription calls"
    )


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[ServerThread]:
    thread = start_server(
        tmp_path,
        workers=1,
        rate_limit=None,
        max_sse_streams_per_key=2,
        sse_max_duration_seconds=1.0,
        **FAST_SSE,
    )
    yield thread
    thread.stop()


def test_pings_keep_a_queued_run_alive_and_max_duration_cuts_are_resumed(
    one_worker: ServerThread,
) -> None:
    url, wire = one_worker.url, Wire(one_worker.url)
    busy = wire.create(ticks=1_000_000)  # holds the only worker
    queued = wire.create(ticks=40, name="queued")
    try:
        stream = events(url, {"id": queued["id"]}, until=lambda got: len(got) >= 4)
        assert [e.event for e in stream] == ["connected", "ping", "ping", "ping"]
        assert wire.data(wire.query("simulation.get", {"id": queued["id"]}))["status"] == "queued"

        # max duration: the stream ends without `return` (the client reconnects)
        ended = events(url, {"id": queued["id"]})
        assert ended[0].event == "connected" and {e.event for e in ended[1:]} == {"ping"}

    finally:
        wire.mutate("simulation.cancel", {"id": busy["id"]})
    # resumed after each max-duration cut, the run arrives whole, exactly once
    steps: list[dict[str, Any]] = []
    last: str | None = None
    for _ in range(1000):
        headers = {"last-event-id": last} if last else {}
        stream = events(url, {"id": queued["id"]}, headers=headers)
        steps += steps_of(stream)
        last = next((e.id for e in reversed(stream) if e.event == "message"), last)
        if stream[-1].event == "return":
            break
    assert [s["t"] for s in steps] == list(range(1, 41))


def test_a_revoked_key_ends_its_open_stream(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("org_a=krs_one\norg_a=krs_two\n")
    server = start_server(
        tmp_path, api_keys_file=keys, api_keys_poll_seconds=0.05, rate_limit=None, **FAST_SSE
    )
    try:
        wire = Wire(server.url, "krs_two")
        record = wire.create(ticks=1_000_000)

        def revoke(got: list[SSEEvent]) -> bool:
            if len(got) == 2:
                keys.write_text("org_a=krs_two\n")
            return got[-1].event == "serialized-error"

        stream = events(
            server.url,
            {"id": record["id"]},
            headers={"authorization": "Bearer krs_one"},
            until=revoke,
        )
        shape = json.loads(stream[-1].data)
        assert shape["data"]["code"] == "UNAUTHORIZED"
        assert shape["message"] == "the API key has been revoked"
        wire.mutate("simulation.cancel", {"id": record["id"]})
    finally:
        server.stop()


def test_open_streams_per_key_are_limited(sse_server: ServerThread) -> None:
    wire = Wire(sse_server.url, "krs_beta")
    busy = wire.create(ticks=1_000_000)
    params = {"input": json.dumps({"id": busy["id"]})}
    try:
        with (
            httpx.stream("GET", sse_server.url + STREAM, params=params, headers=BETA) as one,
            httpx.stream("GET", sse_server.url + STREAM, params=params, headers=BETA) as two,
        ):
            held = [one.iter_raw(), two.iter_raw()]  # (a dropped iterator closes its response)
            for pieces in held:  # both started
                next(pieces)
            limited = error_of(events(sse_server.url, {"id": busy["id"]}, headers=BETA))
            other_key = events(
                sse_server.url, {"id": "sim_x"}, headers=ALPHA, until=lambda got: len(got) == 2
            )
        assert limited["data"]["code"] == "TOO_MANY_REQUESTS"
        assert limited["data"]["kairos"] == {
            "kind": "limit",
            "limit": "max_sse_streams_per_key",
            "maximum": 2,
        }
        assert error_of(other_key)["data"]["code"] == "NOT_FOUND", "another key is not limited"
    finally:
        wire.mutate("simulation.cancel", {"id": busy["id"]})


# -- streamed batches (httpBatchStreamLink) ------------------------------------------------------

JSONL = {"trpc-accept": "application/jsonl"}


def test_a_mixed_streamed_batch_answers_each_call_in_a_200_stream(
    sse_server: ServerThread, finished: dict[str, Any]
) -> None:
    url = sse_server.url + "/trpc/"
    inputs = {"1": {"id": finished["id"]}, "2": {"id": "sim_missing"}, "3": {"id": 5}}
    response = httpx.get(
        url + "engine.versions,simulation.get,simulation.get,simulation.get",
        params={"batch": "1", "input": json.dumps(inputs)},
        headers={**JSONL, **ALPHA},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "trpc-accept, accept"
    lines = response.text.splitlines()
    assert json.loads(lines[0]) == {str(i): [[0], [None, 0, i]] for i in range(4)}
    answers = decode_jsonl_batch(lines)
    assert answers[0] == {"result": {"data": engine.engine_versions()}}
    assert answers[1]["result"]["data"]["id"] == finished["id"]  # type: ignore[index]
    for index, code in [(2, "NOT_FOUND"), (3, "BAD_REQUEST")]:
        data = answers[index]["error"]["data"]  # type: ignore[index]
        assert data["code"] == code and data["path"] == "simulation.get"
        assert data["requestId"] == response.headers["x-request-id"]


def test_streamed_batches_of_mutations_auth_and_request_level_errors(
    sse_server: ServerThread,
) -> None:
    url = sse_server.url + "/trpc/"
    create = {"0": {"scenario": SCENARIO, "ticks": 5}, "1": {"scenario": {}, "ticks": 5}}
    posted = httpx.post(
        url + "simulation.create,simulation.create?batch=1",
        json=create,
        headers={**JSONL, **ALPHA},
    )
    answers = decode_jsonl_batch(posted.text.splitlines())
    assert answers[0]["result"]["data"]["ticks"] == 5  # type: ignore[index]
    assert answers[1]["error"]["data"]["code"] == "BAD_REQUEST"  # type: ignore[index]

    anonymous = httpx.get(url + "engine.versions,domain.list?batch=1", headers=JSONL)
    assert anonymous.status_code == 200, "auth fails per call, inside the stream"
    for index, path in enumerate(["engine.versions", "domain.list"]):
        data = decode_jsonl_batch(anonymous.text.splitlines())[index]["error"]["data"]  # type: ignore[index]
        assert (data["code"], data["path"]) == ("UNAUTHORIZED", path)

    single = httpx.get(url + "engine.versions", headers={**JSONL, **ALPHA})
    assert single.status_code == 400
    assert single.json()["error"]["message"] == (
        "Streaming requests must be batched (you can do a batch of 1)"
    )
    too_big = httpx.post(
        url + "simulation.create?batch=1",
        content=b'{"0":"' + b"x" * (1 << 20) + b'"}',
        headers={**JSONL, **ALPHA, "content-type": "application/json"},
    )
    assert too_big.status_code == 413
    mixed = httpx.post(
        url + "engine.versions,simulation.create?batch=1", json={}, headers={**JSONL, **ALPHA}
    )
    assert mixed.status_code == 400 and "Cannot mix procedure types" in mixed.text


def test_streamed_batches_are_rate_limited_like_any_request(tmp_path: Path) -> None:
    server = start_server(tmp_path, rate_limit=RateLimit(rate=0.5, burst=2))
    try:
        statuses = [
            httpx.get(server.url + "/trpc/engine.versions?batch=1", headers=JSONL).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = httpx.get(server.url + STREAM, params={"input": json.dumps({"id": "x"})})
        assert limited.status_code == 429 and "retry-after" in limited.headers
    finally:
        server.stop()


def test_a_graceful_shutdown_ends_open_streams_cleanly_without_return(tmp_path: Path) -> None:
    server = start_server(tmp_path, rate_limit=None, **FAST_SSE)
    record = Wire(server.url).create(ticks=1_000_000)
    stopper = threading.Thread(target=server.stop)

    def stop_once_streaming(got: list[SSEEvent]) -> bool:
        if len(got) == 2:
            stopper.start()
        return False

    try:
        # read to the end: a stream cut by the server's shutdown timeout would raise instead
        stream = events(server.url, {"id": record["id"]}, until=stop_once_streaming)
    finally:
        if not stopper.is_alive() and stopper.ident is None:
            server.stop()
        stopper.join(30)
    assert stream[0].event == "connected"
    assert stream[-1].event in ("message", "ping"), "no return: the client resumes elsewhere"
