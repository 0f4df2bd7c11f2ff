"""The questions every trace answers, written once over an abstract step source."""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from kairos.errors import KairosError
from kairos_api import (
    AgentState,
    BasinLoss,
    Decree,
    GhostBranch,
    PhaseTransition,
    Prophecy,
    SimulationSummary,
    StabilityWarning,
    TraceStep,
)

from ._aggregates import TraceSummary
from ._metadata import TraceMetadata
from ._trace_file import StrPath, encode_step

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    from matplotlib.axes import Axes

    from ._memory import Trace


class TraceQueries(Sequence[TraceStep]):
    """Shared implementation of :class:`Trace` and :class:`LazyTrace`.

    Subclasses provide the metadata, the :class:`TraceSummary` of their steps, positional access
    and ordered iteration; every analysis method is derived from those, so both kinds of trace
    give the same answers. Positions (``trace[i]``) count from 0 like any sequence; ticks
    (``state_at(tick)``) count as the engine does, from the trace's first tick.
    """

    metadata: TraceMetadata

    @abstractmethod
    def _summary(self) -> TraceSummary: ...

    @abstractmethod
    def _step(self, position: int) -> TraceStep:
        """The step at ``position``, already known to be in range."""

    @abstractmethod
    def _iter_from(self, position: int) -> Iterator[TraceStep]:
        """The steps from ``position`` to the end, in order."""

    @abstractmethod
    def _window(self, start: int, stop: int) -> Trace:
        """The steps ``start:stop`` (in range, ``start <= stop``) as an in-memory Trace."""

    # -- sequence protocol --------------------------------------------------------------------

    def __len__(self) -> int:
        return self._summary().count

    def __iter__(self) -> Iterator[TraceStep]:
        return self._iter_from(0)

    @overload
    def __getitem__(self, index: int) -> TraceStep: ...

    @overload
    def __getitem__(self, index: slice) -> Trace: ...

    def __getitem__(self, index: int | slice) -> TraceStep | Trace:
        """``trace[i]`` is a step; ``trace[a:b]`` is a :class:`Trace` of consecutive steps
        (a window with the same metadata and every analysis method). Slices with a step other
        than 1 are refused: their ticks would not be consecutive."""
        count = len(self)
        if isinstance(index, slice):
            start, stop, stride = index.indices(count)
            if stride != 1:
                raise ValueError(
                    "a trace slice must be contiguous (step 1); for every k-th step use "
                    "list(trace)[::k] or trace.steps[::k]"
                )
            return self._window(start, max(start, stop))
        if not isinstance(index, int):
            raise TypeError(f"trace indices must be integers or slices, not {type(index).__name__}")
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            raise IndexError(f"trace index {index} out of range for a trace of {count} steps")
        return self._step(position)

    @property
    def steps(self) -> list[TraceStep]:
        """All steps as a new list (for a LazyTrace this reads the whole file into memory)."""
        return list(self)

    # -- run-level queries --------------------------------------------------------------------

    @property
    def first_tick(self) -> int:
        """The tick of the first step (1 for a whole run). Raises ValueError when empty."""
        return self._nonempty().first_tick

    @property
    def last_tick(self) -> int:
        """The tick of the last step. Raises ValueError when empty."""
        return self._nonempty().last_tick

    @property
    def is_complete(self) -> bool:
        """Whether the trace holds the whole run: ticks ``1..metadata.ticks``."""
        summary = self._summary()
        return summary.count == self.metadata.ticks and summary.first_tick == 1

    def final_phase(self) -> str:
        """The phase after the last tick: ``"resonant"``, ``"volatile"`` or ``"stagnant"``."""
        phase = self._nonempty().last_phase
        assert phase is not None
        return str(phase)

    def mean_stability(self) -> float:
        """The mean of the global stability ``step.stability`` over the steps.

        Computed exactly as the engine's run summary computes it (a Neumaier-compensated sum in
        tick order, divided by the number of steps), so that for a whole run it equals the
        server's ``summary.meanStability`` bit for bit, and :class:`Trace` and
        :class:`LazyTrace` agree.
        """
        summary = self._nonempty()
        return summary.mean_stability()

    def min_stability(self) -> float:
        """The lowest global stability of any step."""
        return self._nonempty().min_stability

    def phase_transitions(self) -> list[PhaseTransition]:
        """Each change of phase between consecutive steps, recorded at the first tick of the
        new phase, in tick order."""
        return list(self._summary().transitions)

    def basin_losses(self) -> list[BasinLoss]:
        """Every basin loss of the trace in tick order (``basin_losses()[0].tick`` is when the
        first irreversible failure was triggered)."""
        return list(self._summary().losses)

    def ghost_branches(self) -> list[GhostBranch]:
        """The rolled-back first attempts of paradox ticks, in tick order."""
        return list(self._summary().ghosts)

    def summary(self) -> SimulationSummary:
        """The run's summary in the server's ``SimulationSummary`` shape, computed from the
        steps (``mean_stability`` as :meth:`mean_stability` defines it)."""
        summary = self._nonempty()
        assert summary.last_phase is not None
        return SimulationSummary(
            final_phase=summary.last_phase,
            mean_stability=self.mean_stability(),
            min_stability=summary.min_stability,
            phase_transitions=len(summary.transitions),
            basin_losses=len(summary.losses),
            ghost_branches=len(summary.ghosts),
        )

    def agent_ids(self) -> list[str]:
        """The names of the models in the trace, sorted (the order does not depend on how the
        steps were serialized)."""
        return list(self._summary().agent_ids)

    def agent_trace(self, name: str) -> AgentTrace:
        """The timeline of one model. Raises KeyError naming the known agents if there is no
        model called ``name``."""
        known = self._summary().agent_ids
        if name not in known:
            raise KeyError(
                f"no agent named {name!r} in this trace; its agents are: {', '.join(known)}"
                if known
                else f"no agent named {name!r}: the trace has no steps"
            )
        return AgentTrace(self, name)

    def step_at(self, tick: int) -> TraceStep:
        """The step of tick ``tick`` (``t == tick``). Raises IndexError naming the valid range."""
        summary = self._summary()
        if isinstance(tick, bool) or not isinstance(tick, int):
            raise TypeError(f"tick must be an integer, got {tick!r}")
        if not summary.count or not summary.first_tick <= tick <= summary.last_tick:
            valid = (
                f"{summary.first_tick}..{summary.last_tick}" if summary.count else "none (empty)"
            )
            raise IndexError(f"tick {tick} is not in this trace; valid ticks: {valid}")
        return self._step(tick - summary.first_tick)

    # -- foresight (engine 1.6.0 and later) ----------------------------------------------------

    def prophecies(self) -> list[Prophecy]:
        """The engine's prophecies, in tick order (empty for versions before 1.6.0): each
        ``{tick, horizon, predicted_phase, confidence, loss_risk, at_risk}`` (docs/engine.md,
        Prophecies)."""
        return [step.prophecy for step in self if step.prophecy is not None]

    def warnings(self) -> list[StabilityWarning]:
        """The stability warnings, in tick order (the system's first within a tick, then the
        models' in model order); empty for versions before 1.6.0."""
        return [warning for step in self for warning in step.warnings or ()]

    # -- decrees -------------------------------------------------------------------------------

    def decrees(self) -> list[Decree]:
        """The decrees submitted into the run (``metadata.decrees``): the applied ones in the
        order they took effect (``decree.tick``), then any pending or rejected ones."""
        return [Decree.model_validate(d) for d in self.metadata.decrees]

    def replay_scenario(self) -> dict[str, Any]:
        """The run as a plain scenario (wire form): the scenario as submitted with every applied
        decree appended as an event at the tick it took effect, in that order. Running it for
        ``metadata.ticks`` ticks on ``metadata.engine_version`` reproduces this trace bit for
        bit. Raises :class:`kairos.errors.KairosError` when the trace does not carry its
        scenario (a trace file written before scenarios were recorded, say)."""
        scenario = self.metadata.scenario
        if scenario is None:
            raise KairosError(
                "this trace does not carry its scenario (metadata.scenario is None); "
                "get it with client.trace(simulation_id)"
            )
        events = [
            {"tick": d.tick, **d.event.model_dump(mode="json", by_alias=True, exclude_none=True)}
            for d in self.decrees()
            if d.status == "applied"
        ]
        wire = dict(scenario)
        if events:
            wire["events"] = [*wire.get("events", []), *events]
        return wire

    # -- series for plotting ------------------------------------------------------------------

    def ticks(self) -> list[int]:
        """``step.t`` of every step."""
        return [step.t for step in self]

    def stability(self) -> list[float]:
        """The global stability of every step (aligned with :meth:`ticks`)."""
        return [step.stability for step in self]

    def phases(self) -> list[str]:
        """The phase of every step (aligned with :meth:`ticks`)."""
        return [str(step.phase) for step in self]

    def sha256(self) -> str:
        """Hex SHA-256 of the canonical bytes of the steps (see :mod:`kairos.trace`): equal for
        bit-identical traces, and comparable with the engine's golden trace hashes."""
        digest = hashlib.sha256()
        for step in self:
            digest.update(encode_step(step))
        return digest.hexdigest()

    # -- tables, plots and notebooks (kairos.trace._export, kairos.plotting) -------------------

    def to_pandas(self) -> pd.DataFrame:
        """One row per tick: ``t``, ``stability``, ``phase``, ``<model>.gamma``,
        ``<model>.lambda``, ``<model>.load``, ... (columns in :mod:`kairos.trace._export`).
        Needs the ``dataframe`` extra; a LazyTrace is converted chunk by chunk."""
        from ._export import Layout, to_pandas

        return to_pandas(self, Layout.of(self), self.metadata)

    def to_parquet(self, path: StrPath, *, overwrite: bool = False) -> None:
        """Write the trace as a Parquet table (the ``to_pandas`` columns plus the metadata),
        exact to the bit: ``Trace.from_parquet(path)`` reads it back. Needs the ``dataframe``
        extra. An existing file is an error unless ``overwrite`` is true."""
        from ._export import Layout, write_parquet

        write_parquet(path, self, Layout.of(self), self.metadata, overwrite=overwrite)

    def plot(self, ax: Axes | None = None, **options: Any) -> Axes:
        """Global stability over time with phases, events, basin losses and the danger line;
        see :func:`kairos.plotting.plot_stability`. Needs the ``plotting`` extra."""
        from kairos.plotting import plot_stability

        return plot_stability(self, ax, **options)

    def plot_agents(self, ax: Axes | None = None, **options: Any) -> Axes:
        """Each model's Gamma and Lambda over time; see :func:`kairos.plotting.plot_agents`."""
        from kairos.plotting import plot_agents

        return plot_agents(self, ax, **options)

    def _repr_html_(self) -> str:
        from ._export import html_summary

        path = getattr(self, "path", None)
        return html_summary(self, type(self).__name__, path if isinstance(path, str) else None)

    def _nonempty(self) -> TraceSummary:
        summary = self._summary()
        if not summary.count:
            raise ValueError("the trace has no steps")
        return summary


