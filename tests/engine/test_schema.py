"""Engine outputs validate against the contract, schema/kairos.schema.json."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jsonschema import Draft202012Validator

from kairos.engine import (
    basin_losses,
    domain_info,
    engine_versions,
    ghost_branches,
    phase_transitions,
    run,
    summarize,
    validate_scenario,
)
from kairos.engine._vocabulary import MODEL_FIELDS

from .scenarios import SCHEMA, paradox_scenario, rich_scenario, sweep_scenario

Make = Callable[[str], Draft202012Validator]


@pytest.mark.parametrize(
    "scenario",
    [rich_scenario(), paradox_scenario(), sweep_scenario(700)],
    ids=["rich", "paradox", "sweep-700"],
)
def test_steps_records_and_summary_validate(schema_validator: Make, scenario: dict) -> None:
    steps = run(scenario, 200)
    step_validator = schema_validator("TraceStep")
    for step in steps:
        step_validator.validate(step)
    schema_validator("SimulationSummary").validate(summarize(steps))
    for name, records in (
        ("PhaseTransition", phase_transitions(steps)),
        ("BasinLoss", basin_losses(steps)),
        ("GhostBranch", ghost_branches(steps)),
    ):
        for record in records:
            schema_validator(name).validate(record)


def test_reference_scenarios_are_schema_valid(schema_validator: Make) -> None:
    for scenario in (rich_scenario(), paradox_scenario(), sweep_scenario(100)):
        schema_validator("Scenario").validate(scenario)


def test_each_record_kind_is_exercised() -> None:
    steps = run(paradox_scenario(), 200)
    assert ghost_branches(steps) and basin_losses(steps)
    assert phase_transitions(run(sweep_scenario(400), 200))


def test_domain_info_and_engine_versions_validate(schema_validator: Make) -> None:
    schema_validator("DomainList").validate(domain_info())
    schema_validator("EngineVersions").validate(engine_versions())


def test_validation_issues_validate(schema_validator: Make) -> None:
    issues = validate_scenario({"models": [{"name": "x", "capabilityIndex": 0}], "bogus": 1})
    assert issues
    wire = [issue.to_wire() for issue in issues]
    schema_validator("ValidationResult").validate({"valid": False, "issues": wire})


@pytest.mark.parametrize("field", ["guardrailCoverage", "autonomyLevel", "humanOversightFreq"])
def test_adapter_defaults_equal_schema_defaults(field: str) -> None:
    schema_field = SCHEMA["$defs"]["AISafetyModel"]["properties"][field]
    spec = next(f for f in MODEL_FIELDS if f.name == field)
    assert spec.default == schema_field["default"]


@pytest.mark.parametrize("entity", ["AISafetyModel", "OversightBody"])
def test_adapter_ranges_equal_schema_ranges(entity: str) -> None:
    props = SCHEMA["$defs"][entity]["properties"]
    kinds = {k["kind"]: k["fields"] for k in domain_info()["domains"][0]["entityKinds"]}
    fields = kinds["model" if entity == "AISafetyModel" else "oversight_body"]
    assert [f["name"] for f in fields] == list(props)
    for field in fields:
        prop = props[field["name"]]
        assert field["minimum"] == prop.get("minimum")
        assert field["maximum"] == prop.get("maximum")
        assert field["default"] == prop.get("default")
        assert field["required"] == (field["name"] in SCHEMA["$defs"][entity]["required"])


def test_event_types_match_the_schema_enum() -> None:
    listed = [e["type"] for e in domain_info()["domains"][0]["eventTypes"]]
    assert listed == SCHEMA["$defs"]["AISafetyEventType"]["enum"]
    bounds = SCHEMA["$defs"]["ScenarioEvent"]["properties"]["magnitude"]
    for event in domain_info()["domains"][0]["eventTypes"]:
        assert bounds["minimum"] <= event["minMagnitude"] <= event["defaultMagnitude"]
        assert event["defaultMagnitude"] <= event["maxMagnitude"] <= bounds["maximum"]
