"""Client-side WebSocket frames (trpc-protocol.md §5)."""

from __future__ import annotations

import json

import pytest

from kairos._trpc.json_values import ABSENT
from kairos._trpc.ws_client import (
    Data,
    Error,
    ProtocolViolation,
    ReconnectRequested,
    Started,
    Stopped,
    decode_server_frame,
    encode_connection_params,
    encode_request,
    encode_stop,
)
from kairos._trpc.ws_common import PING, PONG, Ping, Pong


def test_a_request_frame_has_id_method_and_params() -> None:
    frame = encode_request(3, "subscription", "count", {"from": 1})
    assert frame == '{"id":3,"method":"subscription","params":{"path":"count","input":{"from":1}}}'


def test_an_undefined_input_is_left_out_of_params() -> None:
    assert (
        encode_request(1, "query", "greet") == '{"id":1,"method":"query","params":{"path":"greet"}}'
    )


def test_last_event_id_goes_into_params() -> None:
    frame = json.loads(encode_request(9, "subscription", "count", {"from": 1}, last_event_id="42"))
    assert frame["params"] == {"path": "count", "input": {"from": 1}, "lastEventId": "42"}


def test_stop_frame() -> None:
    assert encode_stop(3) == '{"id":3,"method":"subscription.stop"}'


def test_connection_params_frame() -> None:
    assert encode_connection_params({"authorization": "Bearer k"}) == (
        '{"method":"connectionParams","data":{"authorization":"Bearer k"}}'
    )
    assert encode_connection_params(None) == '{"method":"connectionParams","data":null}'


def test_connection_params_must_be_strings() -> None:
    with pytest.raises(ValueError, match="n"):
        encode_connection_params({"n": 1})  # type: ignore[dict-item]


def test_ping_and_pong_are_literal_text_frames() -> None:
    assert (PING, PONG) == ("PING", "PONG")
    assert decode_server_frame("PING") == Ping()
    assert decode_server_frame(b"PONG") == Pong()


def test_a_query_result_decodes_as_data() -> None:
    assert decode_server_frame('{"id":1,"result":{"type":"data","data":"hi"}}') == Data(1, "hi")


def test_started_and_stopped() -> None:
    assert decode_server_frame('{"id":3,"result":{"type":"started"}}') == Started(3)
    assert decode_server_frame('{"id":3,"result":{"type":"stopped"}}') == Stopped(3)


@pytest.mark.parametrize(
    "frame",
    [
        '{"id":3,"result":{"type":"data","id":"7","data":{"id":"7","data":{"i":7}}}}',
        '{"id":3,"result":{"type":"data","data":{"id":"7","data":{"i":7}},"id":"7"}}',
    ],
)
def test_tracked_data_is_unwrapped_with_its_tracked_id(frame: str) -> None:
    assert decode_server_frame(frame) == Data(3, {"i": 7}, "7")


def test_untracked_data_without_a_value_is_absent() -> None:
    assert decode_server_frame('{"id":3,"result":{"type":"data"}}') == Data(3, ABSENT)


def test_an_error_for_a_request() -> None:
    frame = (
        '{"id":5,"error":{"message":"no","code":-32003,'
        '"data":{"code":"FORBIDDEN","httpStatus":403,"path":"subfail"}}}'
    )
    event = decode_server_frame(frame)
    assert isinstance(event, Error) and event.id == 5
    assert event.shape["message"] == "no"


def test_an_id_null_error_is_a_connection_error() -> None:
    frame = (
        '{"id":null,"error":{"message":"bad","code":-32001,'
        '"data":{"code":"UNAUTHORIZED","httpStatus":401}}}'
    )
    event = decode_server_frame(frame)
    assert isinstance(event, Error) and event.id is None


def test_a_reconnect_notification() -> None:
    assert decode_server_frame('{"id":null,"method":"reconnect"}') == ReconnectRequested()


def test_jsonrpc_echo_is_accepted() -> None:
    frame = '{"id":1,"jsonrpc":"2.0","result":{"type":"data","data":1}}'
    assert decode_server_frame(frame) == Data(1, 1)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "[]",
        "42",
        "{}",
        '{"id":1}',
        '{"id":1,"result":{"type":"weird"}}',
        '{"id":null,"result":{"type":"started"}}',
        '{"id":true,"result":{"type":"started"}}',
        '{"id":1,"error":"boom"}',
        '{"id":1,"error":{"message":"x","code":"NOT_FOUND"}}',
        '{"id":1,"result":{"type":"data","id":7,"data":{"id":7,"data":1}}}',
        '{"id":1,"result":{"type":"data","id":"7","data":{"i":1}}}',
        '{"id":1,"result":{"type":"data","id":"7","data":{"id":"8","data":1}}}',
        b"\xff\xfe",
    ],
)
def test_garbage_is_a_protocol_violation_not_an_exception(frame: str | bytes) -> None:
    assert isinstance(decode_server_frame(frame), ProtocolViolation)
