"""Every event type has its documented effect, default magnitude and targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kairos.engine import domain_info, run

Step = dict[str, Any]


def base(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "events",
        "seed": 7,
        "models": [
            {
                "name": "m",
                "capabilityIndex": 200,
                "alignmentScore": 80,
                "guardrailCoverage": 50,
                "autonomyLevel": 5,
                "humanOversightFreq": 50,
            },
            {"name": "n", "capabilityIndex": 100, "alignmentScore": 80},
        ],
        "oversightBodies": [{"name": "board", "guardrailStrength": 60, "responseLatency": 40}],
        "events": events,
    }


def m(step: Step) -> dict[str, Any]:
    agent: dict[str, Any] = step["agents"]["m"]
    return agent


CASES: list[tuple[str, str | None, float | None, Callable[[Step, Step], bool]]] = [
    (
        "capability_jump",
        "m",
        0.3,
        lambda b, a: (
            m(a)["capabilityIndex"] == pytest.approx(260.0) and m(a)["lambda"] > m(b)["lambda"]
        ),
    ),
    (
        "alignment_drift",
        "m",
        None,  # default -10 points
        lambda b, a: m(a)["alignmentScore"] == 70.0 and m(a)["gamma"] < m(b)["gamma"],
    ),
    (
        "deceptive_alignment",
        "m",
        0.5,
        lambda b, a: m(a)["alignmentScore"] == 40.0 and m(a)["gamma"] < m(b)["gamma"],
    ),
    ("guardrail_breach", "m", 1.0, lambda b, a: m(a)["gamma"] < m(b)["gamma"]),
    (
        "guardrail_breach",
        "board",
        0.5,
        lambda b, a: a["oversight"]["board"]["effectiveStrength"] == pytest.approx(30.0),
    ),
    (
        "autonomy_grant",
        "m",
        None,  # default +2 levels: factor 1.0 -> 1.2
        lambda b, a: m(a)["lambda"] == pytest.approx(m(b)["lambda"] * 1.2),
    ),
    (
        "oversight_lapse",
        "board",
        None,  # default: total lapse, recovering through the lag
        lambda b, a: 0.0 < a["oversight"]["board"]["effectiveStrength"] < 10.0,
    ),
    (
        "human_escalation",
        "m",
        None,  # default +25 points
        lambda b, a: m(a)["gamma"] > m(b)["gamma"],
    ),
    (
        "containment",
        "m",
        None,  # default halves the pressure
        lambda b, a: m(a)["lambda"] == pytest.approx(m(b)["lambda"] * 0.5),
    ),
]


@pytest.mark.parametrize(
    ("kind", "target", "magnitude", "check"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_event_effect(
    kind: str,
    target: str | None,
    magnitude: float | None,
    check: Callable[[Step, Step], bool],
) -> None:
    event: dict[str, Any] = {"tick": 3, "type": kind}
    if target is not None:
        event["target"] = target
    if magnitude is not None:
        event["magnitude"] = magnitude
    quiet = run(base([]), 3)
    steps = run(base([event]), 3)
    assert quiet[1] == steps[1]  # nothing happens before the event's tick
    assert check(quiet[2], steps[2])
    assert steps[2]["events"][0]["magnitude"] == (
        magnitude if magnitude is not None else _default(kind)
    )


def _default(kind: str) -> float:
    info = domain_info()["domains"][0]["eventTypes"]
    value: float = next(e["defaultMagnitude"] for e in info if e["type"] == kind)
    return value


def test_system_target_acts_on_every_model_and_body() -> None:
    steps = run(
        base(
            [
                {"tick": 2, "type": "capability_jump", "magnitude": 1.0},
                {"tick": 2, "type": "guardrail_breach", "magnitude": 1.0},
            ]
        ),
        2,
    )
    after = steps[1]
    assert after["agents"]["m"]["capabilityIndex"] == 400.0
    assert after["agents"]["n"]["capabilityIndex"] == 200.0
    assert after["oversight"]["board"]["effectiveStrength"] == 0.0
    assert after["events"] == [
        {"tick": 2, "type": "capability_jump", "magnitude": 1.0},
        {"tick": 2, "type": "guardrail_breach", "magnitude": 1.0},
    ]


def test_events_in_one_tick_apply_in_input_order() -> None:
    drift_then_floor = [
        {"tick": 2, "type": "alignment_drift", "target": "m", "magnitude": 50},
        {"tick": 2, "type": "alignment_drift", "target": "m", "magnitude": -100},
    ]
    steps = run(base(drift_then_floor), 2)
    assert steps[1]["agents"]["m"]["alignmentScore"] == 0.0  # 80 -> 100 (clamped) -> 0
    steps = run(base(drift_then_floor[::-1]), 2)
    assert steps[1]["agents"]["m"]["alignmentScore"] == 50.0  # 80 -> 0 (clamped) -> 50


def test_events_after_the_last_tick_never_fire() -> None:
    steps = run(base([{"tick": 99, "type": "containment"}]), 10)
    assert all(step["events"] == [] for step in steps)


def test_extreme_schedules_stay_finite(schema_validator: object) -> None:
    """Hundreds of maximal jumps and drifts: every number stays finite (canonical JSON refuses
    NaN and infinity) and within the schema."""
    from kairos.engine import canonical_trace_bytes

    events: list[dict[str, Any]] = []
    for tick in range(1, 401):
        events.append({"tick": tick, "type": "capability_jump", "magnitude": 10})
        events.append({"tick": tick, "type": "autonomy_grant", "magnitude": 10})
        events.append({"tick": tick, "type": "containment", "target": "n", "magnitude": 1})
    steps = run(base(events), 420)
    assert canonical_trace_bytes(steps)
    assert steps[-1]["agents"]["m"]["capabilityIndex"] == 1e6
    assert steps[-1]["agents"]["n"]["lambda"] == 0.0
    validate = schema_validator("TraceStep")  # type: ignore[operator]
    for step in steps[::50]:
        validate.validate(step)
