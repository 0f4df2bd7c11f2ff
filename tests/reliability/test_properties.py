"""Property tests of the sans-I/O tRPC core and the scenario builder, extending
``tests/trpc/test_properties.py`` (which covers single WS requests, untracked-or-tracked
``encode_data``, the parsers never raising, and ``RetryPolicy.decide`` within its budget):

* HTTP: the client's ``build_request`` / ``build_batch_request`` parsed by the server's
  ``parse_http_request`` give back every call's path and input, for arbitrary JSON (non-ASCII,
  lone surrogates, deep-ish nesting, huge integers) and batch sizes up to the server limit;
* WebSocket: client batches with ``lastEventId`` and stops, and connectionParams frames, parse
  back on the server; every server frame (raw-spliced tracked data, results without data,
  started, stopped, id-null and per-request errors of every code, reconnect) decodes on the
  client to the event it encodes;
* retries: a whole retry loop fed arbitrary ``Retry-After`` headers (numbers, dates, garbage)
  never waits past its budget, nor more than the caps allow;
* ``AISafetyScenario``: valid scenarios round-trip through ``to_wire``/``from_wire``/
  ``kairos_api.Scenario`` identically and the engine runs them; invalid values anywhere raise
  ``ValidationError`` naming the offending path, never another exception type.
"""

from __future__ import annotations

import json
import math
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kairos_api
from kairos import engine
from kairos._trpc.codes import ERROR_CODES
from kairos._trpc.envelopes import TRPCError
from kairos._trpc.http_client import build_batch_request, build_request
from kairos._trpc.http_server import ParsedRequest, parse_http_request
from kairos._trpc.json_values import ABSENT, RawJSON
from kairos._trpc.retry import GiveUp, Retry, RetryPolicy, StatusOutcome, parse_retry_after
from kairos._trpc.ws_client import (
    Data,
    Error,
    ReconnectRequested,
    Started,
    Stopped,
    decode_server_frame,
    encode_connection_params,
    encode_request,
    encode_stop,
)
from kairos._trpc.ws_server import (
    ConnectionParams,
    Messages,
    WSRequest,
    WSStop,
    encode_data,
    encode_error,
    encode_reconnect,
    encode_result,
    encode_started,
    encode_stopped,
    merge_last_event_id,
    parse_client_frame,
    parse_connection_params,
)
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import ValidationError
from kairos_api import PROCEDURES

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text including lone surrogates (valid in JavaScript strings, and so on the wire).
wire_text = st.text(st.characters(codec=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "\u2028", "é✓𝄞", "%41%zz", "&input=1", "#?/"]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**300), 10**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | wire_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(wire_text, children, max_size=4)
    ),
    max_leaves=25,
)
nested = st.integers(1, 300).flatmap(
    lambda depth: json_values.map(lambda v: json.loads("[" * depth + json.dumps(v) + "]" * depth))
)
inputs = json_values | nested | st.just(ABSENT)
queries = sorted(p for p, proc in PROCEDURES.items() if proc.kind == "query")
mutations = sorted(p for p, proc in PROCEDURES.items() if proc.kind == "mutation")
request_ids = st.integers(-(2**53), 2**53) | st.text(max_size=10)
event_ids = st.text(st.characters(blacklist_characters="\0\n\r"), min_size=1, max_size=12)


