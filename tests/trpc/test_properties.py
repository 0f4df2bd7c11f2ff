"""Property tests: round trips, parsers that never raise, retry bounds, exactly-once resume."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kairos._trpc.codes import ERROR_CODES
from kairos._trpc.envelopes import Err, Malformed, Ok, TRPCError
from kairos._trpc.http_client import parse_response
from kairos._trpc.http_server import (
    ImmediateResponse,
    ParsedRequest,
    build_http_response,
    parse_http_request,
)
from kairos._trpc.json_values import ABSENT
from kairos._trpc.resume import Deliver, Gap, check_chunk
from kairos._trpc.retry import ConnectionFailed, GiveUp, Retry, RetryPolicy, StatusOutcome, TimedOut
from kairos._trpc.ws_client import Data, ServerEvent, decode_server_frame, encode_request
from kairos._trpc.ws_common import Ping, Pong
from kairos._trpc.ws_server import (
    FrameRejected,
    Messages,
    WSRequest,
    encode_data,
    parse_client_frame,
)

from .conftest import REGISTRY

FAST = settings(max_examples=150, deadline=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
keys = st.sampled_from(sorted(ERROR_CODES))
paths = st.text(st.characters(blacklist_characters=","), min_size=1, max_size=20)
request_ids = st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=10)
tracked_ids = st.text(st.characters(blacklist_characters="\0\n\r"), min_size=1, max_size=10)
outcome_results = st.one_of(
    json_values.map(Ok),
    st.builds(lambda k, m: TRPCError(k, m), keys, st.text(max_size=20)),  # type: ignore[arg-type]
)
garbage = (
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
)


def same_json(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@FAST
@given(st.lists(st.tuples(outcome_results, paths), min_size=1, max_size=5), st.booleans())
def test_http_responses_round_trip_through_the_client_parser(
    calls: list[tuple[Ok | TRPCError, str]], force_batch: bool
) -> None:
    is_batch = force_batch or len(calls) > 1
    results = [r for r, _ in calls]
    spec = build_http_response(results, is_batch, paths=[p for _, p in calls])
    parsed = parse_response(spec.status, spec.body, n_calls=len(calls), is_batch=is_batch)
    assert len(parsed) == len(calls)
    for (sent, path), got in zip(calls, parsed, strict=True):
        if isinstance(sent, Ok):
            assert isinstance(got, Ok) and same_json(got.data, sent.data)
        else:
            assert isinstance(got, Err)
            assert (got.key, got.message, got.http_status) == (
                sent.code,
                sent.message,
                sent.http_status,
            )
            assert got.data["path"] == path
    statuses = {200 if isinstance(r, Ok) else r.http_status for r in results}
    assert spec.status == (statuses.pop() if len(statuses) == 1 else 207)


@FAST
@given(garbage, st.integers(100, 599), st.integers(1, 4), st.booleans())
def test_the_response_parser_never_raises(body: bytes, status: int, n: int, is_batch: bool) -> None:
    n = n if is_batch else 1
    results = parse_response(status, body, n_calls=n, is_batch=is_batch)
    assert len(results) == n
    assert all(isinstance(r, Ok | Err | Malformed) for r in results)


@FAST
@given(request_ids, json_values, st.none() | tracked_ids)
def test_server_data_frames_round_trip_through_the_client_decoder(
    id: int | str, value: object, tracked_id: str | None
) -> None:
    event = decode_server_frame(encode_data(id, value, tracked_id=tracked_id))
    assert isinstance(event, Data)
    assert event.id == id and event.tracked_id == tracked_id and same_json(event.data, value)


@FAST
@given(
    request_ids,
    st.sampled_from(["query", "mutation", "subscription"]),
    paths,
    json_values | st.just(ABSENT),
)
def test_client_requests_round_trip_through_the_server_parser(
    id: int | str, method: Any, path: str, input: object
) -> None:
    parsed = parse_client_frame(encode_request(id, method, path, input))
    assert isinstance(parsed, Messages)
    [request] = parsed.items
    assert isinstance(request, WSRequest)
    assert (request.id, request.method, request.path) == (id, method, path)
    assert request.input is ABSENT if input is ABSENT else same_json(request.input, input)


@FAST
@given(garbage)
def test_the_server_frame_parser_never_raises(frame: bytes) -> None:
    for candidate in (frame, frame.decode("utf-8", errors="replace")):
        parsed = parse_client_frame(candidate)
        assert isinstance(parsed, Ping | Pong | Messages | FrameRejected)
        if isinstance(parsed, FrameRejected):
            assert parsed.error.code == "PARSE_ERROR" and parsed.error.message


@FAST
@given(garbage)
def test_the_client_frame_decoder_never_raises(frame: bytes) -> None:
    event: ServerEvent = decode_server_frame(frame)
    assert event is not None


@FAST
@given(
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "get"]),
    st.text(max_size=40),
    st.text(max_size=60),
    st.dictionaries(
        st.sampled_from(["content-type", "Content-Type", "x"]), st.text(max_size=30), max_size=2
    ),
    garbage,
)
def test_the_http_request_parser_never_raises(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> None:
    result = parse_http_request(method, path, query, headers, body, REGISTRY)
    assert isinstance(result, ParsedRequest | ImmediateResponse)
    if isinstance(result, ParsedRequest):
        assert result.calls and all(
            c.error is not None or c.procedure is not None for c in result.calls
        )


outcomes = st.one_of(
    st.builds(StatusOutcome, st.integers(100, 599), st.none() | st.floats(allow_nan=True)),
    st.just(ConnectionFailed()),
    st.just(TimedOut()),
)


@FAST
@given(
    st.integers(0, 10),
    st.floats(0, 10),
    st.floats(0, 100),
    st.floats(0, 300),
    st.floats(0, 1000),
    st.lists(st.tuples(outcomes, st.floats(0, 1)), min_size=1, max_size=20),
    st.booleans(),
)
def test_retry_delays_stay_in_bounds_and_the_total_in_budget(
    max_retries: int,
    backoff: float,
    max_delay: float,
    max_retry_after: float,
    budget: float,
    failures: list[tuple[Any, float]],
    retry_safe: bool,
) -> None:
    policy = RetryPolicy(max_retries, backoff, max_delay, max_retry_after, 0.25, budget)
    spent = 0.0
    attempt = 0
    for outcome, rng in failures:
        decision = policy.decide(
            attempt, outcome, retry_safe=retry_safe, rng_value=rng, spent=spent
        )
        if isinstance(decision, GiveUp):
            break
        assert isinstance(decision, Retry)
        assert 0.0 <= decision.delay <= max(max_delay, max_retry_after)
        spent += decision.delay
        attempt += 1
    assert attempt <= max_retries
    assert spent <= budget + 1e-9


@st.composite
def resent_chunk_streams(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A run of N ticks sent as chunks that may restart earlier (a resumed server re-sending)."""
    total = draw(st.integers(1, 60))
    chunks: list[tuple[int, int]] = []
    sent = 0
    while sent < total:
        rewind = draw(st.integers(0, min(sent, 10)))
        start = sent + 1 - rewind
        end = min(total, start + draw(st.integers(0, 8)))
        chunks.append((start, end))
        sent = max(sent, end)
    return total, chunks


@FAST
@given(resent_chunk_streams())
def test_resume_delivers_every_tick_exactly_once_in_order(
    stream: tuple[int, list[tuple[int, int]]],
) -> None:
    total, chunks = stream
    last: str | None = None
    delivered: list[int] = []
    for start, end in chunks:
        data = {"steps": [{"t": t} for t in range(start, end + 1)]}
        result = check_chunk(data, str(end), last)
        assert isinstance(result, Deliver)
        if result.data is not None:
            delivered += [step["t"] for step in result.data["steps"]]
            last = str(end)
    assert delivered == list(range(1, total + 1))


@FAST
@given(st.integers(0, 100), st.integers(2, 50), st.integers(0, 10))
def test_resume_reports_any_gap(last: int, skip: int, length: int) -> None:
    start = last + skip
    data = {"steps": [{"t": t} for t in range(start, start + length + 1)]}
    assert check_chunk(data, None, str(last) if last else None) == Gap(last + 1, start)
