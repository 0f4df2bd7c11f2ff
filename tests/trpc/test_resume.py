"""Exactly-once delivery of a resumed stream (kairos-api.md §3)."""

from __future__ import annotations

from typing import Any

from kairos._trpc.resume import Deliver, Gap, StreamResume, Violation


def steps(*ticks: int) -> list[dict[str, Any]]:
    return [{"t": t} for t in ticks]


def resume(last: int = 0) -> StreamResume[dict[str, Any]]:
    return StreamResume(lambda s: s["t"], last_delivered=last)


def test_new_steps_are_delivered_and_counted() -> None:
    state = resume()
    assert state.last_event_id is None
    assert state.accept(steps(1, 2, 3), event_id="3") == Deliver(steps(1, 2, 3))
    assert (state.last_delivered, state.last_event_id) == (3, "3")


def test_a_chunk_straddling_the_resume_point_delivers_only_the_new_steps() -> None:
    state = resume(5)
    assert state.accept(steps(4, 5, 6, 7)) == Deliver(steps(6, 7))
    assert state.last_event_id == "7"


def test_a_re_sent_chunk_delivers_nothing() -> None:
    state = resume(7)
    assert state.accept(steps(5, 6, 7)) == Deliver([])
    assert state.last_delivered == 7


def test_a_gap_is_reported_not_skipped() -> None:
    state = resume(3)
    result = state.accept(steps(5, 6))
    assert result == Gap(expected=4, received=5)
    assert "tick 3 to tick 5" in result.reason  # type: ignore[union-attr]
    assert state.last_delivered == 3


def test_ticks_inside_one_event_must_be_consecutive() -> None:
    assert isinstance(resume().accept(steps(1, 3)), Violation)
    assert isinstance(resume().accept(steps(2, 1)), Violation)


def test_the_event_id_must_be_the_last_tick() -> None:
    state = resume()
    assert isinstance(state.accept(steps(1, 2), event_id="1"), Violation)
    assert state.last_delivered == 0


def test_malformed_steps_are_violations() -> None:
    assert isinstance(resume().accept([]), Violation)
    assert isinstance(resume().accept([{"x": 1}]), Violation)
    assert isinstance(resume().accept([{"t": "1"}]), Violation)
    assert isinstance(resume().accept([{"t": True}]), Violation)
    assert isinstance(resume().accept([{"t": 0}]), Violation)


def test_completion() -> None:
    state = resume()
    state.accept(steps(1, 2))
    assert not state.is_complete(3)
    state.accept(steps(3))
    assert state.is_complete(3)