def same_json(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def same_input(got: object, sent: object) -> bool:
    return got is ABSENT if sent is ABSENT else same_json(got, sent)


# -- HTTP: client request -> server parser ---------------------------------------------------


def _parse(spec: Any) -> ParsedRequest:
    headers = dict(spec.headers)
    parsed = parse_http_request(
        spec.method,
        spec.path,
        spec.query,
        headers,
        spec.body or b"",
        PROCEDURES,
        max_batch_size=64,
    )
    assert isinstance(parsed, ParsedRequest), parsed
    return parsed


@BOUNDED
@given(st.sampled_from(["query", "mutation"]), st.data())
def test_single_http_requests_round_trip(kind: str, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(queries if kind == "query" else mutations))
    value = data.draw(inputs)
    parsed = _parse(build_request(path, kind, value))  # type: ignore[arg-type]
    assert not parsed.is_batch and parsed.kind == kind
    [call] = parsed.calls
    assert call.path == path and call.error is None
    if PROCEDURES[path].input_model is not None:
        assert same_input(call.input, value)


@BOUNDED
@given(st.sampled_from(["query", "mutation"]), st.data())
def test_batch_http_requests_round_trip(kind: str, data: st.DataObject) -> None:
    names = [p for p in (queries if kind == "query" else mutations) if PROCEDURES[p].input_model]
    calls = data.draw(st.lists(st.tuples(st.sampled_from(names), inputs), min_size=1, max_size=64))
    parsed = _parse(build_batch_request(kind, calls))  # type: ignore[arg-type]
    assert parsed.is_batch and len(parsed.calls) == len(calls)
    for (path, value), call in zip(calls, parsed.calls, strict=True):
        assert call.path == path and call.error is None
        assert same_input(call.input, value)


@settings(max_examples=20, deadline=None)
@given(st.integers(65, 200))
def test_batches_over_the_limit_are_one_request_level_error(n: int) -> None:
    spec = build_batch_request("query", [("simulation.get", {"id": "x"})] * n)
    parsed = parse_http_request(
        "GET", spec.path, spec.query, {}, b"", PROCEDURES, max_batch_size=64
    )
    assert not isinstance(parsed, ParsedRequest)
    assert parsed.error is not None and parsed.error.code == "BAD_REQUEST"


# -- WebSocket: client frames -> server parser -----------------------------------------------

ws_messages = st.one_of(
    st.tuples(
        request_ids,
        st.sampled_from(["query", "mutation", "subscription"]),
        st.sampled_from(sorted(PROCEDURES)),
        inputs,
        st.none() | event_ids,
    ),
    request_ids.map(lambda id: (id,)),
)


@BOUNDED
@given(st.lists(ws_messages, min_size=1, max_size=20))
def test_client_batches_with_resume_ids_and_stops_round_trip(
    messages: list[tuple[Any, ...]],
) -> None:
    frames = [
        encode_request(m[0], m[1], m[2], m[3], last_event_id=m[4])
        if len(m) > 1
        else encode_stop(m[0])
        for m in messages
    ]
    parsed = parse_client_frame("[" + ",".join(frames) + "]")
    assert isinstance(parsed, Messages) and len(parsed.items) == len(messages)
    for sent, got in zip(messages, parsed.items, strict=True):
        if len(sent) == 1:
            assert got == WSStop(sent[0])
            continue
        id, method, path, value, last_event_id = sent
        assert isinstance(got, WSRequest)
        assert (got.id, got.method, got.path, got.last_event_id) == (
            id,
            method,
            path,
            last_event_id,
        )
        assert same_input(got.input, merge_last_event_id(value, last_event_id))


@BOUNDED
@given(st.none() | st.dictionaries(wire_text, wire_text, max_size=5))
def test_connection_params_round_trip(params: dict[str, str] | None) -> None:
    assert parse_connection_params(encode_connection_params(params)) == ConnectionParams(params)


# -- WebSocket: server frames -> client decoder ----------------------------------------------

codes = st.sampled_from(sorted(ERROR_CODES))


@BOUNDED
@given(request_ids, json_values, st.none() | event_ids)
def test_raw_spliced_data_frames_decode_to_the_value(
    id: int | str, value: object, tracked_id: str | None
) -> None:
    frame = encode_data(id, RawJSON(json.dumps(value)), tracked_id=tracked_id)
    event = decode_server_frame(frame)
    assert isinstance(event, Data)
    assert (event.id, event.tracked_id) == (id, tracked_id) and same_json(event.data, value)


@BOUNDED
@given(
    request_ids, codes, wire_text, st.none() | st.text(max_size=8), json_values | st.just(ABSENT)
)
def test_every_server_frame_decodes_to_its_event(
    id: int | str, code: Any, message: str, request_id: str | None, value: object
) -> None:
    assert decode_server_frame(encode_started(id)) == Started(id)
    assert decode_server_frame(encode_stopped(id, jsonrpc="2.0")) == Stopped(id)
    assert isinstance(decode_server_frame(encode_reconnect()), ReconnectRequested)
    result = decode_server_frame(encode_result(id, value))
    assert isinstance(result, Data) and result.tracked_id is None
    assert same_input(result.data, value)
    for target in (id, None):
        event = decode_server_frame(
            encode_error(target, TRPCError(code, message), request_id=request_id)
        )
        assert isinstance(event, Error) and event.id == target
        assert event.shape["message"] == message
        assert event.shape["code"] == ERROR_CODES[code].number
        data = event.shape["data"]
        assert isinstance(data, dict) and data["code"] == code
        assert data.get("requestId") == request_id


# -- retries -----------------------------------------------------------------------------------

retry_after_headers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**9).map(str),
    st.integers(-(10**9), 10**10).map(lambda t: formatdate(t, usegmt=True)),
    st.text(max_size=30),
)


