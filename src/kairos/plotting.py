"""matplotlib figures of traces and sweeps (the ``plotting`` extra).

``pip install "kairos-sdk[plotting]"``. Every function draws on ``ax`` when given (to compose
figures) and otherwise on a new figure, and returns the axes, so a notebook shows the plot and a
script can ``ax.figure.savefig(...)``. matplotlib is imported when a function is first called,
never by ``import kairos``. Each plot reads its trace once, so a :class:`~kairos.LazyTrace` of
a long run streams its file a single time.

Phases are drawn in one colour scheme everywhere (colour-blind safe): resonant green, volatile
orange, stagnant purple.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from kairos.errors import MissingDependencyError
from kairos.trace._base import TraceQueries

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from kairos.sweep import SweepResult

__all__ = ["DANGER_STABILITY", "PHASE_COLORS", "plot_agents", "plot_stability", "plot_sweep"]

PHASE_COLORS = {"resonant": "#1b9e77", "volatile": "#d95f02", "stagnant": "#7570b3"}
"""The colour of each phase (ColorBrewer Dark2, readable by colour-blind viewers)."""

DANGER_STABILITY = 0.1
"""The documentation's danger level of global stability (``if step.stability < 0.1``)."""

LOSS_COLOR = "#c1121f"
EVENT_COLOR = "#495057"
WARNING_COLOR = "#e6a100"


def plot_stability(
    trace: TraceQueries, ax: Axes | None = None, *, danger: float | None = DANGER_STABILITY
) -> Axes:
    """Global stability over time: the curve a researcher reads first.

    The background is shaded by phase, so regime changes show without reading numbers; events
    are dashed vertical lines labelled with their type (where the story turns), basin losses
    red crosses on the curve (irreversible failures, labelled with the model), ghost branches
    ticks along the bottom (paradoxes rolled back under a decree), and ``danger`` a dotted
    line (``None`` hides it). Engine 1.6.0 traces add their foresight: stability warnings as
    amber triangles on the curve, and prophecies that foresee a basin loss (loss risk at least
    one half) as red carets along the top, at the tick they were made.
    """
    ax = _axes(ax)
    ticks: list[int] = []
    stability: list[float] = []
    phases: list[str] = []
    events: list[tuple[int, str]] = []
    losses: list[tuple[int, float, str]] = []
    # Marked points (tick, height): ghost branches along the bottom, prophecies along the top.
    ghosts: list[tuple[int, float]] = []
    warned: list[tuple[int, float]] = []
    foreseen: list[tuple[int, float]] = []
    for step in trace:
        ticks.append(step.t)
        stability.append(step.stability)
        phases.append(str(step.phase))
        events += [(step.t, _event_label(event)) for event in step.events]
        losses += [(step.t, step.stability, loss.agent) for loss in step.losses]
        if step.ghost is not None:
            ghosts.append((step.t, 0.015))
        if step.warnings:
            warned.append((step.t, step.stability))
        if step.prophecy is not None and step.prophecy.loss_risk >= 0.5:
            foreseen.append((step.t, 0.97))
    if not ticks:
        raise ValueError("cannot plot a trace without steps")

    _phase_bands(ax, ticks, phases)
    ax.plot(ticks, stability, color="black", linewidth=1.2, label="global stability S")
    if danger is not None:
        ax.axhline(danger, color=LOSS_COLOR, linestyle=":", linewidth=1, label=f"danger {danger}")
    transform = ax.get_xaxis_transform()
    for tick, label in events:
        ax.axvline(tick, color=EVENT_COLOR, linestyle="--", linewidth=0.8)
        ax.text(
            tick,
            0.98,
            f" {label}",
            transform=transform,
            rotation=90,
            va="top",
            ha="left",
            fontsize=8,
            color=EVENT_COLOR,
        )
    _marks(ax, ghosts, "ghost branch (paradox rolled back)", marker="|", s=60, color=EVENT_COLOR)
    _marks(ax, warned, "stability warning", marker="v", s=45, color=WARNING_COLOR, zorder=4)
    _marks(ax, foreseen, "prophecy: basin loss likely", marker="^", s=40, color=LOSS_COLOR)
    basin_losses = [(tick, value) for tick, value, _ in losses]
    _marks(ax, basin_losses, "basin loss", marker="X", s=70, color=LOSS_COLOR, zorder=5)
    for tick, value, agent in losses:
        ax.annotate(
            agent,
            (tick, value),
            textcoords="offset points",
            xytext=(5, 6),
            fontsize=8,
            color=LOSS_COLOR,
        )
    ax.set_ylim(0.0, 1.0)
    return _finish(ax, trace, ticks, "global stability S", legend="upper right")


