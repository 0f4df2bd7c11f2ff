"""Scenario builders shared by the engine tests (wire form, as a client would send them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "schema" / "kairos.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())


def sweep_scenario(
    capability: int,
    *,
    alignment: float = 70,
    guardrails: float = 60,
    oversight_freq: float | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The documented capability sweep scenario (seed = capability, jump 0.3 at tick 100)."""
    model: dict[str, Any] = {
        "name": "model",
        "capabilityIndex": capability,
        "alignmentScore": alignment,
        "guardrailCoverage": guardrails,
    }
    if oversight_freq is not None:
        model["humanOversightFreq"] = oversight_freq
    scenario: dict[str, Any] = {
        "name": f"sweep_{capability}",
        "seed": capability,
        "models": [model],
        "events": [{"tick": 100, "type": "capability_jump", "target": "model", "magnitude": 0.3}],
    }
    if body is not None:
        scenario["oversightBodies"] = [body]
    return scenario


def rich_scenario(seed: int = 1024) -> dict[str, Any]:
    """Three models, two bodies and one event of every type."""
    return {
        "name": "Deceptive Alignment Spikes",
        "domain": "ai_safety",
        "seed": seed,
        "models": [
            {
                "name": "Model_A",
                "capabilityIndex": 850,
                "alignmentScore": 92,
                "autonomyLevel": 8,
                "humanOversightFreq": 20,
                "guardrailCoverage": 95,
            },
            {"name": "Model_B", "capabilityIndex": 300, "alignmentScore": 30},
            {
                "name": "Model_C",
                "capabilityIndex": 900,
                "alignmentScore": 10,
                "guardrailCoverage": 0,
                "humanOversightFreq": 0,
            },
        ],
        "oversightBodies": [
            {"name": "safety_board", "guardrailStrength": 75, "responseLatency": 25},
            {"name": "monitor", "guardrailStrength": 30, "responseLatency": 90},
        ],
        "events": [
            {"tick": 5, "type": "capability_jump", "target": "Model_B", "magnitude": 0.5},
            {"tick": 8, "type": "alignment_drift", "target": "Model_A"},
            {"tick": 10, "type": "deceptive_alignment", "target": "Model_A", "magnitude": 0.3},
            {"tick": 12, "type": "guardrail_breach", "target": "safety_board"},
            {"tick": 12, "type": "guardrail_breach", "target": "Model_B", "magnitude": 0.2},
            {"tick": 15, "type": "autonomy_grant", "target": "Model_B", "magnitude": 3},
            {"tick": 18, "type": "oversight_lapse"},
            {"tick": 20, "type": "human_escalation", "target": "Model_C"},
            {"tick": 25, "type": "containment", "target": "Model_C", "magnitude": 0.9},
            {"tick": 30, "type": "capability_jump", "magnitude": 0.1},
        ],
    }


def paradox_scenario(seed: int = 3) -> dict[str, Any]:
    """Two unbuffered, highly capable models: collisions are paradoxes (ghost branches)."""
    return {
        "name": "dual administrator",
        "seed": seed,
        "models": [
            {
                "name": "a",
                "capabilityIndex": 1000,
                "alignmentScore": 0,
                "guardrailCoverage": 0,
                "humanOversightFreq": 0,
            },
            {
                "name": "b",
                "capabilityIndex": 800,
                "alignmentScore": 5,
                "guardrailCoverage": 0,
                "humanOversightFreq": 0,
            },
        ],
    }


def scenario_strategy() -> Any:
    """Hypothesis strategy of valid wire scenarios: 1-4 models, 0-2 bodies, 0-8 events of any
    type with valid targets and magnitudes (including extreme corners of every range)."""
    from hypothesis import strategies as st

    from kairos.engine._vocabulary import EVENT_TYPES

    def number(lo: float, hi: float) -> Any:
        return st.one_of(
            st.sampled_from([lo, hi]),
            st.floats(lo, hi, allow_nan=False, allow_infinity=False),
            st.integers(int(lo), int(hi)),
        )

    model = st.fixed_dictionaries(
        {"capabilityIndex": number(1, 1000), "alignmentScore": number(0, 100)},
        optional={
            "guardrailCoverage": number(0, 100),
            "autonomyLevel": number(0, 10),
            "humanOversightFreq": number(0, 100),
        },
    )
    body = st.fixed_dictionaries(
        {"guardrailStrength": number(0, 100), "responseLatency": number(0, 100)}
    )

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        models = [
            dict(m, name=f"m{i}")
            for i, m in enumerate(draw(st.lists(model, min_size=1, max_size=4)))
        ]
        bodies = [dict(b, name=f"b{i}") for i, b in enumerate(draw(st.lists(body, max_size=2)))]
        events = []
        for _ in range(draw(st.integers(0, 8))):
            spec = draw(st.sampled_from(EVENT_TYPES))
            names = [None]
            if "model" in spec.targets:
                names += [m["name"] for m in models]
            if "oversight_body" in spec.targets:
                names += [b["name"] for b in bodies]
            event: dict[str, Any] = {"tick": draw(st.integers(1, 40)), "type": spec.type}
            target = draw(st.sampled_from(names))
            if target is not None:
                event["target"] = target
            if draw(st.booleans()):
                event["magnitude"] = draw(number(spec.minimum, spec.maximum))
            events.append(event)
        return {
            "name": "generated",
            "seed": draw(st.integers(0, 2**53 - 1)),
            "models": models,
            "oversightBodies": bodies,
            "events": events,
        }

    return build()
