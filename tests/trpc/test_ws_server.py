"""Server-side WebSocket parsing and frames (trpc-protocol.md §5)."""

from __future__ import annotations

import json

import pytest

from kairos._trpc.envelopes import TRPCError
from kairos._trpc.json_values import ABSENT
from kairos._trpc.ws_common import Ping, Pong
from kairos._trpc.ws_server import (
    ConnectionParams,
    FrameRejected,
    Messages,
    NullIdRequest,
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
    resolve_ws_procedure,
)

from .conftest import REGISTRY


def messages(frame: str) -> tuple[object, ...]:
    parsed = parse_client_frame(frame)
    assert isinstance(parsed, Messages), parsed
    return parsed.items


def rejection(frame: str | bytes) -> TRPCError:
    parsed = parse_client_frame(frame)
    assert isinstance(parsed, FrameRejected), parsed
    assert parsed.error.code == "PARSE_ERROR" and parsed.error.http_status == 400
    return parsed.error


def test_ping_and_pong_are_recognised_before_JSON() -> None:
    assert parse_client_frame("PING") == Ping()
    assert parse_client_frame("PONG") == Pong()
    assert parse_client_frame(b"PING") == Ping() and parse_client_frame(b"PONG") == Pong()
    # only the exact frames: anything else is JSON (and here not valid JSON)
    for frame in ("ping", " PING", "PING\n", b"PONGPONG"):
        assert rejection(frame).code == "PARSE_ERROR"


def test_a_request() -> None:
    [request] = messages('{"id":1,"method":"query","params":{"path":"greet","input":{"n":1}}}')
    assert request == WSRequest(1, "query", "greet", {"n": 1})


def test_an_undefined_input_is_absent() -> None:
    [request] = messages('{"id":"a","method":"mutation","params":{"path":"add"}}')
    assert isinstance(request, WSRequest) and request.input is ABSENT and request.id == "a"


def test_float_ids_work_and_integral_ones_are_ints() -> None:
    ids = [
        m.id
        for m in messages(
            '[{"id":1.5,"method":"subscription.stop"},{"id":2.0,"method":"subscription.stop"}]'
        )
    ]  # type: ignore[attr-defined]
    assert ids == [1.5, 2]
    assert isinstance(ids[1], int)


def test_a_stop() -> None:
    assert messages('{"id":3,"method":"subscription.stop"}') == (WSStop(3),)


def test_jsonrpc_2_is_accepted_and_remembered_for_the_echo() -> None:
    [request] = messages('{"id":1,"jsonrpc":"2.0","method":"query","params":{"path":"greet"}}')
    assert isinstance(request, WSRequest) and request.jsonrpc == "2.0"
    assert (
        encode_result(1, "hi", jsonrpc="2.0")
        == '{"id":1,"jsonrpc":"2.0","result":{"type":"data","data":"hi"}}'
    )


def test_last_event_id_is_merged_into_an_object_input() -> None:
    [request] = messages(
        '{"id":4,"method":"subscription","params":{"path":"count","input":{"from":1},"lastEventId":"7"}}'
    )
    assert isinstance(request, WSRequest)
    assert (request.input, request.last_event_id) == ({"from": 1, "lastEventId": "7"}, "7")


@pytest.mark.parametrize(
    ("input", "merged"),
    [
        ({"a": 1}, {"a": 1, "lastEventId": "5"}),
        ({"lastEventId": "1"}, {"lastEventId": "5"}),
        (None, {"lastEventId": "5"}),
        (ABSENT, {"lastEventId": "5"}),
        (3, 3),
        ("s", "s"),
        ([1], [1]),
    ],
)
def test_merge_last_event_id_follows_tRPC(input: object, merged: object) -> None:
    assert merge_last_event_id(input, "5") == merged
    assert merge_last_event_id(input, None) is input


def test_invalid_JSON_is_an_id_null_parse_error_with_the_parser_message() -> None:
    assert rejection("{nope").message.startswith("Invalid JSON")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("42", "Not an object"),
        ("null", "Not an object"),
        ('"text"', "Not an object"),
        ('{"id":1,"method":"query"}', "Not an object"),
        ('{"id":1,"method":"query","params":[]}', "Not an object"),
        ('{"id":1,"method":"nope","params":{"path":"greet"}}', "Invalid procedure type"),
        ('{"id":1,"params":{"path":"greet"}}', "Invalid procedure type"),
        ('{"method":"query","params":{"path":"greet"}}', "Invalid request id"),
        ('{"id":true,"method":"query","params":{"path":"greet"}}', "Invalid request id"),
        ('{"id":{},"method":"query","params":{"path":"greet"}}', "Invalid request id"),
        (
            '{"id":1,"jsonrpc":"1.0","method":"query","params":{"path":"greet"}}',
            "Must be JSONRPC 2.0",
        ),
        ('{"id":1,"method":"query","params":{"path":3}}', "Invalid string"),
        ('{"id":1,"method":"query","params":{"path":"g","lastEventId":3}}', "Invalid string"),
    ],
)
def test_malformed_messages_get_tRPC_messages(frame: str, message: str) -> None:
    assert rejection(frame).message == message


def test_one_invalid_element_rejects_the_whole_batch() -> None:
    frame = '[{"id":1,"method":"query","params":{"path":"greet"}},42]'
    assert rejection(frame).message == "Not an object"


