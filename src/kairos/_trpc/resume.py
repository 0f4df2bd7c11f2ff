"""Exactly-once, in-order delivery of a resumable trace stream. Pure bookkeeping.

``simulation.stream`` sends events ``{steps: [...]}`` of consecutive steps, tracked by the
tick of their last step (as a string). After a lost socket the client subscribes again with
``lastEventId`` = the last tick it delivered; a server may then send steps the client already
has (a chunk that straddles the resume point, or a whole re-sent chunk). This module drops
every step at or before the last delivered tick, and treats a missing tick as a protocol
error: a step is never silently skipped, because a trace with a hole is wrong data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, TypeVar

__all__ = ["Deliver", "Gap", "StreamResume", "Violation"]

StepT = TypeVar("StepT")


@dataclass(frozen=True)
class Deliver(Generic[StepT]):
    """The steps of an event that are new, in tick order (possibly none)."""

    steps: list[StepT]


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


class StreamResume(Generic[StepT]):
    """Tracks the last tick delivered from one stream, across resumptions.

    ``tick_of`` reads a step's tick (``lambda s: s["t"]`` for wire dicts, ``lambda s: s.t`` for
    models). ``last_delivered`` is 0 before any step: ticks start at 1.
    """

    def __init__(self, tick_of: Callable[[StepT], object], *, last_delivered: int = 0) -> None:
        if last_delivered < 0:
            raise ValueError("last_delivered must be >= 0")
        self._tick_of = tick_of
        self.last_delivered = last_delivered

    @property
    def last_event_id(self) -> str | None:
        """The ``lastEventId`` to resume with, or None to start from the beginning."""
        return str(self.last_delivered) if self.last_delivered > 0 else None

    def accept(
        self, steps: Sequence[StepT], *, event_id: str | None = None
    ) -> Deliver[StepT] | Gap | Violation:
        """Take one event's steps; the new ones are delivered and counted as delivered.

        Nothing is counted when the result is :class:`Gap` or :class:`Violation`, so the stream
        can be resumed from :attr:`last_event_id` again.
        """
        ticks: list[int] = []
        for step in steps:
            try:
                tick = self._tick_of(step)
            except (KeyError, AttributeError, TypeError, IndexError):
                return Violation("a step has no tick")
            if isinstance(tick, bool) or not isinstance(tick, int) or tick < 1:
                return Violation(f"a step's tick is not a positive integer: {tick!r}")
            ticks.append(tick)
        if not ticks:
            return Violation("an event carries no steps")
        for before, after in pairwise(ticks):
            if after != before + 1:
                return Violation(f"ticks in one event are not consecutive: {before}, {after}")
        if event_id is not None and event_id != str(ticks[-1]):
            return Violation(f"event id {event_id!r} is not the last tick {ticks[-1]}")
        expected = self.last_delivered + 1
        if ticks[0] > expected:
            return Gap(expected, ticks[0])
        new = [step for step, tick in zip(steps, ticks, strict=True) if tick >= expected]
        if new:
            self.last_delivered = ticks[-1]
        return Deliver(new)

    def is_complete(self, total_ticks: int) -> bool:
        """Whether every tick of a run of ``total_ticks`` has been delivered."""
        return self.last_delivered >= total_ticks
