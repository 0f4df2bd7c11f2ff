"""``TraceStep`` wire dicts built from the kernel's recorded rows (``_kernel.Chunk``).

The dicts are equal, key for key and bit for bit, to what ``_dynamics.advance`` returns (tested
through canonical bytes). A chunk's arrays are converted to Python floats once (``tolist``);
each step is then assembled when it is asked for.
"""

from __future__ import annotations

from typing import Any

from ._adapter import CompiledScenario
from ._kernel import Chunk
from ._kernel_codes import FLAG_INVOLVED, FLAG_LOST, FLAG_NEW_LOSS, FLAG_YIELDS, GHOST_BIT
from ._phases import PHASE_NAMES


class StepBuilder:
    """Builds one scenario's steps from recorded chunks."""

    def __init__(self, scenario: CompiledScenario) -> None:
        self.names = [m.name for m in scenario.models]
        self.bodies = [b.name for b in scenario.bodies]
        self.events = scenario.events_by_tick
        self._chunk: Chunk | None = None
        self._lists: tuple[list[Any], list[Any], list[Any], list[Any], list[Any]] | None = None

    def _rows(self, chunk: Chunk) -> tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]:
        if self._chunk is not chunk or self._lists is None:
            self._chunk = chunk
            self._lists = (
                chunk.model.tolist(),
                chunk.body.tolist(),
                chunk.tick.tolist(),
                chunk.phase.tolist(),
                chunk.flags.tolist(),
            )
        return self._lists

    def step(self, chunk: Chunk, k: int) -> dict[str, Any]:
        """The step of row ``k`` of ``chunk`` (tick ``chunk.start + k + 1``)."""
        model, body, scalars, phases, flag_rows = self._rows(chunk)
        t = chunk.start + k + 1
        names = self.names
        rows, flags, code = model[k], flag_rows[k], phases[k]
        agents = {}
        for i, name in enumerate(names):
            gamma, lam, stability, cumulative, load, capability, alignment = rows[i]
            agents[name] = {
                "gamma": gamma,
                "lambda": lam,
                "stability": stability,
                "cumulativeStability": cumulative,
                "load": load,
                "capabilityIndex": capability,
                "alignmentScore": alignment,
                "basinLost": bool(flags[i] & FLAG_LOST),
            }
        strengths = body[k]
        ghost: dict[str, Any] | None = None
        if code >= GHOST_BIT:
            code -= GHOST_BIT
            ghost = {
                "tick": t,
                "agents": [names[i] for i in range(len(names)) if flags[i] & FLAG_INVOLVED],
                "score": scalars[k][1],
                "decree": "yield:"
                + ",".join(names[i] for i in range(len(names)) if flags[i] & FLAG_YIELDS),
            }
        losses = [
            {"tick": t, "agent": names[i], "magnitude": float(chunk.magnitude[k, i])}
            for i in range(len(names))
            if flags[i] & FLAG_NEW_LOSS
        ]
        return {
            "t": t,
            "stability": scalars[k][0],
            "phase": PHASE_NAMES[code],
            "agents": agents,
            "oversight": {
                name: {"effectiveStrength": strengths[b]} for b, name in enumerate(self.bodies)
            },
            "events": [dict(event.wire) for event in self.events.get(t, ())],
            "losses": losses,
            "ghost": ghost,
        }
