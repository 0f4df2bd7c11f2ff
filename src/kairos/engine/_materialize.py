"""``TraceStep`` wire dicts built from the kernel's recorded rows (``_kernel.Chunk``).

The dicts are equal, key for key and bit for bit, to what ``_dynamics.advance`` returns (tested
through canonical bytes). A chunk's arrays are converted to Python floats once (``tolist``);
each step is then assembled when it is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._adapter import CompiledScenario
from ._canonical import canonical_json
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
        self._lists: tuple[list[Any], list[Any], list[Any], list[Any], list[Any]] = (
            [],
            [],
            [],
            [],
            [],
        )
        self._special: set[int] = set()
        """Rows of the current chunk with a ghost branch or a basin loss."""
        self._finite = True

    def _rows(self, chunk: Chunk) -> tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]:
        if self._chunk is not chunk:
            self._chunk = chunk
            self._lists = (
                chunk.model.tolist(),
                chunk.body.tolist(),
                chunk.tick.tolist(),
                chunk.phase.tolist(),
                chunk.flags.tolist(),
            )
            ghost = chunk.phase >= GHOST_BIT
            loss = ((chunk.flags & FLAG_NEW_LOSS) != 0).any(axis=1)
            self._special = set(np.flatnonzero(ghost | loss).tolist())
            self._finite = chunk.all_finite()
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
                "basinLost": (flags[i] & FLAG_LOST) != 0,
            }
        strengths = body[k]
        ghost: dict[str, Any] | None = None
        losses: list[dict[str, Any]] = []
        if k in self._special:
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


class LineBuilder(StepBuilder):
    """Builds one scenario's canonical step lines (``canonical_step_bytes``) straight from the
    recorded rows, without a dict per step: a per-scenario template with the keys already in
    canonical (sorted) order, filled with ``repr`` of each float (what ``json`` writes). A tick
    with a ghost branch, a basin loss or a non-finite number goes through the step dict and
    ``canonical_json`` instead (rare), so the two paths cannot disagree on those."""

    def __init__(self, scenario: CompiledScenario) -> None:
        super().__init__(scenario)
        self.order = sorted(range(len(self.names)), key=lambda i: self.names[i])
        self.body_order = sorted(range(len(self.bodies)), key=lambda b: self.bodies[b])
        parts = ['{"agents":{']
        for pos, i in enumerate(self.order):
            parts.append(
                ("," if pos else "")
                + _key(self.names[i])
                + ':{"alignmentScore":%r,"basinLost":%s,"capabilityIndex":%r,'
                '"cumulativeStability":%r,"gamma":%r,"lambda":%r,"load":%r,"stability":%r}'
            )
        parts.append('},"events":%s,"ghost":null,"losses":[],"oversight":{')
        for pos, b in enumerate(self.body_order):
            parts.append(("," if pos else "") + _key(self.bodies[b]) + ':{"effectiveStrength":%r}')
        parts.append('},"phase":"%s","stability":%r,"t":%d}\n')
        self.template = "".join(parts)
        self.event_text = {
            t: canonical_json([dict(e.wire) for e in evs]) for t, evs in self.events.items()
        }

    def line(self, chunk: Chunk, k: int) -> bytes:
        """The canonical line (with its ``\\n``) of row ``k`` of ``chunk``."""
        model, body, scalars, phases, flag_rows = self._rows(chunk)
        if k in self._special or not self._finite:
            return (canonical_json(self.step(chunk, k)) + "\n").encode("ascii")
        flags, code = flag_rows[k], phases[k]
        rows = model[k]
        values: list[Any] = []
        for i in self.order:
            gamma, lam, stability, cumulative, load, capability, alignment = rows[i]
            values += (
                alignment,
                "true" if flags[i] & FLAG_LOST else "false",
                capability,
                cumulative,
                gamma,
                lam,
                load,
                stability,
            )
        t = chunk.start + k + 1
        values.append(self.event_text.get(t, "[]"))
        strengths = body[k]
        values += (strengths[b] for b in self.body_order)
        values += (PHASE_NAMES[code], scalars[k][0], t)
        return (self.template % tuple(values)).encode("ascii")


def _key(name: str) -> str:
    """A name as a JSON object key in a %-template."""
    return canonical_json(name).replace("%", "%%")