def plot_agents(
    trace: TraceQueries, ax: Axes | None = None, *, agents: Sequence[str] | None = None
) -> Axes:
    """Each model's Gamma (buffer, solid) and Lambda (pressure, dashed) over time, one colour
    per model: where the dashed line of a model rises above its solid one its load exceeds 1
    and its reserve erodes. Basin losses are marked on the model's Gamma curve."""
    ax = _axes(ax)
    names = list(agents) if agents is not None else trace.agent_ids()
    unknown = sorted(set(names) - set(trace.agent_ids()))
    if unknown:
        raise KeyError(f"no agents {unknown} in this trace; its agents: {trace.agent_ids()}")
    ticks: list[int] = []
    gamma: dict[str, list[float]] = {name: [] for name in names}
    lam: dict[str, list[float]] = {name: [] for name in names}
    losses: list[tuple[int, str]] = []
    for step in trace:
        ticks.append(step.t)
        for name in names:
            state = step.agents[name]
            gamma[name].append(state.gamma)
            lam[name].append(state.lambda_)
        losses += [(step.t, loss.agent) for loss in step.losses if loss.agent in gamma]
    if not ticks:
        raise ValueError("cannot plot a trace without steps")
    colors = _pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for index, name in enumerate(names):
        color = colors[index % len(colors)]
        ax.plot(ticks, gamma[name], color=color, linewidth=1.3, label=f"{name} Γ (buffer)")
        ax.plot(
            ticks,
            lam[name],
            color=color,
            linewidth=1.3,
            linestyle="--",
            label=f"{name} Λ (pressure)",
        )
    for tick, name in losses:
        ax.scatter(
            [tick], [gamma[name][tick - ticks[0]]], marker="X", s=70, color=LOSS_COLOR, zorder=5
        )
    if losses:
        ax.scatter([], [], marker="X", s=70, color=LOSS_COLOR, label="basin loss")
    ax.set_ylim(bottom=0.0)
    return _finish(ax, trace, ticks, "Γ and Λ", legend="best")


def plot_sweep(
    result: SweepResult,
    parameter: str | None = None,
    ax: Axes | None = None,
    threshold: Any = None,
) -> Axes:
    """Mean stability of every run against ``parameter`` (the sweep's only parameter by
    default), each marker coloured by the run's final phase, crosses for runs with a basin
    loss: the shape of the transition at a glance.

    ``threshold`` marks the critical value: a number (a line), a ``GridThreshold`` or a
    ``ThresholdSearch`` (its bracket shaded, its value a line), or ``True`` to compute
    ``result.threshold(parameter)`` (basin losses appear).
    """
    ax = _axes(ax)
    if parameter is None:
        if len(result.parameters) != 1:
            raise ValueError(
                f"the sweep varies {list(result.parameters)}: say which one to plot against"
            )
        parameter = result.parameters[0]
    rows = sorted(result.rows, key=lambda row: row[parameter])
    if not rows:
        raise ValueError("cannot plot an empty sweep")
    xs = [row[parameter] for row in rows]
    if len(result.parameters) == 1:
        ax.plot(xs, [r.mean_stability for r in rows], color="#adb5bd", linewidth=0.8, zorder=1)
    for phase, color in PHASE_COLORS.items():
        for lost, marker in ((False, "o"), (True, "X")):
            chosen = [r for r in rows if r.final_phase == phase and (r.basin_losses > 0) == lost]
            if chosen:
                ax.scatter(
                    [r[parameter] for r in chosen],
                    [r.mean_stability for r in chosen],
                    color=color,
                    marker=marker,
                    s=36,
                    zorder=3,
                    label=f"{phase}{' + basin loss' if lost else ''}",
                )
    if threshold is True:
        threshold = result.threshold(parameter)
    if threshold is not None:
        _threshold(ax, parameter, threshold)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(parameter)
    ax.set_ylabel("mean stability")
    ax.set_title(
        f"{len(rows)} runs, {result.ticks} ticks, engine {result.engine_version} "
        "(colour: final phase)"
    )
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return ax