@BOUNDED
@given(
    st.builds(
        RetryPolicy,
        st.integers(0, 12),
        st.floats(0, 20),
        st.floats(0, 60),
        st.floats(0, 600),
        st.floats(0, 2),
        st.floats(0, 300),
    ),
    st.lists(
        st.tuples(st.sampled_from([429, 502, 503, 500]), retry_after_headers, st.floats(0, 1)),
        min_size=1,
        max_size=30,
    ),
    st.floats(0, 2e9),
)
def test_a_retry_loop_fed_any_retry_after_stays_in_its_budget(
    policy: RetryPolicy, failures: list[tuple[int, str | None, float]], now: float
) -> None:
    spent = 0.0
    attempt = 0
    for status, header, rng in failures:
        hint = parse_retry_after(header, now=now)
        assert hint is None or (math.isfinite(hint) and hint >= 0)
        decision = policy.decide(
            attempt, StatusOutcome(status, hint), retry_safe=False, rng_value=rng, spent=spent
        )
        if isinstance(decision, GiveUp):
            break
        assert isinstance(decision, Retry) and status != 500
        # A server's hint is capped, then spread by up to ``jitter`` of itself.
        cap = policy.max_retry_after * (1 + policy.jitter) if hint is not None else policy.max_delay
        assert 0.0 <= decision.delay <= cap
        spent += decision.delay
        attempt += 1
    assert attempt <= policy.max_retries
    assert spent <= policy.max_total_delay + 1e-9


# -- AISafetyScenario --------------------------------------------------------------------------

