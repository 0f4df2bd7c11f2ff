"""What a trace is a trace of: the run's identity, carried beside the steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TraceMetadata:
    """The identity of a run: with the scenario, these fields reproduce it bit for bit.

    ``ticks`` is the number of ticks the run was asked for (a complete trace has that many
    steps, ``t = 1..ticks``); ``simulation_id`` is the server's id of the run, ``None`` for a
    trace computed without a server. ``scenario`` is the scenario as submitted (wire form),
    when known, and ``decrees`` the decrees submitted into the run (``kairos_api.Decree`` wire
    dicts, the applied ones in the order they took effect): with them,
    :meth:`~kairos.Trace.replay_scenario` rebuilds the run as a plain scenario.
    """

    engine_version: str
    seed: int
    scenario_name: str
    ticks: int
    simulation_id: str | None = None
    # Context, not identity: traces compare equal by their steps and the fields above.
    scenario: Mapping[str, Any] | None = field(default=None, compare=False)
    decrees: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Typed fields may still arrive wrong from a JSON header or from untyped user code.
        version: object = self.engine_version
        name: object = self.scenario_name
        sim_id: object = self.simulation_id
        problems = []
        if not isinstance(version, str) or not version:
            problems.append(f"engine_version must be a non-empty string, got {version!r}")
        if not _is_int(self.seed) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(name, str):
            problems.append(f"scenario_name must be a string, got {name!r}")
        if not _is_int(self.ticks) or self.ticks < 1:
            problems.append(f"ticks must be a positive integer, got {self.ticks!r}")
        if sim_id is not None and not isinstance(sim_id, str):
            problems.append(f"simulation_id must be a string or None, got {sim_id!r}")
        scenario: object = self.scenario
        decrees: object = self.decrees
        if scenario is not None and not isinstance(scenario, Mapping):
            problems.append(f"scenario must be a mapping or None, got {scenario!r}")
        if not isinstance(decrees, tuple) or not all(isinstance(d, Mapping) for d in decrees):
            problems.append(f"decrees must be a tuple of mappings, got {self.decrees!r}")
        if problems:
            raise ValueError("invalid TraceMetadata: " + "; ".join(problems))

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON form (as in the trace file header); ``scenario`` and
        ``decrees`` only when present, so that older readers read the other traces."""
        wire: dict[str, Any] = {
            "engineVersion": self.engine_version,
            "seed": self.seed,
            "scenarioName": self.scenario_name,
            "ticks": self.ticks,
            "simulationId": self.simulation_id,
        }
        if self.scenario is not None:
            wire["scenario"] = dict(self.scenario)
        if self.decrees:
            wire["decrees"] = [dict(d) for d in self.decrees]
        return wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TraceMetadata:
        """Inverse of :meth:`to_wire`; unknown keys are an error, not silently dropped."""
        optional = {"simulationId", "scenario", "decrees"}
        known = {"engineVersion", "seed", "scenarioName", "ticks", *optional}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown trace metadata fields: {', '.join(unknown)}")
        missing = sorted(known - optional - set(data))
        if missing:
            raise ValueError(f"missing trace metadata fields: {', '.join(missing)}")
        return cls(
            engine_version=data["engineVersion"],
            seed=data["seed"],
            scenario_name=data["scenarioName"],
            ticks=data["ticks"],
            simulation_id=data.get("simulationId"),
            scenario=data.get("scenario"),
            decrees=tuple(data.get("decrees", ())),
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
