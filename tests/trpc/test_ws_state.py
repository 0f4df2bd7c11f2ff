"""The server's running subscription ids on one socket (trpc-protocol.md §5). The client's
side is the subscription machine: tests/trpc/test_subscription_machine.py."""

from __future__ import annotations

from kairos._trpc.ws_state import ServerSubscriptions


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
