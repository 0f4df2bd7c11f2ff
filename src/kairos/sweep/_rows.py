"""One row of a sweep: the swept parameter values and the outcome of the run they built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._chunk import FIRST_LOSS_KEY

RESULT_COLUMNS = (
    "scenario",
    "seed",
    "engine_version",
    "ticks",
    "final_phase",
    "mean_stability",
    "min_stability",
    "phase_transitions",
    "basin_losses",
    "ghost_branches",
    "first_basin_loss_tick",
)
"""The outcome columns of every row, after the parameter columns. A parameter may not take one
of these names, except ``seed`` (sweeping seeds is the Monte Carlo idiom), which must then be
the seed of the scenario it built."""


@dataclass(frozen=True)
class SweepRow:
    """The parameters of one point of a sweep and the summary of its run.

    ``params`` holds the swept values as given to ``build``; the other fields are the run's
    identity (scenario name, seed, the pinned engine version, ticks) and its summary, equal
    bit for bit on every execution path. ``first_basin_loss_tick`` is the tick of the first
    basin loss (``trace.basin_losses()[0].tick``), ``None`` when every model kept its basin.
    ``row["capability"]`` reads a parameter or a field by name; :meth:`to_dict` is the flat
    form used by ``SweepResult.to_pandas``.
    """

    params: Mapping[str, Any] = field(hash=False)
    scenario: str
    seed: int
    engine_version: str
    ticks: int
    final_phase: str
    mean_stability: float
    min_stability: float
    phase_transitions: int
    basin_losses: int
    ghost_branches: int
    first_basin_loss_tick: int | None

    def __getitem__(self, name: str) -> Any:
        if name in RESULT_COLUMNS:
            return getattr(self, name)
        try:
            return self.params[name]
        except KeyError:
            known = ", ".join([*self.params, *RESULT_COLUMNS])
            raise KeyError(f"no column {name!r} in this row; columns: {known}") from None

    def to_dict(self) -> dict[str, Any]:
        """Parameters first, then the result columns (a ``seed`` parameter is the ``seed``
        column)."""
        out = {name: value for name, value in self.params.items() if name != "seed"}
        out.update((name, getattr(self, name)) for name in RESULT_COLUMNS)
        return out

    @classmethod
    def from_summary(
        cls,
        params: Mapping[str, Any],
        scenario: Mapping[str, Any],
        ticks: int,
        engine_version: str,
        summary: Mapping[str, Any],
    ) -> SweepRow:
        """A row from a ``SimulationSummary`` wire dict (plus ``firstBasinLossTick``)."""
        return cls(
            params=dict(params),
            scenario=str(scenario["name"]),
            seed=int(scenario["seed"]),
            engine_version=engine_version,
            ticks=ticks,
            final_phase=str(summary["finalPhase"]),
            mean_stability=float(summary["meanStability"]),
            min_stability=float(summary["minStability"]),
            phase_transitions=int(summary["phaseTransitions"]),
            basin_losses=int(summary["basinLosses"]),
            ghost_branches=int(summary["ghostBranches"]),
            first_basin_loss_tick=summary[FIRST_LOSS_KEY],
        )