event_types = [t.value for t in AISafetyEventType]
names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,11}", fullmatch=True)
scenario_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@st.composite
def valid_wire(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario whose every value is in range (the engine's ranges)."""

    def num(lo: float, hi: float) -> st.SearchStrategy[float | int]:
        return st.integers(math.ceil(lo), math.floor(hi)) | st.floats(lo, hi)

    model_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    body_names = draw(
        st.lists(names.filter(lambda n: n not in model_names), max_size=3, unique=True)
    )
    models = []
    for name in model_names:
        model: dict[str, Any] = {
            "name": name,
            "capabilityIndex": draw(num(1, 1000)),
            "alignmentScore": draw(num(0, 100)),
        }
        for key, hi in (
            ("guardrailCoverage", 100),
            ("autonomyLevel", 10),
            ("humanOversightFreq", 100),
        ):
            if draw(st.booleans()):
                model[key] = draw(num(0, hi))
        models.append(model)
    bodies = [
        {"name": n, "guardrailStrength": draw(num(0, 100)), "responseLatency": draw(num(0, 100))}
        for n in body_names
    ]
    events = []
    for _ in range(draw(st.integers(0, 4))):
        event: dict[str, Any] = {
            "tick": draw(st.integers(1, 50)),
            "type": draw(st.sampled_from(event_types)),
        }
        target = draw(st.none() | st.sampled_from(model_names + body_names))
        if target is not None:
            event["target"] = target
        events.append(event)
    # Keep only the targets the event type allows (the engine knows which).
    for event in events:
        wire = {
            "name": "n",
            "seed": 0,
            "models": models,
            "oversightBodies": bodies,
            "events": [event],
        }
        if engine.validate_scenario(wire):
            event.pop("target", None)
    events = [
        e
        for e in events
        if not engine.validate_scenario(
            {"name": "n", "seed": 0, "models": models, "oversightBodies": bodies, "events": [e]}
        )
    ]
    return {
        "name": draw(scenario_names),
        "domain": "ai_safety",
        "seed": draw(st.integers(0, 2**53 - 1)),
        "models": models,
        "oversightBodies": bodies,
        "events": events,
    }


def _engine_accepts(wire: dict[str, Any]) -> None:
    assert engine.validate_scenario(wire) == []
    steps = engine.run(wire, 3)
    assert [s["t"] for s in steps] == [1, 2, 3]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_wire())
def test_valid_scenarios_round_trip_identically_and_run(wire: dict[str, Any]) -> None:
    scenario = AISafetyScenario.from_wire(wire)
    out = scenario.to_wire()
    assert same_json(out, wire)
    model = kairos_api.Scenario.model_validate(out)
    assert AISafetyScenario.from_wire(model) == scenario
    assert AISafetyScenario.from_wire(out) == scenario
    assert kairos_api.Scenario.model_validate(model.model_dump(mode="json", by_alias=True)) == model
    _engine_accepts(out)


anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
bad_values = anything | st.sampled_from(
    [
        -1,
        -1e-9,
        1e999,
        -1e999,
        math.nan,
        10**400,
        2**53,
        1001,
        101,
        11,
        "",
        "50",
        True,
        None,
        [],
        {},
    ]
)


def _paths(wire: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(wire path, key path) of every field of a scenario."""
    out: list[tuple[str, list[Any]]] = [("name", ["name"]), ("seed", ["seed"])]
    for group in ("models", "oversightBodies", "events"):
        for i, entry in enumerate(wire[group]):
            for key in entry:
                out.append((f"{group}[{i}].{key}", [group, i, key]))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_wire(), st.data())
def test_an_invalid_value_anywhere_is_a_validation_error_naming_it(
    wire: dict[str, Any], data: st.DataObject
) -> None:
    path, keys = data.draw(st.sampled_from(_paths(wire)))
    value = data.draw(bad_values)
    mutated = json.loads(json.dumps(wire))
    target: Any = mutated
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    try:
        scenario = AISafetyScenario.from_wire(mutated)
    except ValidationError as exc:
        assert exc.issues and all(isinstance(i.path, str) and i.message for i in exc.issues)
        assert any(i.path == path or i.path.startswith(path) for i in exc.issues) or any(
            # a name clash or a dangling target is reported where the engine sees it
            "name" in path or "target" in i.path or "name" in i.path
            for i in exc.issues
        ), (path, value, exc.issues)
        return
    # Accepted: the value was in range after all; the engine agrees and it round-trips.
    out = scenario.to_wire()
    _engine_accepts(out)
    assert AISafetyScenario.from_wire(kairos_api.Scenario.model_validate(out)) == scenario


@settings(max_examples=80, deadline=None)
@given(bad_values, bad_values, bad_values, bad_values, bad_values)
def test_the_builder_raises_only_validation_errors(
    name: Any, seed: Any, capability: Any, tick: Any, magnitude: Any
) -> None:
    for build in (
        lambda: AISafetyScenario(name, seed),
        lambda: AISafetyScenario("s", 1).add_model("m", capability, 50),
        lambda: AISafetyScenario("s", 1).add_model(name, 100, magnitude, capability, seed, tick),
        lambda: AISafetyScenario("s", 1).add_oversight_body(name, capability, magnitude),
        lambda: (
            AISafetyScenario("s", 1)
            .add_model("m", 100, 50)
            .add_event(tick, "capability_jump", "m", magnitude)
        ),
        lambda: AISafetyScenario("s", 1).add_model("m", 100, 50).add_event(1, name, seed),
    ):
        try:
            build()
        except ValidationError as exc:
            assert exc.issues and all(i.path for i in exc.issues)


@pytest.mark.parametrize("garbage", [None, 7, "x", [], {"name": 1}, {"models": "m"}])
def test_from_wire_of_garbage_is_a_validation_error(garbage: Any) -> None:
    with pytest.raises(ValidationError) as info:
        AISafetyScenario.from_wire(garbage)
    assert info.value.issues
