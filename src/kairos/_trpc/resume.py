"""Exactly-once, in-order delivery of a resumable trace stream. A pure function.

``simulation.stream`` sends events ``{steps: [...]}`` of consecutive steps, tracked by the
tick of their last step (as a string). After a lost connection the client subscribes again with
``lastEventId`` = the last tick it accepted; a server may then send steps the client already
has (a chunk that straddles the resume point, or a whole re-sent chunk). :func:`check_chunk`
drops every step at or before the last accepted tick, and treats a missing tick as a protocol
error: a step is never silently skipped, because a trace with a hole is wrong data.

The last accepted id itself is kept by the subscription machine
(:mod:`.subscriptions`), which passes it in: there is one tracker per subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = ["Deliver", "Gap", "Violation", "check_chunk", "last_tick"]


@dataclass(frozen=True)
class Deliver:
    """The event to deliver, cut to its new steps; ``data`` is None when none is new."""

    data: Any


@dataclass(frozen=True)
class Gap:
    """The event skips ticks: ``expected`` was due, ``received`` came."""

    expected: int
    received: int

    @property
    def reason(self) -> str:
        """The problem, in words."""
        return f"stream skipped from tick {self.expected - 1} to tick {self.received}"


@dataclass(frozen=True)
class Violation:
    """The event is not a well-formed chunk (ticks not consecutive, id not its last tick...)."""

    reason: str


def last_tick(last_event_id: str | None) -> int:
    """The tick a ``lastEventId`` names; 0 (before the first tick) for None or a non-tick."""
    if last_event_id is None or not last_event_id.isdigit():
        return 0
    return int(last_event_id)


def check_chunk(
    data: Any, event_id: str | None, last_event_id: str | None
) -> Deliver | Gap | Violation:
    """Check one ``{steps: [...]}`` event against the last accepted id: wire JSON, or a chunk
    the driver has already validated (an object with ``steps`` of objects with ``t``, copied
    with ``model_copy`` when cut).

    The steps at or before ``last_event_id`` are dropped; a step after the next due tick is a
    :class:`Gap`; an event that is not a chunk of consecutive ticks ending at ``event_id`` is a
    :class:`Violation`.
    """
    wire = isinstance(data, dict)
    steps = data.get("steps") if wire else getattr(data, "steps", None)
    if not isinstance(steps, list) or not steps:
        return Violation("an event carries no steps")
    ticks = _consecutive_ticks(steps)
    if isinstance(ticks, Violation):
        return ticks
    if event_id is not None and event_id != str(ticks[-1]):
        return Violation(f"event id {event_id!r} is not the last tick {ticks[-1]}")
    expected = last_tick(last_event_id) + 1
    if ticks[0] > expected:
        return Gap(expected, ticks[0])
    if ticks[0] == expected:
        return Deliver(data)
    if ticks[-1] < expected:
        return Deliver(None)
    new = steps[expected - ticks[0] :]
    return Deliver({**data, "steps": new} if wire else data.model_copy(update={"steps": new}))


def _consecutive_ticks(steps: list[Any]) -> list[int] | Violation:
    """The steps' ticks when they are consecutive positive integers, else the first fault."""
    try:  # the common case at C speed: validated steps, or wire steps, all well formed
        ticks = [s["t"] if isinstance(s, dict) else s.t for s in steps]
        first = ticks[0]
        if (
            set(map(type, ticks)) == {int}
            and first >= 1
            and ticks == list(range(first, first + len(ticks)))
        ):
            return ticks
    except (AttributeError, KeyError, TypeError):
        pass
    checked: list[int] = []
    for step in steps:
        tick = step.get("t") if isinstance(step, dict) else getattr(step, "t", None)
        if isinstance(tick, bool) or not isinstance(tick, int) or tick < 1:
            if tick is None:
                return Violation("a step has no tick")
            return Violation(f"a step's tick is not a positive integer: {tick!r}")
        checked.append(tick)
    for before, after in pairwise(checked):
        if after != before + 1:
            return Violation(f"ticks in one event are not consecutive: {before}, {after}")
    return checked  # consecutive after all (ticks of an int subclass)
