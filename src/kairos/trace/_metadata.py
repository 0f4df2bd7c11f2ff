"""What a trace is a trace of: the run's identity, carried beside the steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TraceMetadata:
    """The identity of a run: with the scenario, these fields reproduce it bit for bit.

    ``ticks`` is the number of ticks the run was asked for (a complete trace has that many
    steps, ``t = 1..ticks``); ``simulation_id`` is the server's id of the run, ``None`` for a
    trace computed without a server.
    """

    engine_version: str
    seed: int
    scenario_name: str
    ticks: int
    simulation_id: str | None = None

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
        if problems:
            raise ValueError("invalid TraceMetadata: " + "; ".join(problems))

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON form (as in the trace file header)."""
        return {
            "engineVersion": self.engine_version,
            "seed": self.seed,
            "scenarioName": self.scenario_name,
            "ticks": self.ticks,
            "simulationId": self.simulation_id,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TraceMetadata:
        """Inverse of :meth:`to_wire`; unknown keys are an error, not silently dropped."""
        known = {"engineVersion", "seed", "scenarioName", "ticks", "simulationId"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown trace metadata fields: {', '.join(unknown)}")
        missing = sorted(known - {"simulationId"} - set(data))
        if missing:
            raise ValueError(f"missing trace metadata fields: {', '.join(missing)}")
        return cls(
            engine_version=data["engineVersion"],
            seed=data["seed"],
            scenario_name=data["scenarioName"],
            ticks=data["ticks"],
            simulation_id=data.get("simulationId"),
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
