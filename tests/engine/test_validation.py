"""The adapter rejects bad input with every problem, each under its wire path."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from kairos.engine import ScenarioError, compile_scenario, run, validate_scenario

from .scenarios import rich_scenario, sweep_scenario


def paths(scenario: Any) -> dict[str, str]:
    return {issue.path: issue.message for issue in validate_scenario(scenario)}


def test_valid_scenarios_have_no_issues() -> None:
    assert validate_scenario(rich_scenario()) == []
    assert validate_scenario(sweep_scenario(100)) == []


def test_every_problem_is_reported_with_its_path_and_range() -> None:
    bad = {
        "name": "",
        "domain": "finance",
        "seed": -1,
        "models": [
            {"name": "A", "capabilityIndex": 1200, "alignmentScore": True, "extra": 1},
            {
                "name": "A",
                "capabilityIndex": 10,
                "alignmentScore": 50,
                "autonomyLevel": float("nan"),
            },
            {"capabilityIndex": "high", "alignmentScore": -1, "guardrailCoverage": 101},
        ],
        "oversightBodies": [{"name": "board", "guardrailStrength": 50}],
        "events": [
            {"tick": 0, "type": "capability_jump", "target": "A", "magnitude": 11},
            {"tick": 5, "type": "meteor"},
            {"tick": 5, "type": "containment", "target": "ghost"},
            {"tick": 5, "type": "containment", "target": "board"},
            {"tick": 5, "type": "oversight_lapse", "target": "A"},
            {"tick": 2.5, "type": "containment", "magnitude": float("inf")},
            {"type": "containment", "when": 3},
            "not an event",
        ],
        "colour": "red",
    }
    found = paths(bad)
    expected = {
        "name": "1 to 200",
        "domain": "ai_safety",
        "seed": "between 0 and 9007199254740991",
        "colour": "unknown field",
        "models[0].capabilityIndex": "between 1 and 1000",
        "models[0].alignmentScore": "got boolean",
        "models[0].extra": "unknown field",
        "models[1].name": "duplicate name 'A'",
        "models[1].autonomyLevel": "finite",
        "models[2].name": "is required",
        "models[2].capabilityIndex": "got string",
        "models[2].alignmentScore": "between 0 and 100",
        "models[2].guardrailCoverage": "between 0 and 100",
        "oversightBodies[0].responseLatency": "is required",
        "events[0].tick": "between 1 and 10000000",
        "events[0].magnitude": "between 0 and 10",
        "events[1].type": "must be one of capability_jump",
        "events[2].target": "unknown target 'ghost'",
        "events[3].target": "cannot target the oversight body 'board'",
        "events[4].target": "cannot target the model 'A'",
        "events[5].tick": "integer",
        "events[5].magnitude": "finite",
        "events[6].tick": "is required",
        "events[6].when": "unknown field",
        "events[7]": "must be an object",
    }
    for path, fragment in expected.items():
        assert path in found, (path, found)
        assert fragment in found[path], (path, found[path])
    assert set(found) == set(expected)


def test_compile_raises_with_all_issues() -> None:
    scenario = sweep_scenario(100)
    scenario["models"][0]["capabilityIndex"] = 0
    scenario["events"][0]["magnitude"] = -1
    with pytest.raises(ScenarioError) as info:
        compile_scenario(scenario)
    assert [i.path for i in info.value.issues] == [
        "models[0].capabilityIndex",
        "events[0].magnitude",
    ]
    assert "models[0].capabilityIndex: must be between 1 and 1000, got 0" in str(info.value)
    with pytest.raises(ScenarioError):
        run(scenario, 10)


@pytest.mark.parametrize(
    ("scenario", "path"),
    [
        ([], "$"),
        ({}, "name"),
        ({"name": "x", "seed": 1, "models": []}, "models"),
        ({"name": "x", "seed": 1, "models": "m"}, "models"),
        (
            {
                "name": "x",
                "seed": True,
                "models": [{"name": "m", "capabilityIndex": 1, "alignmentScore": 1}],
            },
            "seed",
        ),
        (
            {
                "name": "x",
                "seed": 1,
                "models": [{"name": ".m", "capabilityIndex": 1, "alignmentScore": 1}],
            },
            "models[0].name",
        ),
        (
            {
                "name": "x",
                "seed": 1,
                "models": [{"name": "m" * 65, "capabilityIndex": 1, "alignmentScore": 1}],
            },
            "models[0].name",
        ),
    ],
)
def test_structural_problems(scenario: Any, path: str) -> None:
    assert path in paths(scenario)


def test_names_are_shared_between_models_and_bodies() -> None:
    scenario = rich_scenario()
    scenario["oversightBodies"][1]["name"] = "Model_B"
    assert paths(scenario) == {
        "oversightBodies[1].name": "duplicate name 'Model_B': already used by models[1].name"
    }


def test_too_many_models() -> None:
    scenario = sweep_scenario(100)
    scenario["models"] = [dict(scenario["models"][0], name=f"m{i}") for i in range(65)]
    scenario["events"] = []
    assert "must have 1 to 64 items, got 65" in paths(scenario)["models"]


def test_json_numbers_normalize() -> None:
    """100 and 100.0 are the same JSON number: same fingerprint, same trace."""
    a = sweep_scenario(100)
    b = copy.deepcopy(a)
    b["models"][0]["capabilityIndex"] = 100.0
    b["seed"] = 100.0
    b["events"][0]["tick"] = 100.0
    assert compile_scenario(a).fingerprint == compile_scenario(b).fingerprint
    assert run(a, 120) == run(b, 120)


def test_compiled_scenario_keeps_names_and_values() -> None:
    compiled = compile_scenario(rich_scenario())
    assert compiled.name == "Deceptive Alignment Spikes"
    assert compiled.seed == 1024
    assert [m.name for m in compiled.models] == ["Model_A", "Model_B", "Model_C"]
    assert compiled.models[1].guardrail == 50.0 and compiled.models[1].autonomy == 5.0
    assert [b.name for b in compiled.bodies] == ["safety_board", "monitor"]
    assert compiled.bodies[0].lag_gain == 1.0 / (1.0 + 0.5 * 25)
    assert [e.tick for e in compiled.events] == sorted(e.tick for e in compiled.events)
    changed = rich_scenario()
    changed["name"] = "other"
    assert compile_scenario(changed).fingerprint != compiled.fingerprint


def test_defaults_are_filled_and_fingerprint_sees_them() -> None:
    a = sweep_scenario(100)
    b = copy.deepcopy(a)
    b["models"][0].update(autonomyLevel=5, humanOversightFreq=50)
    b["oversightBodies"] = []
    b["domain"] = "ai_safety"
    assert compile_scenario(a).fingerprint == compile_scenario(b).fingerprint
    b["models"][0]["autonomyLevel"] = 6
    assert compile_scenario(a).fingerprint != compile_scenario(b).fingerprint


def test_boundaries_are_inclusive() -> None:
    scenario = sweep_scenario(1)
    scenario["models"][0].update(
        capabilityIndex=1000,
        alignmentScore=0,
        autonomyLevel=10,
        guardrailCoverage=100,
        humanOversightFreq=0,
    )
    scenario["events"][0]["magnitude"] = 10
    scenario["seed"] = 2**53 - 1
    assert validate_scenario(scenario) == []
    scenario["events"][0]["magnitude"] = math.nextafter(10.0, 11.0)
    assert list(paths(scenario)) == ["events[0].magnitude"]
