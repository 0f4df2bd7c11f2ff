"""The records an :class:`~kairos.domains.ai_safety.AISafetyScenario` holds: one per model,
oversight body and event, each with its camelCase wire form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Number = int | float
"""A field value as the user gave it: ints stay ints on the wire (``100``, not ``100.0``)."""


@dataclass(frozen=True)
class ModelEntry:
    """A model as added to a scenario. Optional fields left as ``None`` are omitted from the
    wire form, so the engine applies its documented defaults (coverage 50, autonomy 5,
    oversight 50)."""

    name: str
    capability_index: Number
    alignment_score: Number
    guardrail_coverage: Number | None = None
    autonomy_level: Number | None = None
    human_oversight_freq: Number | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "name": self.name,
            "capabilityIndex": self.capability_index,
            "alignmentScore": self.alignment_score,
        }
        for key, value in (
            ("guardrailCoverage", self.guardrail_coverage),
            ("autonomyLevel", self.autonomy_level),
            ("humanOversightFreq", self.human_oversight_freq),
        ):
            if value is not None:
                wire[key] = value
        return wire


@dataclass(frozen=True)
class OversightBodyEntry:
    """An oversight body as added to a scenario."""

    name: str
    guardrail_strength: Number
    response_latency: Number

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "guardrailStrength": self.guardrail_strength,
            "responseLatency": self.response_latency,
        }


@dataclass(frozen=True)
class EventEntry:
    """An event as scheduled. ``target=None`` acts on the whole system; ``magnitude=None``
    takes the event type's default magnitude."""

    tick: int
    type: str
    target: str | None = None
    magnitude: Number | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"tick": self.tick, "type": self.type}
        if self.target is not None:
            wire["target"] = self.target
        if self.magnitude is not None:
            wire["magnitude"] = self.magnitude
        return wire
