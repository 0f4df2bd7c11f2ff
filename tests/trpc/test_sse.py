"""SSE frames of tRPC subscriptions (trpc-protocol.md §6): the events @trpc/server writes, the
resume id's sources, connectionParams, and the incremental event-stream parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos._trpc import ABSENT, TRPCError
from kairos._trpc.json_values import RawJSON
from kairos._trpc.sse import (
    SSEEvent,
    SSEParser,
    encode_connected,
    encode_message,
    encode_ping,
    encode_restore_id,
    encode_return,
    encode_serialized_error,
    last_event_id,
    merge_last_event_id,
    parse_connection_params_query,
)


def test_events_are_written_as_trpc_writes_them() -> None:
    # captured from @trpc/server 11.25.2 (trpc-protocol.md §6)
    assert encode_connected({"reconnectAfterInactivityMs": 3000}) == (
        'event: connected\ndata: {"reconnectAfterInactivityMs":3000}\n\n\n'
    )
    assert encode_connected() == "event: connected\ndata: {}\n\n\n"
    assert encode_message({"i": 5}, tracked_id="5") == 'data: {"i":5}\nid: 5\n\n\n'
    assert encode_message(1) == "data: 1\n\n\n"
    assert encode_ping() == "event: ping\ndata: \n\n\n"
    assert encode_return() == "event: return\ndata: \n\n\n"
    assert encode_restore_id("7") == "event: restore-id\ndata: \nid: 7\n\n\n"
    error = TRPCError("FORBIDDEN", "no more", path="subfail")
    assert encode_serialized_error(error) == (
        "event: serialized-error\n"
        'data: {"message":"no more","code":-32003,'
        '"data":{"code":"FORBIDDEN","httpStatus":403,"path":"subfail"}}\n\n\n'
    )


def test_stored_json_is_spliced_as_it_is() -> None:
    assert encode_message(RawJSON('{"steps":[{"t":1}]}'), tracked_id="1") == (
        'data: {"steps":[{"t":1}]}\nid: 1\n\n\n'
    )


def test_raw_json_is_sent_as_encoding_the_value_would_send_it() -> None:
    value = {"steps": [{"t": 1, "stability": 0.5}]}
    text = '{"steps":[{"t":1,"stability":0.5}]}'
    for tracked in (None, "1"):
        raw = encode_message(RawJSON(text), tracked_id=tracked)
        assert raw == encode_message(value, tracked_id=tracked)


@pytest.mark.parametrize("bad", ["", "a\nb", "a\rb", "a\0b"])
def test_a_tracked_id_must_fit_the_id_field(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_message(RawJSON("1"), tracked_id=bad)


def test_a_data_line_cannot_hold_a_newline() -> None:
    with pytest.raises(ValueError):
        encode_message(RawJSON('"a"\n"b"'))


def test_the_resume_id_comes_from_the_header_then_the_query() -> None:
    query = {"lastEventId": "5", "Last-Event-Id": "6"}
    assert last_event_id({"Last-Event-ID": "4"}, query) == "4"
    assert last_event_id({}, query) == "5"
    assert last_event_id({}, {"Last-Event-Id": "6"}) == "6"
    assert last_event_id({"accept": "text/event-stream"}, {}) is None


def test_the_resume_id_is_merged_into_the_input_as_trpc_does() -> None:
    assert merge_last_event_id({"id": "s", "lastEventId": "1"}, "9") == {
        "id": "s",
        "lastEventId": "9",
    }
    assert merge_last_event_id(ABSENT, "9") == {"lastEventId": "9"}
    assert merge_last_event_id(None, "9") == {"lastEventId": "9"}
    assert merge_last_event_id(3, "9") == 3
    assert merge_last_event_id({"id": "s"}, None) == {"id": "s"}


def test_connection_params_are_an_object_of_strings_or_null() -> None:
    assert parse_connection_params_query('{"authorization":"Bearer k"}') == {
        "authorization": "Bearer k"
    }
    assert parse_connection_params_query("null") is None
    for bad, message in [
        ("{nope", "Not JSON-parsable query params"),
        ('{"a":1}', "Invalid connection params shape"),
        ("[]", "Invalid connection params shape"),
    ]:
        error = parse_connection_params_query(bad)
        assert isinstance(error, TRPCError)
        assert (error.code, error.message) == ("PARSE_ERROR", message)


STREAM = (
    encode_connected({"reconnectAfterInactivityMs": 3000})
    + encode_message({"i": 1}, tracked_id="1")
    + encode_ping()
    + encode_message({"i": 2}, tracked_id="2")
    + encode_return()
).encode()
EXPECTED = [
    SSEEvent("connected", '{"reconnectAfterInactivityMs":3000}', ""),
    SSEEvent("message", '{"i":1}', "1"),
    SSEEvent("ping", "", "1"),
    SSEEvent("message", '{"i":2}', "2"),
    SSEEvent("return", "", "2"),
]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_the_parser_gives_the_same_events_however_the_bytes_are_split(cuts: list[int]) -> None:
    parser = SSEParser()
    events: list[SSEEvent] = []
    previous = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        events += parser.feed(STREAM[previous:cut])
        previous = cut
    assert events == EXPECTED
    assert parser.last_event_id == "2"


def test_the_parser_follows_the_event_stream_format() -> None:
    parser = SSEParser(last_event_id="3")
    text = "\ufeff: comment\r\nretry: 1500\r\ndata: a\rdata:b\n\nid\nevent: x\ndata\n\nid: a\0b\n\n"
    events = parser.feed(text.encode())
    assert events == [SSEEvent("message", "a\nb", "3"), SSEEvent("x", "", "")]
    assert parser.retry == 1500 and parser.last_event_id == ""
    assert parser.feed(b"data: half") == [] and parser.feed(b"\n\n") == [
        SSEEvent("message", "half", "")
    ]
