"""Run summaries (``$defs/SimulationSummary``) computed incrementally, and record helpers.

:class:`SummaryAccumulator` is fed one step at a time, so a run of any length is summarized in
constant memory; its state serializes with the engine checkpoint's conventions so a resumed run
can continue its summary. The mean stability is a Neumaier-compensated sum in tick order divided
by the tick count: deterministic and accurate to a few ulps even over 10 million ticks.
:class:`BatchSummary` is its element-wise twin for the batch path (same operations, side by side).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ._phases import PHASE_NAMES


class SummaryAccumulator:
    """Build a ``SimulationSummary`` from steps fed in tick order."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.compensation = 0.0
        self.minimum = float("inf")
        self.phase: str | None = None
        self.transitions = 0
        self.losses = 0
        self.ghosts = 0

    def add(self, step: Mapping[str, Any]) -> None:
        """Feed one ``TraceStep`` wire dict (the next tick)."""
        self.add_values(
            step["stability"],
            step["phase"],
            len(step.get("losses", ())),
            step.get("ghost") is not None,
        )

    def add_values(self, stability: float, phase: str, losses: int, ghost: bool) -> None:
        """Feed the summary-relevant values of one step."""
        total = self.total + stability
        if abs(self.total) >= abs(stability):
            self.compensation = self.compensation + ((self.total - total) + stability)
        else:
            self.compensation = self.compensation + ((stability - total) + self.total)
        self.total = total
        self.minimum = stability if stability < self.minimum else self.minimum
        if self.phase is not None and phase != self.phase:
            self.transitions += 1
        self.phase = phase
        self.losses += losses
        self.ghosts += 1 if ghost else 0
        self.count += 1

    def summary(self) -> dict[str, Any]:
        """The ``SimulationSummary`` wire dict of the steps fed so far (at least one)."""
        if self.phase is None:
            raise ValueError("no steps were added")
        mean = (self.total + self.compensation) / float(self.count)
        return {
            "finalPhase": self.phase,
            "meanStability": 1.0 if mean > 1.0 else mean,
            "minStability": self.minimum,
            "phaseTransitions": self.transitions,
            "basinLosses": self.losses,
            "ghostBranches": self.ghosts,
        }

    def to_state(self) -> dict[str, Any]:
        """JSON-able state (floats round-trip exactly through ``json``)."""
        return {
            "count": self.count,
            "total": self.total,
            "compensation": self.compensation,
            "minimum": None if self.count == 0 else self.minimum,
            "phase": self.phase,
            "transitions": self.transitions,
            "losses": self.losses,
            "ghosts": self.ghosts,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SummaryAccumulator:
        """Rebuild an accumulator from :meth:`to_state`."""
        acc = cls()
        acc.count = int(state["count"])
        acc.total, acc.compensation = float(state["total"]), float(state["compensation"])
        acc.minimum = float("inf") if state["minimum"] is None else float(state["minimum"])
        acc.phase = state["phase"]
        acc.transitions, acc.losses = int(state["transitions"]), int(state["losses"])
        acc.ghosts = int(state["ghosts"])
        return acc


class BatchSummary:
    """:class:`SummaryAccumulator` for many runs at once (element-wise, same operations)."""

    def __init__(self, size: int) -> None:
        self.count = np.zeros(size, dtype=np.int64)
        self.total = np.zeros(size)
        self.compensation = np.zeros(size)
        self.minimum = np.full(size, np.inf)
        self.phase = np.full(size, -1, dtype=np.int64)
        self.transitions = np.zeros(size, dtype=np.int64)
        self.losses = np.zeros(size, dtype=np.int64)
        self.ghosts = np.zeros(size, dtype=np.int64)

    def add(
        self,
        stability: npt.NDArray[np.float64],
        phase: npt.NDArray[np.int64],
        losses: npt.NDArray[np.int64],
        ghost: npt.NDArray[np.bool_],
        active: npt.NDArray[np.bool_],
    ) -> None:
        """Feed one tick of every run; runs where ``active`` is False are left unchanged."""
        total = self.total + stability
        comp = np.where(
            np.abs(self.total) >= np.abs(stability),
            self.compensation + ((self.total - total) + stability),
            self.compensation + ((stability - total) + self.total),
        )
        self.compensation = np.where(active, comp, self.compensation)
        self.total = np.where(active, total, self.total)
        self.minimum = np.where(active & (stability < self.minimum), stability, self.minimum)
        changed = active & (self.phase >= 0) & (phase != self.phase)
        self.transitions = self.transitions + changed
        self.phase = np.where(active, phase, self.phase)
        self.losses = self.losses + np.where(active, losses, 0)
        self.ghosts = self.ghosts + (active & ghost)
        self.count = self.count + active

    def summaries(self) -> list[dict[str, Any]]:
        """One ``SimulationSummary`` wire dict per run."""
        mean = (self.total + self.compensation) / self.count.astype(np.float64)
        mean = np.where(mean > 1.0, 1.0, mean)
        return [
            {
                "finalPhase": PHASE_NAMES[int(self.phase[b])],
                "meanStability": float(mean[b]),
                "minStability": float(self.minimum[b]),
                "phaseTransitions": int(self.transitions[b]),
                "basinLosses": int(self.losses[b]),
                "ghostBranches": int(self.ghosts[b]),
            }
            for b in range(len(self.count))
        ]


def summarize(steps: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``SimulationSummary`` of a sequence of steps (streams them)."""
    acc = SummaryAccumulator()
    for step in steps:
        acc.add(step)
    return acc.summary()


def phase_transitions(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``$defs/PhaseTransition`` records: ``tick`` is the first tick in the new phase."""
    out: list[dict[str, Any]] = []
    previous: str | None = None
    for step in steps:
        phase = step["phase"]
        if previous is not None and phase != previous:
            out.append({"tick": step["t"], "fromPhase": previous, "toPhase": phase})
        previous = phase
    return out


def basin_losses(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``$defs/BasinLoss`` records in tick order (model order within a tick)."""
    return [dict(loss) for step in steps for loss in step.get("losses", ())]


def ghost_branches(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``$defs/GhostBranch`` records in tick order."""
    return [dict(step["ghost"]) for step in steps if step.get("ghost") is not None]