# -- helpers ---------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("plotting", "matplotlib", "plotting") from None
    return plt


def _axes(ax: Axes | None) -> Axes:
    plt = _pyplot()
    if ax is not None:
        return ax
    _, made = plt.subplots(figsize=(10, 4.5), layout="constrained")
    out: Axes = made
    return out


def _finish(
    ax: Axes,
    trace: TraceQueries,
    ticks: Sequence[int],
    ylabel: str,
    *,
    legend: Literal["upper right", "best"],
) -> Axes:
    """The tick axis, labels, title and legend that every trace plot ends with."""
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xlabel("tick")
    ax.set_ylabel(ylabel)
    ax.set_title(_title(trace))
    ax.legend(loc=legend, fontsize=8, framealpha=0.9)
    return ax


def _title(trace: TraceQueries) -> str:
    meta = trace.metadata
    return f"{meta.scenario_name} (seed {meta.seed}, engine {meta.engine_version})"


def _event_label(event: Any) -> str:
    kind = getattr(event.type, "value", event.type)
    return f"{kind} → {event.target}" if event.target else str(kind)


def _marks(ax: Axes, points: Sequence[tuple[int, float]], label: str, **style: Any) -> None:
    """Points ``(tick, height)`` of one kind on the plot, with their legend entry; nothing when
    there are none (a legend names only what the plot shows)."""
    if points:
        ax.scatter([t for t, _ in points], [y for _, y in points], label=label, **style)


def _phase_bands(ax: Axes, ticks: Sequence[int], phases: Sequence[str]) -> None:
    """One shaded span per run of equal phases; a tick's span is ``[t - 0.5, t + 0.5]``."""
    start = 0
    labelled: set[str] = set()
    for index in range(1, len(phases) + 1):
        if index < len(phases) and phases[index] == phases[start]:
            continue
        phase = phases[start]
        ax.axvspan(
            ticks[start] - 0.5,
            ticks[index - 1] + 0.5,
            color=PHASE_COLORS.get(phase),
            alpha=0.15,
            linewidth=0,
            label=None if phase in labelled else phase,
        )
        labelled.add(phase)
        start = index


def _threshold(ax: Axes, parameter: str, threshold: Any) -> None:
    if isinstance(threshold, (int, float)):
        value, bracket = float(threshold), None
    elif hasattr(threshold, "low") and hasattr(threshold, "high"):
        value, bracket = threshold.value, (threshold.low, threshold.high)
    else:
        raise TypeError(
            "threshold must be a number, a GridThreshold, a ThresholdSearch or True, got "
            f"{threshold!r}"
        )
    if bracket is not None:
        ax.axvspan(*bracket, color=LOSS_COLOR, alpha=0.12, linewidth=0)
    ax.axvline(
        value,
        color=LOSS_COLOR,
        linestyle="--",
        linewidth=1.2,
        label=f"threshold {parameter} ≈ {value:.4g}",
    )
