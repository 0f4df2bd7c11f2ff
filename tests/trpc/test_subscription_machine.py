"""The client's subscription machine, driven with frames and times alone (no socket, no loop)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kairos._trpc.envelopes import TRPCError
from kairos._trpc.resume import check_chunk
from kairos._trpc.retry import RetryPolicy
from kairos._trpc.subscriptions import (
    QUEUE_EVENTS,
    RESUME_AT,
    TRANSITIONS,
    Close,
    ConsumerEvent,
    Delivered,
    Ended,
    Failed,
    SendPong,
    Stop,
    Subscribe,
    SubscriptionMachine,
)
from kairos._trpc.ws_server import (
    encode_data,
    encode_error,
    encode_reconnect,
    encode_started,
    encode_stopped,
)


def machine(**policy: Any) -> SubscriptionMachine:
    return SubscriptionMachine(RetryPolicy(**policy), lambda: 0.0, target="the socket")


def wire(m: SubscriptionMachine) -> list[Any]:
    """What the machine asks to send, as readable values."""
    out: list[Any] = []
    for output in m.data_to_send():
        if isinstance(output, Close):
            out.append(("close", output.socket))
        elif isinstance(output, SendPong):
            out.append((output.socket, output.frame))
        else:
            out.append((output.socket, json.loads(output.frame)))
    return out


def subscribe_frame(id: int, last: str | None = None, path: str = "count") -> dict[str, Any]:
    params: dict[str, Any] = {"path": path, "input": {"from": 1}}
    if last is not None:
        params["lastEventId"] = last
    return {"id": id, "method": "subscription", "params": params}


def stop_frame(id: int) -> dict[str, Any]:
    return {"id": id, "method": "subscription.stop"}


def chunk(id: int, first: int, last: int) -> str:
    steps = [{"t": t} for t in range(first, last + 1)]
    return encode_data(id, {"steps": steps}, tracked_id=str(last))


def drain(m: SubscriptionMachine, key: int) -> list[ConsumerEvent]:
    events = []
    while (event := m.next_event(key)) is not None:
        events.append(event)
        if isinstance(event, Ended | Failed):
            break
    return events


def ticks(events: list[ConsumerEvent]) -> list[int]:
    return [s["t"] for e in events if isinstance(e, Delivered) for s in e.data["steps"]]


def opened(**policy: Any) -> tuple[SubscriptionMachine, int]:
    m = machine(**policy)
    key = m.subscribe("count", {"from": 1})
    assert m.connection_made(0.0) == 1
    assert wire(m) == [(1, subscribe_frame(1))]
    return m, key


def test_a_subscription_waits_for_a_socket_then_runs_to_its_end() -> None:
    m = machine()
    assert m.connect_at == 0.0  # a socket is wanted at once
    key = m.subscribe("count", {"from": 1})
    assert wire(m) == []
    m.connection_made(0.0)
    assert wire(m) == [(1, subscribe_frame(1))]
    m.receive_frame(encode_started(1), 1, 0.0)
    m.receive_frame(encode_data(1, {"i": 1}, tracked_id="1"), 1, 0.0)
    m.receive_frame(encode_data(1, {"x": 0}), 1, 0.0)
    m.receive_frame(encode_stopped(1), 1, 0.0)
    assert m.ready() == {key}
    assert drain(m, key) == [Delivered({"i": 1}, "1"), Delivered({"x": 0}), Ended()]
    assert m.load == 0  # forgotten once its consumer has the end


def test_a_lost_socket_resumes_every_subscription_after_its_last_event_with_new_ids() -> None:
    m, key = opened()
    m.receive_frame(chunk(1, 1, 7), 1, 0.0)
    m.connection_lost(1, 1.0, "cut")
    assert m.connect_at == 0.0  # the first loss reconnects at once
    assert m.notices() == ["the socket lost (cut); reconnecting 1 subscription(s)"]
    assert m.connection_made(1.0) == 2
    assert wire(m) == [(2, subscribe_frame(2, "7"))]
    m.receive_frame(chunk(1, 8, 9), 1, 1.0)  # a late frame of the old socket
    m.receive_frame(chunk(2, 8, 9), 2, 1.0)
    assert ticks(drain(m, key)) == list(range(1, 10))


def test_re_sent_steps_are_cut_and_a_hole_fails_the_stream() -> None:
    m = machine()
    key = m.subscribe("simulation.stream", {"id": "s"}, check=check_chunk)
    m.connection_made(0.0)
    m.data_to_send()
    m.receive_frame(chunk(1, 1, 4), 1, 0.0)
    m.connection_lost(1, 0.0)
    m.connection_made(0.0)
    assert [f["params"]["lastEventId"] for _, f in wire(m)] == ["4"]
    m.receive_frame(chunk(2, 3, 6), 2, 0.0)  # straddles the resume point
    m.receive_frame(chunk(2, 5, 6), 2, 0.0)  # re-sent whole
    m.receive_frame(chunk(2, 7, 8), 2, 0.0)
    assert ticks(drain(m, key)) == list(range(1, 9))  # each tick exactly once
    m.receive_frame(chunk(2, 10, 11), 2, 0.0)
    [failed] = drain(m, key)
    assert failed == Failed(
        "protocol",
        "simulation.stream broke exactly-once delivery: stream skipped from tick 8 to tick 10",
    )
    assert wire(m) == [(2, stop_frame(2))]


def test_a_resumed_subscription_starts_after_the_given_event() -> None:
    m = machine()
    key = m.subscribe("simulation.stream", {"id": "s"}, last_event_id="5", check=check_chunk)
    m.connection_made(0.0)
    assert [f["params"]["lastEventId"] for _, f in wire(m)] == ["5"]
    m.receive_frame(chunk(1, 4, 7), 1, 0.0)
    assert ticks(drain(m, key)) == [6, 7]


def fill(m: SubscriptionMachine, id: int, socket: int, first: int, count: int) -> None:
    for t in range(first, first + count):
        m.receive_frame(chunk(id, t, t), socket, 0.0)


def test_a_lone_full_consumer_holds_the_reader_back() -> None:
    m, key = opened()
    fill(m, 1, 1, 1, QUEUE_EVENTS + 1)
    assert m.reading_blocked  # accepted, but read no further (TCP slows the server)
    assert wire(m) == []
    assert m.next_event(key) == Delivered({"steps": [{"t": 1}]}, "1")
    assert not m.reading_blocked


def test_a_full_consumer_on_a_shared_socket_is_paused_and_resumed_exactly_once() -> None:
    m, slow = opened()
    fast = m.subscribe("other")
    assert wire(m) == [(1, {"id": 2, "method": "subscription", "params": {"path": "other"}})]
    fill(m, 1, 1, 1, QUEUE_EVENTS)
    m.receive_frame(chunk(1, 9, 9), 1, 0.0)  # finds its consumer full: paused, not queued
    assert wire(m) == [(1, stop_frame(1))]
    assert not m.reading_blocked
    m.receive_frame(encode_data(2, "still flowing"), 1, 0.0)
    assert drain(m, fast) == [Delivered("still flowing")]
    for _ in range(QUEUE_EVENTS - RESUME_AT - 1):
        m.next_event(slow)
    assert wire(m) == []
    m.next_event(slow)  # drained to RESUME_AT: resumed after the last event queued
    assert wire(m) == [(1, subscribe_frame(3, "8"))]
    m.receive_frame(chunk(1, 9, 9), 1, 0.0)  # the stopped id: ignored
    fill(m, 3, 1, 9, 3)
    assert ticks(drain(m, slow)) == list(range(5, 12))


def test_a_blocked_reader_is_freed_by_pausing_when_the_socket_becomes_shared() -> None:
    m, slow = opened()
    fill(m, 1, 1, 1, QUEUE_EVENTS + 1)
    assert m.reading_blocked
    m.subscribe("other")
    assert wire(m) == [
        (1, {"id": 2, "method": "subscription", "params": {"path": "other"}}),
        (1, stop_frame(1)),
    ]
    assert not m.reading_blocked
    events = [m.next_event(slow) for _ in range(QUEUE_EVENTS + 1 - RESUME_AT)]
    assert ticks([e for e in events if e is not None]) == list(range(1, 6))
    assert wire(m) == [(1, subscribe_frame(3, "9"))]  # nothing buffered is lost or repeated


def test_the_reconnect_notice_moves_every_subscription_before_leaving_the_old_socket() -> None:
    m, key = opened()
    m.receive_frame(chunk(1, 1, 2), 1, 0.0)
    m.receive_frame(encode_reconnect(), 1, 0.0)
    assert m.notices() == ["server asked to reconnect; moving 1 subscription(s)"]
    assert m.connect_at == 0.0 and m.state == "open"  # a new socket, while the old one works
    m.receive_frame(chunk(1, 3, 3), 1, 0.0)  # still accepted meanwhile
    assert m.connection_made(0.0) == 2
    assert wire(m) == [(1, stop_frame(1)), (2, subscribe_frame(2, "3")), ("close", 1)]
    m.receive_frame(chunk(1, 4, 4), 1, 0.0)  # the old socket's last frames: ignored
    m.connection_lost(1, 0.0)  # the old socket closing is expected
    assert m.state == "open"
    m.receive_frame(chunk(2, 4, 5), 2, 0.0)
    assert ticks(drain(m, key)) == [1, 2, 3, 4, 5]


def test_ping_is_answered_with_pong_on_its_socket() -> None:
    m, _ = opened()
    m.receive_frame("PING", 1, 0.0)
    assert wire(m) == [(1, "PONG")]


def test_an_error_without_an_id_fails_every_subscription_and_closes() -> None:
    m, first = opened()
    second = m.subscribe("other")
    m.receive_frame(encode_error(None, TRPCError("UNAUTHORIZED", "bad key")), 1, 0.0)
    for key in (first, second):
        [failed] = drain(m, key)
        assert isinstance(failed, Failed) and failed.kind == "server"
        assert failed.shape is not None and failed.shape["message"] == "bad key"
    assert wire(m)[-1] == ("close", 1)
    assert m.closed and m.connect_at is None


def test_a_retryable_error_re_subscribes_when_its_time_comes() -> None:
    m, key = opened(backoff=1.0, jitter=0.0)
    m.receive_frame(chunk(1, 1, 1), 1, 0.0)
    m.receive_frame(encode_error(1, TRPCError("SERVICE_UNAVAILABLE")), 1, 10.0)
    assert m.next_deadline() == 11.0  # backoff * 2**0
    m.timer(10.5)
    assert wire(m) == []
    m.timer(11.0)
    assert wire(m) == [(1, subscribe_frame(2, "1"))]
    m.receive_frame(chunk(2, 2, 2), 1, 11.0)
    assert ticks(drain(m, key)) == [1, 2]


def test_a_rate_limited_subscription_waits_for_retry_after() -> None:
    m, _ = opened(jitter=0.0)
    error = TRPCError("TOO_MANY_REQUESTS", kairos={"kind": "rate_limit", "retryAfter": 7})
    m.receive_frame(encode_error(1, error), 1, 0.0)
    assert m.next_deadline() == 7.0


def test_errors_that_will_not_change_and_a_spent_budget_fail_the_subscription() -> None:
    m, key = opened()
    m.receive_frame(encode_error(1, TRPCError("FORBIDDEN", "no")), 1, 0.0)
    m.receive_frame(encode_stopped(1), 1, 0.0)  # tRPC's stopped after the error: ignored
    [failed] = drain(m, key)
    assert isinstance(failed, Failed) and (failed.kind, failed.message) == ("server", "no")
    assert failed.shape is not None and failed.shape["data"]["code"] == "FORBIDDEN"  # type: ignore[index]

    m, key = opened(max_retries=1, jitter=0.0)
    m.receive_frame(encode_error(1, TRPCError("SERVICE_UNAVAILABLE")), 1, 0.0)
    m.timer(1.0)
    assert [f["id"] for _, f in wire(m)] == [2]
    m.receive_frame(encode_error(2, TRPCError("SERVICE_UNAVAILABLE")), 1, 1.0)
    [failed] = drain(m, key)
    assert isinstance(failed, Failed) and failed.kind == "server"


def test_sockets_that_keep_closing_back_off_then_give_up() -> None:
    m, key = opened(max_retries=2, backoff=1.0)
    m.connection_lost(1, 0.0)
    assert m.connect_at == 0.0
    m.connection_made(0.0)
    m.connection_lost(2, 5.0)
    assert m.connect_at == 6.0  # backoff * 2**0, no jitter: the loss is not a retry storm
    m.connection_made(6.0)
    m.connection_lost(3, 6.0)
    assert m.connect_at == 8.0
    m.connection_made(8.0)
    m.connection_lost(4, 8.0)
    [failed] = drain(m, key)
    assert failed == Failed("connection", "the socket keeps closing without delivering")
    assert m.closed


def test_data_between_losses_resets_the_count() -> None:
    m, _ = opened(max_retries=0)  # one loss in a row is replaced, two are not
    m.connection_lost(1, 0.0)
    m.connection_made(0.0)
    assert [f["id"] for _, f in wire(m)] == [2]
    m.receive_frame(chunk(2, 1, 1), 2, 0.0)
    m.connection_lost(2, 0.0)
    assert not m.closed  # the data reset the count
    m.connection_made(0.0)
    m.connection_lost(3, 0.0)
    assert m.closed


def test_failing_to_open_is_retried_then_reported() -> None:
    m = machine(max_retries=1, backoff=2.0, jitter=0.0)
    key = m.subscribe("count")
    m.connection_failed(0.0, "refused")
    assert m.connect_at == 2.0 and not m.closed
    m.connection_failed(2.0, "refused")
    [failed] = drain(m, key)
    assert failed == Failed("connection", "Could not open the socket (gave up after 1 retries)")
    assert m.failure == failed.message


def test_unsubscribing_stops_once_and_later_frames_are_ignored() -> None:
    m, key = opened()
    m.unsubscribe(key)
    assert wire(m) == [(1, stop_frame(1))]
    m.receive_frame(chunk(1, 1, 1), 1, 0.0)
    m.receive_frame(encode_stopped(1), 1, 0.0)
    m.unsubscribe(key)
    assert wire(m) == [] and m.ready() == set() and m.load == 0


def test_closing_fails_the_consumers_still_attached() -> None:
    m, key = opened()
    m.close("the client was closed")
    assert drain(m, key) == [Failed("connection", "the client was closed")]


def test_every_transition_is_stated_once_and_others_raise() -> None:
    states = {state for state, _ in TRANSITIONS} | set(TRANSITIONS.values())
    assert states == {"waiting", "sent", "paused", "retrying", "done"}
    assert not any(state == "done" for state, _ in TRANSITIONS)  # done is final
    m, key = opened()
    m.receive_frame(encode_stopped(1), 1, 0.0)
    subscription = m._subscriptions[key]
    with pytest.raises(RuntimeError, match="cannot send when done"):
        subscription.go("send")


def test_outputs_name_their_socket() -> None:
    assert Subscribe(3, 1, "p", {"a": 1}, "9").frame == (
        '{"id":1,"method":"subscription","params":{"path":"p","input":{"a":1},"lastEventId":"9"}}'
    )
    assert Stop(3, 1).frame == '{"id":1,"method":"subscription.stop"}'
