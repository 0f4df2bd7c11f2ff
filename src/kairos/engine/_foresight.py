"""Prophecies and stability warnings (engine 1.6.0 and later): what the engine foresees.

Pure functions of the state after a tick, so they are as reproducible as the steps they annotate.

* A **prophecy**, every ``PROPHECY_INTERVAL`` ticks: ``PROPHECY_MEMBERS`` projections of the
  current state ``PROPHECY_HORIZON`` ticks ahead with the engine's own tick (collisions included),
  each with fresh reserve noise from a stream of its own and **no further events**: what happens
  if nothing else is done. ``predictedPhase`` is the phase most projections end the horizon in
  (a tie goes to the more severe phase: volatile, then stagnant, then resonant);
  ``confidence`` is the fraction of projections that end in it; ``lossRisk`` the fraction in
  which some model still in its basin loses it within the horizon, ``atRisk`` those models.
* A **warning** when a stability (the system's or a model's) falls below ``WARNING_LEVEL``;
  it is re-armed once that stability is back at ``WARNING_REARM`` or above (a band, so noise
  near the level does not repeat it).

The projections never touch the run's state or its random streams: the steps of a 1.6.0 run
differ from 1.5.0's only by these annotations (tested).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._adapter import CompiledScenario
from ._dynamics import BODY_FLOAT_COLUMNS, MODEL_FLOAT_COLUMNS, EngineState, advance
from ._integrators import Integrator
from ._phases import PHASE_NAMES, RESONANT, STAGNANT, VOLATILE
from ._prng import MASK64, draw, mix64

PROPHECY_INTERVAL = 25
"""Ticks between prophecies (a prophecy follows every tick that is a multiple of it)."""

PROPHECY_HORIZON = 50
"""How many ticks ahead a prophecy looks (below 64: ticks and horizon share a counter)."""

PROPHECY_MEMBERS = 8
"""Projections per prophecy; confidence and loss risk are multiples of 1/8 (exact floats)."""

PROPHECY_SALT = 0x50524F50484559  # "PROPHEY": keeps the projection streams apart from the run's

WARNING_LEVEL = 0.45
"""A stability below this raises a warning (above the volatile threshold 0.40: a warning comes
before the phase changes)."""

WARNING_REARM = 0.50
"""A stability back at this level or above re-arms its warning."""

# The more severe phase first: a tie between projections goes to it.
_SEVERITY = (VOLATILE, STAGNANT, RESONANT)


def _copy(state: EngineState) -> EngineState:
    copy = dataclasses.replace(state, lost=list(state.lost), nominal=None, armed=[])
    for name in (*MODEL_FLOAT_COLUMNS, *BODY_FLOAT_COLUMNS):
        setattr(copy, name, list(getattr(state, name)))
    return copy


class Foresight:
    """Annotates the steps of one run with its prophecies and warnings."""

    def __init__(self, scenario: CompiledScenario, integrator: Integrator, key: int) -> None:
        # The projections see no events: they answer "what if nothing else happens".
        self.quiet = dataclasses.replace(scenario, events=(), events_by_tick={})
        self.names = [m.name for m in scenario.models]
        self.integrator = integrator
        self.key = mix64((key ^ PROPHECY_SALT) & MASK64)

    def annotate(self, step: dict[str, Any], state: EngineState) -> None:
        """Add ``warnings`` (when any) and ``prophecy`` (on prophecy ticks) to ``step``, the
        step ``advance`` just returned for ``state``; updates the warning state."""
        if not state.armed:
            state.armed = [True] * (1 + len(self.names))
        warnings = self._warnings(step, state)
        if warnings:
            step["warnings"] = warnings
        if state.tick % PROPHECY_INTERVAL == 0:
            step["prophecy"] = self.prophecy(state)

    def _warnings(self, step: dict[str, Any], state: EngineState) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        agents = step["agents"]
        values = [step["stability"]] + [agents[name]["stability"] for name in self.names]
        for k, value in enumerate(values):
            if state.armed[k] and value < WARNING_LEVEL:
                state.armed[k] = False
                warning: dict[str, Any] = {
                    "tick": state.tick,
                    "level": WARNING_LEVEL,
                    "stability": value,
                }
                if k > 0:
                    warning["agent"] = self.names[k - 1]
                out.append(warning)
            elif not state.armed[k] and value >= WARNING_REARM:
                state.armed[k] = True
        return out

    def prophecy(self, state: EngineState) -> dict[str, Any]:
        """The prophecy made after the tick ``state`` is at (see the module docstring)."""
        t = state.tick
        ends = [0, 0, 0]
        losing = 0
        at_risk = [False] * len(self.names)
        for member in range(PROPHECY_MEMBERS):
            future = _copy(state)
            key = draw(self.key, t * PROPHECY_MEMBERS + member)
            for _ in range(PROPHECY_HORIZON):
                advance(future, self.quiet, self.integrator, key)
            ends[future.phase] += 1
            lost_here = False
            for i, lost in enumerate(future.lost):
                if lost and not state.lost[i]:
                    at_risk[i] = True
                    lost_here = True
            losing += 1 if lost_here else 0
        predicted = _SEVERITY[0]
        for phase in _SEVERITY:
            if ends[phase] > ends[predicted]:
                predicted = phase
        members = float(PROPHECY_MEMBERS)
        return {
            "tick": t,
            "horizon": PROPHECY_HORIZON,
            "predictedPhase": PHASE_NAMES[predicted],
            "confidence": ends[predicted] / members,
            "lossRisk": losing / members,
            "atRisk": [name for name, risk in zip(self.names, at_risk, strict=True) if risk],
        }
