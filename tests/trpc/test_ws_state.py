"""Per-connection bookkeeping of ids and subscriptions (trpc-protocol.md §5)."""

from __future__ import annotations

import json

from kairos._trpc.envelopes import TRPCError
from kairos._trpc.ws_client import Data, Error, ProtocolViolation, Result, Started, Stopped
from kairos._trpc.ws_common import Ping
from kairos._trpc.ws_server import (
    encode_data,
    encode_error,
    encode_result,
    encode_started,
    encode_stopped,
)
from kairos._trpc.ws_state import ClientSession, ServerSubscriptions


def test_server_refuses_a_running_subscription_id_as_duplicate() -> None:
    subs = ServerSubscriptions()
    assert subs.start(3) is None
    error = subs.start(3)
    assert error is not None and (error.code, error.message) == ("BAD_REQUEST", "Duplicate id 3")
    assert 3 in subs and len(subs) == 1


def test_server_ids_of_different_types_are_different() -> None:
    subs = ServerSubscriptions()
    assert subs.start(1) is None and subs.start("1") is None


def test_server_stop_of_an_unknown_id_is_ignored_and_a_stopped_id_can_be_reused() -> None:
    subs = ServerSubscriptions()
    assert subs.stop(9) is False
    subs.start(9)
    assert subs.stop(9) is True
    assert subs.start(9) is None


def test_server_close_returns_every_running_subscription() -> None:
    subs = ServerSubscriptions()
    subs.start(1)
    subs.start(2)
    assert sorted(subs.close()) == [1, 2]  # type: ignore[type-var]
    assert len(subs) == 0


def test_client_ids_start_at_1_and_go_up_by_one() -> None:
    session = ClientSession()
    first, frame = session.call("query", "greet")
    second, _ = session.call("mutation", "add", 1)
    subscription, _ = session.subscribe("count")
    assert (first, second, subscription.id) == (1, 2, 3)
    assert json.loads(frame) == {"id": 1, "method": "query", "params": {"path": "greet"}}


def test_client_reports_a_call_answer_as_a_result_once() -> None:
    session = ClientSession()
    id, _ = session.call("query", "greet")
    assert session.receive(encode_result(id, "hi")) == Result(id, "hi")
    assert session.pending_calls == []
    assert session.receive(encode_result(id, "again")) is None


def test_client_reports_a_call_error_and_forgets_the_call() -> None:
    session = ClientSession()
    id, _ = session.call("mutation", "add")
    event = session.receive(encode_error(id, TRPCError("CONFLICT")))
    assert isinstance(event, Error) and event.id == id
    assert session.pending_calls == []


def test_started_for_a_query_is_a_protocol_violation() -> None:
    session = ClientSession()
    id, _ = session.call("query", "greet")
    assert isinstance(session.receive(encode_started(id)), ProtocolViolation)


def test_client_subscription_lifecycle_tracks_the_last_event_id() -> None:
    session = ClientSession()
    sub, _ = session.subscribe("count", {"from": 1})
    assert session.receive(encode_started(sub.id)) == Started(sub.id)
    assert sub.started
    assert session.receive(encode_data(sub.id, {"i": 1}, tracked_id="1")) == Data(
        sub.id, {"i": 1}, "1"
    )
    assert session.receive(encode_data(sub.id, {"x": 0})) == Data(sub.id, {"x": 0})
    assert sub.last_event_id == "1"
    assert session.receive(encode_stopped(sub.id)) == Stopped(sub.id)
    assert session.subscriptions == []


def test_stopped_after_a_subscription_error_is_ignored() -> None:
    session = ClientSession()
    sub, _ = session.subscribe("subfail")
    assert isinstance(session.receive(encode_error(sub.id, TRPCError("FORBIDDEN"))), Error)
    assert session.receive(encode_stopped(sub.id)) is None


def test_frames_after_unsubscribe_are_ignored_and_a_second_stop_sends_nothing() -> None:
    session = ClientSession()
    sub, _ = session.subscribe("count")
    assert session.unsubscribe(sub.id) == f'{{"id":{sub.id},"method":"subscription.stop"}}'
    assert session.receive(encode_data(sub.id, 1)) is None
    assert session.receive(encode_stopped(sub.id)) is None
    assert session.unsubscribe(sub.id) is None


def test_a_cancelled_call_ignores_its_late_answer() -> None:
    session = ClientSession()
    id, _ = session.call("query", "slow")
    assert session.cancel_call(id)
    assert session.receive(encode_result(id, 1)) is None


def test_connection_level_frames_pass_through() -> None:
    session = ClientSession()
    assert session.receive("PING") == Ping()
    event = session.receive(encode_error(None, TRPCError("UNAUTHORIZED")))
    assert isinstance(event, Error) and event.id is None


def test_a_lost_socket_fails_calls_but_keeps_subscriptions() -> None:
    session = ClientSession()
    call_id, _ = session.call("query", "greet")
    sub, _ = session.subscribe("count", {"from": 1})
    session.receive(encode_started(sub.id))
    assert [c.id for c in session.pending_calls] == [call_id]
    session.connection_lost()
    assert session.pending_calls == []
    assert session.subscriptions == [sub] and not sub.started


def test_resubscribing_uses_a_new_id_and_the_last_tracked_id() -> None:
    session = ClientSession()
    sub, _ = session.subscribe("count", {"from": 1})
    session.receive(encode_data(sub.id, {"i": 7}, tracked_id="7"))
    session.connection_lost()
    [(old_id, moved, frame)] = session.resubscribe()
    assert (old_id, moved.key) == (1, sub.key)
    assert moved.id == 2
    assert json.loads(frame) == {
        "id": 2,
        "method": "subscription",
        "params": {"path": "count", "input": {"from": 1}, "lastEventId": "7"},
    }
    assert session.receive(encode_data(old_id, {"i": 8}, tracked_id="8")) is None
    assert session.receive(encode_data(2, {"i": 8}, tracked_id="8")) == Data(2, {"i": 8}, "8")
