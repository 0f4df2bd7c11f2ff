"""The real API schema: valid JSON Schema 2020-12, faithful to the spec, usable outside Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydantic
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import kairos_api
from codegen import generate, load_schema, write_or_check

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "kairos.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
NODE_DIR = ROOT / "tests" / "node"

VALID_SCENARIO = {
    "name": "Deceptive Alignment Spikes",
    "seed": 1024,
    "models": [
        {
            "name": "Model_A",
            "capabilityIndex": 850,
            "alignmentScore": 92,
            "autonomyLevel": 8,
            "humanOversightFreq": 20,
            "guardrailCoverage": 95,
        }
    ],
    "oversightBodies": [{"name": "safety_board", "guardrailStrength": 75, "responseLatency": 25}],
    "events": [{"tick": 100, "type": "capability_jump", "target": "Model_A", "magnitude": 0.3}],
}

INVALID_SCENARIOS = {
    "capability out of range": {
        **VALID_SCENARIO,
        "models": [{"name": "m", "capabilityIndex": 1001, "alignmentScore": 50}],
    },
    "missing alignment": {**VALID_SCENARIO, "models": [{"name": "m", "capabilityIndex": 10}]},
    "unknown field": {**VALID_SCENARIO, "colour": "red"},
    "no models": {**VALID_SCENARIO, "models": []},
    "unknown event type": {**VALID_SCENARIO, "events": [{"tick": 1, "type": "meteor"}]},
    "tick zero": {**VALID_SCENARIO, "events": [{"tick": 0, "type": "capability_jump"}]},
    "negative seed": {**VALID_SCENARIO, "seed": -1},
    "bad name": {
        **VALID_SCENARIO,
        "models": [{"name": "has space", "capabilityIndex": 10, "alignmentScore": 5}],
    },
}


def _validator(definition: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        SCHEMA["$id"], Resource.from_contents(SCHEMA)
    )
    return Draft202012Validator({"$ref": f"{SCHEMA['$id']}#/$defs/{definition}"}, registry=registry)


def test_schema_is_valid_json_schema_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)
    load_schema(SCHEMA_PATH)  # also: every model and field has a description, the table is sound


def test_procedure_table_is_the_one_in_the_api_spec() -> None:
    # kairos-api.md section 3; retry-safety: queries and simulation.cancel are safe to retry,
    # simulation.create is not (it carries an idempotency key for opt-in retries).
    table = {
        p["path"]: (
            p["kind"],
            p["input"] and p["input"]["$ref"],
            p["output"]["$ref"],
            p["retrySafe"],
        )
        for p in SCHEMA["x-trpc-procedures"]
    }
    d = "#/$defs/"
    assert table == {
        "engine.versions": ("query", None, d + "EngineVersions", True),
        "domain.list": ("query", None, d + "DomainList", True),
        "scenario.validate": ("query", d + "ValidateScenarioInput", d + "ValidationResult", True),
        # issue 15: the scenario library
        "scenario.list": ("query", None, d + "LibraryScenarioList", True),
        "scenario.get": ("query", d + "LibraryScenarioIdInput", d + "LibraryScenario", True),
        "simulation.create": ("mutation", d + "CreateSimulationInput", d + "Simulation", False),
        "simulation.get": ("query", d + "SimulationIdInput", d + "Simulation", True),
        "simulation.list": ("query", d + "ListSimulationsInput", d + "SimulationPage", True),
        "simulation.trace": ("query", d + "TraceInput", d + "TracePage", True),
        "simulation.cancel": ("mutation", d + "SimulationIdInput", d + "Simulation", True),
        # issue 15: decrees, and the scenario a decreed run replays
        "simulation.decree": ("mutation", d + "DecreeInput", d + "Decree", False),
        "simulation.scenario": ("query", d + "SimulationIdInput", d + "SimulationScenario", True),
        "simulation.stream": ("subscription", d + "StreamInput", d + "TraceChunk", True),
        # The Observer page's charts (issue 16): a trace reduced on the server.
        "simulation.series": ("query", d + "SeriesInput", d + "SimulationSeries", True),
    }
    create = next(p for p in SCHEMA["x-trpc-procedures"] if p["path"] == "simulation.create")
    assert create["idempotencyKeyField"] == "idempotencyKey"
    decree = next(p for p in SCHEMA["x-trpc-procedures"] if p["path"] == "simulation.decree")
    assert decree["idempotencyKeyField"] == "idempotencyKey"
    stream = next(p for p in SCHEMA["x-trpc-procedures"] if p["path"] == "simulation.stream")
    assert stream["tracked"] is True


def test_wire_names_are_camel_case_and_python_names_snake_case() -> None:
    scenario = kairos_api.Scenario.model_validate(VALID_SCENARIO)
    model = scenario.models[0]
    assert (model.capability_index, model.human_oversight_freq) == (850, 20)
    assert scenario.oversight_bodies[0].response_latency == 25
    wire = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["models"][0]["capabilityIndex"] == 850
    assert "oversightBodies" in wire and "oversight_bodies" not in wire
    # Both spellings are accepted on construction.
    by_name = kairos_api.AISafetyModel(name="m", capability_index=5, alignment_score=1)
    assert by_name.model_dump(by_alias=True)["capabilityIndex"] == 5
    step = kairos_api.AgentState.model_validate(
        {
            "gamma": 1.0,
            "lambda": 0.5,
            "stability": 0.6,
            "cumulativeStability": 3.0,
            "load": 0.5,
            "capabilityIndex": 100,
            "alignmentScore": 70,
            "basinLost": False,
        }
    )
    assert step.lambda_ == 0.5  # a Python keyword gets a trailing underscore


def test_optional_fields_take_the_schema_defaults() -> None:
    model = kairos_api.AISafetyModel(name="m", capability_index=5, alignment_score=1)
    props = SCHEMA["$defs"]["AISafetyModel"]["properties"]
    assert model.guardrail_coverage == props["guardrailCoverage"]["default"]
    assert model.autonomy_level == props["autonomyLevel"]["default"]
    assert model.human_oversight_freq == props["humanOversightFreq"]["default"]


def test_valid_scenario_passes_jsonschema_and_pydantic() -> None:
    _validator("Scenario").validate(VALID_SCENARIO)
    kairos_api.Scenario.model_validate(VALID_SCENARIO)


@pytest.mark.parametrize("case", sorted(INVALID_SCENARIOS))
def test_invalid_scenarios_fail_jsonschema_and_pydantic_alike(case: str) -> None:
    document = INVALID_SCENARIOS[case]
    assert list(_validator("Scenario").iter_errors(document)), case
    with pytest.raises(pydantic.ValidationError):
        kairos_api.Scenario.model_validate(document)


def test_error_data_detail_is_a_discriminated_union() -> None:
    shape = kairos_api.ErrorShape.model_validate(
        {
            "message": 'Engine version "1.2.0" is not active',
            "code": -32012,
            "data": {
                "code": "PRECONDITION_FAILED",
                "httpStatus": 412,
                "path": "simulation.create",
                "kairos": {"kind": "engine_version", "requested": "1.2.0", "active": ["1.4.4"]},
            },
        }
    )
    assert isinstance(shape.data.kairos, kairos_api.EngineVersionErrorDetail)
    assert shape.data.kairos.active == ["1.4.4"]
    limited = kairos_api.ErrorData.model_validate(
        {
            "code": "TOO_MANY_REQUESTS",
            "httpStatus": 429,
            "kairos": {"kind": "rate_limit", "retryAfter": 2},
        }
    )
    assert isinstance(limited.kairos, kairos_api.RateLimitErrorDetail)
    assert limited.kairos.retry_after == 2
    with pytest.raises(pydantic.ValidationError):
        kairos_api.ErrorData.model_validate(
            {"code": "BAD_REQUEST", "httpStatus": 400, "kairos": {"kind": "nonsense"}}
        )


def test_committed_package_is_what_the_generator_produces(tmp_path: Path) -> None:
    assert (
        write_or_check(generate(SCHEMA_PATH), ROOT / "generated" / "kairos_api", check=True) == []
    )


def test_generated_constants_identify_the_schema() -> None:
    import hashlib

    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == kairos_api.SCHEMA_SHA256
    assert SCHEMA["x-api-version"] == kairos_api.API_VERSION


@pytest.fixture(scope="module")
def node_tools() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: the ajv check of the schema needs Node.js")
    if not (NODE_DIR / "node_modules" / "ajv").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True
        )
    return NODE_DIR


@pytest.mark.node
def test_schema_compiles_with_ajv_and_validates_like_python(
    node_tools: Path, tmp_path: Path
) -> None:
    args = ["node", str(node_tools / "compile_schema.mjs"), str(SCHEMA_PATH)]
    documents = {"valid": VALID_SCENARIO, **INVALID_SCENARIOS}
    for index, document in enumerate(documents.values()):
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps(document))
        args += ["Scenario", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert set(report["compiled"]) == set(SCHEMA["$defs"])
    verdicts = dict(zip(documents, (r["valid"] for r in report["results"]), strict=True))
    assert verdicts == {case: case == "valid" for case in documents}
