"""Exactly-once delivery of a resumed stream (kairos-api.md §3): the pure chunk check."""

from __future__ import annotations

from typing import Any

from kairos._trpc.resume import Deliver, Gap, Violation, check_chunk, last_tick


def chunk(*ticks: int) -> dict[str, Any]:
    return {"steps": [{"t": t} for t in ticks]}


def test_new_steps_are_delivered_whole() -> None:
    data = chunk(1, 2, 3)
    assert check_chunk(data, "3", None) == Deliver(data)
    assert check_chunk(chunk(4), "4", "3") == Deliver(chunk(4))


def test_a_chunk_straddling_the_resume_point_delivers_only_the_new_steps() -> None:
    assert check_chunk(chunk(4, 5, 6, 7), "7", "5") == Deliver(chunk(6, 7))


def test_a_re_sent_chunk_delivers_nothing() -> None:
    assert check_chunk(chunk(5, 6, 7), "7", "7") == Deliver(None)


def test_a_gap_is_reported_not_skipped() -> None:
    result = check_chunk(chunk(5, 6), "6", "3")
    assert result == Gap(expected=4, received=5)
    assert "tick 3 to tick 5" in result.reason  # type: ignore[union-attr]


def test_ticks_inside_one_event_must_be_consecutive() -> None:
    assert isinstance(check_chunk(chunk(1, 3), None, None), Violation)
    assert isinstance(check_chunk(chunk(2, 1), None, None), Violation)


def test_the_event_id_must_be_the_last_tick() -> None:
    assert isinstance(check_chunk(chunk(1, 2), "1", None), Violation)


def test_malformed_steps_are_violations() -> None:
    for bad in ({"steps": []}, {"steps": [{"x": 1}]}, {"steps": [{"t": "1"}]}, [1], None):
        assert isinstance(check_chunk(bad, None, None), Violation), bad
    for tick in (True, 0, -1):
        assert isinstance(check_chunk({"steps": [{"t": tick}]}, None, None), Violation)
    assert check_chunk({"steps": [{"x": 1}]}, None, None) == Violation("a step has no tick")


def test_a_last_event_id_that_is_no_tick_starts_from_the_beginning() -> None:
    assert (last_tick(None), last_tick("12"), last_tick("x")) == (0, 12, 0)