class AgentTrace:
    """The timeline of one model within a trace (from ``trace.agent_trace(name)``).

    It reads through its trace rather than copying: on a :class:`LazyTrace`, :meth:`state_at`
    seeks in the file and the series methods stream it.
    """

    def __init__(self, trace: TraceQueries, name: str) -> None:
        self._trace = trace
        self.name = name

    def __repr__(self) -> str:
        return f"AgentTrace({self.name!r}, steps={len(self._trace)})"

    def state_at(self, tick: int) -> AgentState:
        """The model's state after tick ``tick`` (gamma, lambda, stability, load, ...).
        Raises IndexError naming the valid tick range."""
        return self._trace.step_at(tick).agents[self.name]

    def ticks(self) -> list[int]:
        """The ticks of the trace (the x axis for the series below)."""
        return self._trace.ticks()

    def states(self) -> Iterator[AgentState]:
        """The model's state at every step, in tick order."""
        for step in self._trace:
            yield step.agents[self.name]

    def _series(self, field: Callable[[AgentState], float]) -> list[float]:
        return [field(state) for state in self.states()]

    def gamma(self) -> list[float]:
        """Effective Gamma at every step (aligned with ``trace.ticks()``)."""
        return self._series(lambda s: s.gamma)

    def lambda_(self) -> list[float]:
        """Effective Lambda at every step."""
        return self._series(lambda s: s.lambda_)

    def load(self) -> list[float]:
        """Thermodynamic load (Lambda over Gamma) at every step."""
        return self._series(lambda s: s.load)

    def stability(self) -> list[float]:
        """The model's own normalized stability at every step."""
        return self._series(lambda s: s.stability)

    def cumulative_stability(self) -> list[float]:
        """The model's running total of pairwise Stability Equation scores at every step."""
        return self._series(lambda s: s.cumulative_stability)

    def basin_loss(self) -> BasinLoss | None:
        """The model's basin loss, or None if it never left its basin in this trace."""
        return next((loss for loss in self._trace.basin_losses() if loss.agent == self.name), None)