def test_a_valid_batch_yields_every_message_in_order() -> None:
    frame = (
        '[{"id":1,"method":"query","params":{"path":"greet"}},'
        '{"id":2,"method":"subscription.stop"}]'
    )
    assert [type(m) for m in messages(frame)] == [WSRequest, WSStop]


def test_an_empty_batch_has_no_messages() -> None:
    assert messages("[]") == ()


def test_a_null_id_is_answered_alone_with_id_is_required() -> None:
    items = messages(
        '[{"id":null,"method":"query","params":{"path":"greet"}},{"id":2,"method":"query","params":{"path":"greet"}}]'
    )
    assert isinstance(items[0], NullIdRequest) and isinstance(items[1], WSRequest)
    assert items[0].error.message == "`id` is required"
    assert items[0].error.code == "PARSE_ERROR"


def test_id_null_rejections_encode_with_null_id() -> None:
    frame = json.loads(encode_error(None, rejection("42")))
    assert frame == {
        "id": None,
        "error": {
            "message": "Not an object",
            "code": -32700,
            "data": {"code": "PARSE_ERROR", "httpStatus": 400},
        },
    }


def test_connection_params_object_of_strings() -> None:
    params = parse_connection_params(
        '{"method":"connectionParams","data":{"authorization":"Bearer k"}}'
    )
    assert params == ConnectionParams({"authorization": "Bearer k"})


def test_connection_params_null_is_accepted() -> None:
    assert parse_connection_params('{"method":"connectionParams","data":null}') == ConnectionParams(
        None
    )


@pytest.mark.parametrize(
    "frame",
    [
        '{"method":"connectionParams","data":{"n":1}}',
        '{"method":"connectionParams","data":[]}',
        '{"method":"connectionParams","data":"x"}',
        '{"id":1,"method":"query","params":{"path":"greet"}}',
        "42",
    ],
)
def test_other_connection_params_are_an_invalid_shape(frame: str) -> None:
    result = parse_connection_params(frame)
    assert isinstance(result, FrameRejected)
    assert result.error.message == "Invalid connection params shape"


def test_connection_params_that_are_not_JSON_report_the_parser_message() -> None:
    result = parse_connection_params("{")
    assert isinstance(result, FrameRejected) and result.error.message.startswith("Invalid JSON")


def test_a_missing_procedure_or_wrong_kind_uses_the_WebSocket_message() -> None:
    unknown = resolve_ws_procedure(REGISTRY, WSRequest(1, "query", "nope", ABSENT))
    assert isinstance(unknown, TRPCError)
    assert (unknown.code, unknown.message) == ("NOT_FOUND", 'No "query"-procedure on path "nope"')
    wrong = resolve_ws_procedure(REGISTRY, WSRequest(1, "subscription", "greet", ABSENT))
    assert (
        isinstance(wrong, TRPCError)
        and wrong.message == 'No "subscription"-procedure on path "greet"'
    )
    assert (
        resolve_ws_procedure(REGISTRY, WSRequest(1, "query", "greet", ABSENT)) is REGISTRY["greet"]
    )


def test_server_frames_match_the_captured_ones() -> None:
    assert encode_result(1, {"a": 1}) == '{"id":1,"result":{"type":"data","data":{"a":1}}}'
    assert encode_started(3) == '{"id":3,"result":{"type":"started"}}'
    assert encode_data(3, {"i": 1}) == '{"id":3,"result":{"type":"data","data":{"i":1}}}'
    assert encode_data(3, {"i": 7}, tracked_id="7") == (
        '{"id":3,"result":{"type":"data","id":"7","data":{"id":"7","data":{"i":7}}}}'
    )
    assert encode_stopped(3) == '{"id":3,"result":{"type":"stopped"}}'
    assert encode_reconnect() == '{"id":null,"method":"reconnect"}'


def test_an_error_frame_carries_the_shape_and_request_id() -> None:
    frame = json.loads(
        encode_error(5, TRPCError("FORBIDDEN", "no", path="subfail"), request_id="r")
    )
    assert frame["id"] == 5
    assert frame["error"]["data"] == {
        "code": "FORBIDDEN",
        "httpStatus": 403,
        "path": "subfail",
        "requestId": "r",
    }


@pytest.mark.parametrize("bad", ["", "a\nb", "a\rb", "a\0b"])
def test_tracked_ids_must_be_usable_event_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_data(1, 1, tracked_id=bad)


def test_raw_json_data_is_spliced_as_encode_data_would_encode_the_value() -> None:
    from kairos._trpc.json_values import RawJSON
    from kairos._trpc.ws_server import encode_data

    value = {"steps": [{"t": 1, "stability": 0.5}, {"t": 2, "stability": 0.25}]}
    text = '{"steps":[{"t":1,"stability":0.5},{"t":2,"stability":0.25}]}'
    for tracked in (None, "2"):
        for jsonrpc in (None, "2.0"):
            raw = encode_data(7, RawJSON(text), tracked_id=tracked, jsonrpc=jsonrpc)
            assert raw == encode_data(7, value, tracked_id=tracked, jsonrpc=jsonrpc)
    # A string id that looks like the slot cannot confuse the splice: the data comes last.
    tricky = encode_data("\0kairos-raw-json\0", RawJSON("[1]"), tracked_id="5")
    assert tricky.endswith('"data":{"id":"5","data":[1]}}}')
