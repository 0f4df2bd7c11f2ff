"""One pass over a trace's steps: the checks and the aggregates every trace query needs.

:class:`Trace` and :class:`LazyTrace` both feed their steps, in order, through one
:class:`TraceSummary`, so they answer every question identically by construction, and a
:class:`LazyTrace` keeps only this object (plus a sparse offset index) in memory.
"""

from __future__ import annotations

import math

from kairos_api import BasinLoss, GhostBranch, PhaseTransition, TraceStep
from kairos_api.models import Phase

_SCALE = 1074  # 2**-1074 is the smallest positive double: every double is k * 2**-1074


class ExactSum:
    """A running float sum with no rounding error until it is read.

    Every finite double is an integer multiple of ``2**-1074``, so the sum is kept exactly as
    that integer and :meth:`value` rounds it once (Python's integer true division is correctly
    rounded). The result is therefore the correctly rounded sum, equal to ``math.fsum`` over all
    the values and independent of their order, in memory that does not grow with their number.
    """

    __slots__ = ("_total",)

    def __init__(self) -> None:
        self._total = 0

    def add(self, x: float) -> None:
        if not math.isfinite(x):
            raise ValueError(f"cannot sum the non-finite value {x!r}")
        numerator, denominator = x.as_integer_ratio()  # denominator is a power of two
        self._total += numerator << (_SCALE + 1 - denominator.bit_length())

    def value(self) -> float:
        return self._total / (1 << _SCALE)


class TraceSummary:
    """Validates a stream of steps and accumulates what the trace queries return.

    :meth:`add` checks a step before it changes anything, so a rejected step leaves the summary
    (and a file being written) as it was. Rules: ticks are consecutive (a trace may be a window
    of a run, so the first tick may be any ``t >= 1``), every step names the same agents, and
    the basin losses and ghost branch a step carries belong to that step's tick.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first_tick = 0
        self.last_tick = 0
        self.last_phase: Phase | None = None
        self.agent_ids: tuple[str, ...] = ()
        self._agent_set: frozenset[str] = frozenset()
        self.min_stability = math.inf
        self.stability_sum = ExactSum()
        self.transitions: list[PhaseTransition] = []
        self.losses: list[BasinLoss] = []
        self.ghosts: list[GhostBranch] = []

    def check(self, step: TraceStep) -> None:
        """Raise :class:`ValueError` if ``step`` cannot follow the steps added so far."""
        if self.count and step.t != self.last_tick + 1:
            raise ValueError(
                f"trace steps must be consecutive ticks: step t={step.t} follows t={self.last_tick}"
                f" (expected t={self.last_tick + 1})"
            )
        if self.count and step.agents.keys() != self._agent_set:
            raise ValueError(
                f"step t={step.t} has agents {sorted(step.agents)}, but the trace's agents are "
                f"{list(self.agent_ids)}"
            )
        for loss in step.losses:
            if loss.tick != step.t:
                raise ValueError(f"step t={step.t} carries a basin loss for tick {loss.tick}")
        if step.ghost is not None and step.ghost.tick != step.t:
            raise ValueError(f"step t={step.t} carries a ghost branch for tick {step.ghost.tick}")

    def add(self, step: TraceStep) -> None:
        """Check ``step`` and fold it into the aggregates."""
        self.check(step)
        if not self.count:
            self.first_tick = step.t
            self.agent_ids = tuple(sorted(step.agents))
            self._agent_set = frozenset(self.agent_ids)
        elif self.last_phase is not None and step.phase != self.last_phase:
            self.transitions.append(
                PhaseTransition(tick=step.t, from_phase=self.last_phase, to_phase=step.phase)
            )
        self.count += 1
        self.last_tick = step.t
        self.last_phase = step.phase
        self.stability_sum.add(step.stability)
        if step.stability < self.min_stability:
            self.min_stability = step.stability
        self.losses.extend(step.losses)
        if step.ghost is not None:
            self.ghosts.append(step.ghost)
