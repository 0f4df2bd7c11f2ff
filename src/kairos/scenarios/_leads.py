"""How early a run's foresight (engine 1.6.0 and later) saw its basin losses coming."""

from __future__ import annotations

from dataclasses import dataclass

from kairos.trace._base import TraceQueries
from kairos_api import Prophecy


@dataclass(frozen=True)
class ForesightLead:
    """One basin loss and how long before it the engine's foresight flagged it.

    ``prophecy_tick`` is the first prophecy of the unbroken run of prophecies naming the model
    in ``at_risk`` that ends with the last prophecy before the loss (None when that prophecy did
    not name it: the loss was not foreseen); ``prophecy_lead`` is ``loss_tick - prophecy_tick``.
    ``alarm_tick`` and ``alarm_lead`` are the same for prophecies that also give the loss even
    odds or better (``loss_risk >= 0.5``): a majority of the projections lose a basin.
    ``warning_tick`` is the last warning for the model (or the system) at or before the loss,
    ``warning_lead`` the ticks from it to the loss.
    """

    agent: str
    loss_tick: int
    prophecy_tick: int | None
    prophecy_lead: int | None
    alarm_tick: int | None
    alarm_lead: int | None
    warning_tick: int | None
    warning_lead: int | None


def foresight_leads(trace: TraceQueries) -> list[ForesightLead]:
    """For every basin loss of ``trace``, how early its prophecies and warnings flagged it."""
    prophecies = trace.prophecies()
    warnings = trace.warnings()
    out = []
    for loss in trace.basin_losses():
        named = [p for p in prophecies if loss.agent in p.at_risk]
        likely = [p for p in named if p.loss_risk >= 0.5]
        first = _unbroken(prophecies, loss.tick, named)
        alarm = _unbroken(prophecies, loss.tick, likely)
        warned = [w.tick for w in warnings if w.tick <= loss.tick and w.agent in (None, loss.agent)]
        last_warning = warned[-1] if warned else None
        out.append(
            ForesightLead(
                agent=loss.agent,
                loss_tick=loss.tick,
                prophecy_tick=first,
                prophecy_lead=None if first is None else loss.tick - first,
                alarm_tick=alarm,
                alarm_lead=None if alarm is None else loss.tick - alarm,
                warning_tick=last_warning,
                warning_lead=None if last_warning is None else loss.tick - last_warning,
            )
        )
    return out


def _unbroken(prophecies: list[Prophecy], before: int, flagged: list[Prophecy]) -> int | None:
    """The first tick of the unbroken run of flagged prophecies ending with the last prophecy
    made before tick ``before`` (None when that one is not flagged)."""
    ticks = {p.tick for p in flagged}
    first: int | None = None
    for prophecy in prophecies:
        if prophecy.tick >= before:
            break
        first = (prophecy.tick if first is None else first) if prophecy.tick in ticks else None
    return first
