"""Exactly-once delivery of a resumed stream (kairos-api.md §3): the pure chunk check."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

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


def _reference(ticks: list[Any]) -> bool:
    """The rule, stated plainly: positive integers (not booleans), each one more than the last."""
    if any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in ticks):
        return False
    return all(b == a + 1 for a, b in pairwise(ticks))


@given(
    st.integers(1, 10**6),
    st.integers(1, 300),
    st.lists(
        st.tuples(
            st.integers(0, 299),
            st.sampled_from([0, -1, 2, True, "5", 1.0, None]),
        ),
        max_size=2,
    ),
    st.booleans(),
)
def test_the_tick_check_is_the_rule_for_wire_and_validated_steps(
    first: int, size: int, faults: list[tuple[int, Any]], as_objects: bool
) -> None:
    ticks: list[Any] = list(range(first, first + size))
    for at, fault in faults:
        at %= size
        if fault in (0, -1, 2) and not isinstance(fault, bool):
            ticks[at] = ticks[at] + fault if fault == 2 else fault
        else:
            ticks[at] = fault
    if as_objects:  # steps a driver has validated: attributes, not keys
        data: Any = SimpleNamespace(steps=[SimpleNamespace(t=t) for t in ticks])
    else:
        data = {"steps": [{"t": t} for t in ticks]}
    result = check_chunk(data, None, None)
    assert (not isinstance(result, Violation)) == _reference(ticks), (ticks, result)
