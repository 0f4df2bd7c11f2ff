"""One pass over a trace's steps: the checks and the aggregates every trace query needs.

:class:`Trace` and :class:`LazyTrace` both feed their steps, in order, through one
:class:`TraceSummary`, so they answer every question identically by construction, and a
:class:`LazyTrace` keeps only this object (plus a sparse offset index) in memory.
"""

from __future__ import annotations

import math

from kairos.engine import SummaryAccumulator
from kairos_api import BasinLoss, GhostBranch, PhaseTransition, TraceStep
from kairos_api.models import Phase


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
        # The engine's accumulator, so that a trace's mean stability is exactly the mean in
        # the server's summary of the same run (a Neumaier-compensated sum in tick order).
        self._engine_summary = SummaryAccumulator()
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
        self._engine_summary.add_values(
            step.stability, step.phase, len(step.losses), step.ghost is not None
        )
        if step.stability < self.min_stability:
            self.min_stability = step.stability
        self.losses.extend(step.losses)
        if step.ghost is not None:
            self.ghosts.append(step.ghost)

    def mean_stability(self) -> float:
        """The mean global stability of the steps added, as the engine's summary computes it."""
        mean: float = self._engine_summary.summary()["meanStability"]
        return mean
