"""AISafetyScenario: the documentation's code, every validation rule, wire round trips."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kairos_api
from kairos.domains.ai_safety import (
    AISafetyEventType,
    AISafetyScenario,
    EventEntry,
    ModelEntry,
    OversightBodyEntry,
)
from kairos.engine import compile_scenario
from kairos.errors import Issue, KairosError, ValidationError


def deceptive_alignment_spikes() -> AISafetyScenario:
    """The documentation's scenario, as users write it."""
    scenario = AISafetyScenario("Deceptive Alignment Spikes", seed=1024)
    scenario.add_model(
        name="Model_A",
        capability_index=450,
        alignment_score=62,
        autonomy_level=6,
        human_oversight_freq=30,
        guardrail_coverage=55,
    )
    scenario.add_model(name="Model_B", capability_index=820, alignment_score=41)
    scenario.add_oversight_body("safety_board", guardrail_strength=70, response_latency=20)
    return scenario


def sweep_scenario(capability: int) -> AISafetyScenario:
    # Verbatim from the documented capability sweep.
    scenario = (
        AISafetyScenario(f"sweep_{capability}", seed=capability)
        .add_model(
            name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
        )
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )
    return scenario


def problems(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in exc.value.issues]


# -- the documentation's code ----------------------------------------------------------------


def test_documented_scenario() -> None:
    scenario = deceptive_alignment_spikes()
    assert scenario.name == "Deceptive Alignment Spikes" and scenario.seed == 1024
    assert scenario.to_wire() == {
        "name": "Deceptive Alignment Spikes",
        "domain": "ai_safety",
        "seed": 1024,
        "models": [
            {
                "name": "Model_A",
                "capabilityIndex": 450,
                "alignmentScore": 62,
                "guardrailCoverage": 55,
                "autonomyLevel": 6,
                "humanOversightFreq": 30,
            },
            # Optional fields left out stay out: the engine applies its documented defaults.
            {"name": "Model_B", "capabilityIndex": 820, "alignmentScore": 41},
        ],
        "oversightBodies": [
            {"name": "safety_board", "guardrailStrength": 70, "responseLatency": 20}
        ],
        "events": [],
    }


@pytest.mark.parametrize("capability", list(range(100, 1001, 18)))
def test_documented_sweep_chain(capability: int) -> None:
    scenario = sweep_scenario(capability)
    assert scenario.to_wire() == {
        "name": f"sweep_{capability}",
        "domain": "ai_safety",
        "seed": capability,
        "models": [
            {
                "name": "model",
                "capabilityIndex": capability,
                "alignmentScore": 70,
                "guardrailCoverage": 60,
            }
        ],
        "oversightBodies": [],
        "events": [{"tick": 100, "type": "capability_jump", "target": "model", "magnitude": 0.3}],
    }
    # What the client accepts, the engine compiles (the same validator runs on both sides).
    assert compile_scenario(scenario.to_wire()).seed == capability


def test_event_type_is_the_generated_enum() -> None:
    assert AISafetyEventType is kairos_api.enums.AISafetyEventType
    assert AISafetyEventType.CAPABILITY_JUMP == "capability_jump"
    assert [e.value for e in AISafetyEventType] == [
        "capability_jump",
        "alignment_drift",
        "deceptive_alignment",
        "guardrail_breach",
        "autonomy_grant",
        "oversight_lapse",
        "human_escalation",
        "containment",
    ]


def test_positional_and_string_forms() -> None:
    scenario = (
        AISafetyScenario("positional", 7)
        .add_model("m", 300, 80, 40, 3, 90)
        .add_oversight_body("board", 60, 10)
        .add_event(5, "alignment_drift", "m", -12.5)
        .add_event(6, AISafetyEventType.OVERSIGHT_LAPSE, "board")
        .add_event(7, AISafetyEventType.CONTAINMENT)
    )
    assert scenario.models == (ModelEntry("m", 300, 80, 40, 3, 90),)
    assert scenario.oversight_bodies == (OversightBodyEntry("board", 60, 10),)
    assert scenario.events == (
        EventEntry(5, "alignment_drift", "m", -12.5),
        EventEntry(6, "oversight_lapse", "board"),
        EventEntry(7, "containment"),
    )
    assert scenario.to_wire()["events"] == [
        {"tick": 5, "type": "alignment_drift", "target": "m", "magnitude": -12.5},
        {"tick": 6, "type": "oversight_lapse", "target": "board"},
        {"tick": 7, "type": "containment"},
    ]


def test_seed_is_required() -> None:
    with pytest.raises(TypeError, match="seed"):
        AISafetyScenario("no seed")  # type: ignore[call-arg]


# -- validation: immediate, per call ---------------------------------------------------------

MODEL_RULES = [
    ({"capability_index": 0}, "models[1].capabilityIndex", "must be between 1 and 1000, got 0"),
    ({"capability_index": 1000.5}, "models[1].capabilityIndex", "between 1 and 1000, got 1000.5"),
    ({"alignment_score": -1}, "models[1].alignmentScore", "must be between 0 and 100, got -1"),
    ({"alignment_score": 100.01}, "models[1].alignmentScore", "between 0 and 100, got 100.01"),
    ({"guardrail_coverage": 101}, "models[1].guardrailCoverage", "between 0 and 100, got 101"),
    ({"autonomy_level": 11}, "models[1].autonomyLevel", "must be between 0 and 10, got 11"),
    ({"autonomy_level": -0.5}, "models[1].autonomyLevel", "between 0 and 10, got -0.5"),
    ({"human_oversight_freq": 250}, "models[1].humanOversightFreq", "between 0 and 100, got 250"),
    ({"capability_index": "high"}, "models[1].capabilityIndex", "must be a number between 1 and"),
    ({"alignment_score": True}, "models[1].alignmentScore", "got boolean"),
    ({"alignment_score": math.nan}, "models[1].alignmentScore", "must be a finite number"),
    ({"capability_index": math.inf}, "models[1].capabilityIndex", "must be a finite number"),
    ({"name": ""}, "models[1].name", "must be 1 to 64 characters"),
    ({"name": "has space"}, "models[1].name", "letters, digits, '_', '.', '-'"),
    ({"name": "-leading"}, "models[1].name", "not starting with '.' or '-'"),
    ({"name": "x" * 65}, "models[1].name", "must be 1 to 64 characters"),
    ({"name": "Model_A"}, "models[1].name", "duplicate name 'Model_A': already used by models[0]"),
    ({"name": "safety_board"}, "models[1].name", "already used by oversightBodies[0].name"),
]


@pytest.mark.parametrize(("override", "path", "message"), MODEL_RULES)
def test_model_rules(override: dict[str, Any], path: str, message: str) -> None:
    scenario = AISafetyScenario("rules", seed=1)
    scenario.add_model(name="Model_A", capability_index=100, alignment_score=50)
    scenario.add_oversight_body("safety_board", guardrail_strength=50, response_latency=50)
    arguments: dict[str, Any] = {"name": "Model_B", "capability_index": 100, "alignment_score": 50}
    with pytest.raises(ValidationError) as info:
        scenario.add_model(**{**arguments, **override})
    assert len(info.value.issues) == 1
    assert info.value.issues[0].path == path
    assert message in info.value.issues[0].message
    assert path in str(info.value) and message in str(info.value)
    assert len(scenario.models) == 1  # the rejected model was not added


BODY_RULES = [
    ({"guardrail_strength": 100.5}, "oversightBodies[0].guardrailStrength", "between 0 and 100"),
    ({"guardrail_strength": None}, "oversightBodies[0].guardrailStrength", "got null"),
    ({"response_latency": -3}, "oversightBodies[0].responseLatency", "between 0 and 100, got -3"),
    ({"name": "m"}, "oversightBodies[0].name", "duplicate name 'm': already used by models[0]"),
    ({"name": "a/b"}, "oversightBodies[0].name", "letters, digits"),
]


@pytest.mark.parametrize(("override", "path", "message"), BODY_RULES)
def test_oversight_body_rules(override: dict[str, Any], path: str, message: str) -> None:
    scenario = AISafetyScenario("rules", seed=1).add_model("m", 100, 50)
    arguments: dict[str, Any] = {"name": "board", "guardrail_strength": 50, "response_latency": 5}
    with pytest.raises(ValidationError) as info:
        scenario.add_oversight_body(**{**arguments, **override})
    assert problems(info) == [(path, problems(info)[0][1])]
    assert message in info.value.issues[0].message
    assert scenario.oversight_bodies == ()


EVENT_RULES = [
    ({"tick": 0}, "events[1].tick", "must be an integer between 1 and 10000000, got 0"),
    ({"tick": 10_000_001}, "events[1].tick", "between 1 and 10000000, got 10000001"),
    ({"tick": 1.5}, "events[1].tick", "must be an integer"),
    (
        {"type": "capability_leap"},
        "events[1].type",
        "must be one of capability_jump, alignment_drift",
    ),
    ({"target": "ghost"}, "events[1].target", "unknown target 'ghost': no model or oversight body"),
    (
        {"type": "oversight_lapse", "target": "m"},
        "events[1].target",
        "oversight_lapse cannot target the model 'm'; it acts on: oversight body, or the whole",
    ),
    (
        {"type": AISafetyEventType.CAPABILITY_JUMP, "target": "board"},
        "events[1].target",
        "capability_jump cannot target the oversight body 'board'; it acts on: model",
    ),
    ({"magnitude": -0.1}, "events[1].magnitude", "must be between 0 and 10, got -0.1"),
    ({"type": "containment", "magnitude": 1.5}, "events[1].magnitude", "between 0 and 1, got 1.5"),
    ({"type": "alignment_drift", "magnitude": -101}, "events[1].magnitude", "between -100 and 100"),
    ({"type": "autonomy_grant", "magnitude": 11}, "events[1].magnitude", "between -10 and 10"),
]


@pytest.mark.parametrize(("override", "path", "message"), EVENT_RULES)
def test_event_rules(override: dict[str, Any], path: str, message: str) -> None:
    scenario = (
        AISafetyScenario("rules", seed=1)
        .add_model("m", 100, 50)
        .add_oversight_body("board", 50, 5)
        .add_event(1, AISafetyEventType.HUMAN_ESCALATION, target="m")
    )
    arguments: dict[str, Any] = {"tick": 10, "type": "capability_jump", "target": "m"}
    with pytest.raises(ValidationError) as info:
        scenario.add_event(**{**arguments, **override})
    assert [issue.path for issue in info.value.issues] == [path]
    assert message in info.value.issues[0].message
    assert len(scenario.events) == 1


def test_every_event_type_accepts_its_default_magnitude_on_the_system() -> None:
    scenario = AISafetyScenario("all events", seed=3).add_model("m", 100, 50)
    for tick, kind in enumerate(AISafetyEventType, 1):
        scenario.add_event(tick, kind)
    assert [e["type"] for e in scenario.to_wire()["events"]] == [k.value for k in AISafetyEventType]


def test_one_call_reports_every_problem() -> None:
    scenario = AISafetyScenario("many", seed=1).add_model("Model_A", 100, 50)
    with pytest.raises(ValidationError) as info:
        scenario.add_model("Model_A", 0, 101, autonomy_level=11)
    assert problems(info) == [
        ("models[1].capabilityIndex", "must be between 1 and 1000, got 0"),
        ("models[1].alignmentScore", "must be between 0 and 100, got 101"),
        ("models[1].autonomyLevel", "must be between 0 and 10, got 11"),
        ("models[1].name", "duplicate name 'Model_A': already used by models[0].name"),
    ]
    assert str(info.value).startswith("Cannot add model 'Model_A' to scenario 'many' (4 problems):")
    assert isinstance(info.value, KairosError)


def test_constructor_rules() -> None:
    with pytest.raises(ValidationError) as info:
        AISafetyScenario("", seed=-1)
    assert problems(info) == [
        ("name", "must be a string of 1 to 200 characters"),
        ("seed", "must be an integer between 0 and 9007199254740991, got -1"),
    ]
    for bad_seed in (2**53, 1.5, None, True, "1024"):
        with pytest.raises(ValidationError, match="seed: must be an integer between 0 and"):
            AISafetyScenario("s", seed=bad_seed)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="name: must be a string of 1 to 200"):
        AISafetyScenario("n" * 201, seed=1)
    assert AISafetyScenario("s", seed=2**53 - 1).seed == 2**53 - 1
    integral = AISafetyScenario("s", seed=1024.0)  # type: ignore[arg-type]
    assert integral.seed == 1024 and type(integral.seed) is int


def test_events_are_added_after_their_targets() -> None:
    scenario = AISafetyScenario("order", seed=1)
    with pytest.raises(ValidationError, match=r"events\[0\]\.target: unknown target 'late'"):
        scenario.add_event(1, "containment", target="late")
    scenario.add_model("late", 100, 50).add_event(1, "containment", target="late")
    assert len(scenario.events) == 1


# -- validation: the whole scenario ------------------------------------------------------------


def test_whole_scenario_checks() -> None:
    empty = AISafetyScenario("empty", seed=1)
    assert empty.issues() == [Issue("models", "must have 1 to 64 items, got 0")]
    with pytest.raises(ValidationError, match="models: must have 1 to 64 items, got 0"):
        empty.validate()
    with pytest.raises(ValidationError, match="Invalid scenario 'empty'"):
        empty.to_wire()
    with pytest.raises(ValidationError):
        empty.to_model()
    scenario = deceptive_alignment_spikes()
    assert scenario.issues() == []
    assert scenario.validate() is scenario


def test_model_count_limit() -> None:
    scenario = AISafetyScenario("crowd", seed=1)
    for i in range(64):
        scenario.add_model(f"m{i}", 100, 50)
    with pytest.raises(ValidationError, match="models: must have 1 to 64 items, got 65"):
        scenario.add_model("m64", 100, 50)


def test_from_wire_reports_every_problem_at_once() -> None:
    wire = {
        "name": "broken",
        "seed": 1,
        "models": [
            {"name": "a", "capabilityIndex": 5000, "alignmentScore": 50},
            {"name": "a", "capabilityIndex": 10, "alignmentScore": 50, "colour": "red"},
        ],
        "oversightBodies": [{"name": "b", "guardrailStrength": 50}],
        "events": [{"tick": 1, "type": "containment", "target": "nobody"}],
    }
    with pytest.raises(ValidationError) as info:
        AISafetyScenario.from_wire(wire)
    assert [issue.path for issue in info.value.issues] == [
        "models[0].capabilityIndex",
        "models[1].colour",
        "oversightBodies[0].responseLatency",
        "models[1].name",
        "events[0].target",
    ]
    assert "must be between 1 and 1000, got 5000" in str(info.value)
    assert "unknown field 'colour'" in str(info.value)


# -- wire round trips ------------------------------------------------------------------------


def rich_scenario() -> AISafetyScenario:
    return (
        deceptive_alignment_spikes()
        .add_event(100, AISafetyEventType.DECEPTIVE_ALIGNMENT, target="Model_A", magnitude=0.4)
        .add_event(150, AISafetyEventType.GUARDRAIL_BREACH, target="safety_board")
        .add_event(200, AISafetyEventType.HUMAN_ESCALATION)
    )


def test_round_trip_through_the_generated_model() -> None:
    scenario = rich_scenario()
    model = scenario.to_model()
    assert isinstance(model, kairos_api.Scenario)
    assert model.models[1].guardrail_coverage == 50  # the schema's default, filled by pydantic
    assert model.events[0].type == "deceptive_alignment"
    assert AISafetyScenario.from_wire(model) == scenario
    # A model parsed from the JSON the server would receive gives the same scenario back.
    parsed = kairos_api.Scenario.model_validate_json(json.dumps(scenario.to_wire()))
    assert AISafetyScenario.from_wire(parsed) == scenario
    assert AISafetyScenario.from_wire(scenario.to_wire()) == scenario


def test_round_trip_through_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    rich_scenario().to_json(path)
    assert json.loads(path.read_text()) == rich_scenario().to_wire()
    assert AISafetyScenario.from_json(path) == rich_scenario()


def test_bad_scenario_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValidationError, match=r"Cannot read scenario file .*bad\.json") as info:
        AISafetyScenario.from_json(path)
    assert info.value.issues[0].path == "$"
    path.write_text(json.dumps({"name": "x", "seed": -5, "models": []}))
    with pytest.raises(ValidationError, match=r"Invalid scenario file .*bad\.json") as info:
        AISafetyScenario.from_json(path)
    assert [issue.path for issue in info.value.issues] == ["seed", "models"]
    with pytest.raises(ValidationError, match=r"\$: must be an object, got array"):
        AISafetyScenario.from_wire([])  # type: ignore[arg-type]


# -- value semantics -------------------------------------------------------------------------


def test_equality_copy_and_seed_variants() -> None:
    base = rich_scenario()
    assert base == rich_scenario()
    assert base != rich_scenario().add_event(300, "containment")
    assert base != deceptive_alignment_spikes()
    assert base != "Deceptive Alignment Spikes"
    copy = base.copy()
    assert copy == base and copy is not base
    copy.add_model("Model_C", 10, 90)
    assert len(base.models) == 2 and len(copy.models) == 3
    reseeded = [base.with_seed(s) for s in range(3)]
    assert [s.seed for s in reseeded] == [0, 1, 2]
    assert all(s.models == base.models and s.events == base.events for s in reseeded)
    renamed = base.copy(name="variant", seed=9)
    assert (renamed.name, renamed.seed) == ("variant", 9)
    with pytest.raises(ValidationError, match="seed"):
        base.with_seed(-1)
    with pytest.raises(TypeError, match="unhashable"):
        hash(base)


def test_entries_are_read_only() -> None:
    scenario = rich_scenario()
    with pytest.raises(AttributeError):
        scenario.models[0].capability_index = 999  # type: ignore[misc]
    with pytest.raises(AttributeError):
        scenario.seed = 5  # type: ignore[misc]
    assert isinstance(scenario.models, tuple)


def test_pickles() -> None:
    scenario = rich_scenario()
    clone = pickle.loads(pickle.dumps(scenario))
    assert clone == scenario and clone.to_wire() == scenario.to_wire()
    clone.add_event(400, "containment")  # still a working builder
    assert len(clone.events) == len(scenario.events) + 1


def test_repr() -> None:
    assert repr(rich_scenario()) == (
        "AISafetyScenario('Deceptive Alignment Spikes', seed=1024, models=['Model_A', 'Model_B'], "
        "oversight_bodies=['safety_board'], events=3)"
    )


def test_many_events_stay_cheap_to_add() -> None:
    # add_event validates only the new event, so adding n events is linear, not quadratic.
    scenario = AISafetyScenario("long", seed=1).add_model("m", 100, 50)
    for tick in range(1, 5001):
        scenario.add_event(tick, "alignment_drift", target="m", magnitude=-0.01)
    assert len(scenario.to_wire()["events"]) == 5000


# -- the client's and the schema's ranges agree ------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-50, max_value=1100),
    st.floats(min_value=-50, max_value=1100, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(
    capability=numbers,
    alignment=numbers,
    guardrail=st.none() | numbers,
    autonomy=st.none() | st.floats(min_value=-2, max_value=12),
    oversight=st.none() | numbers,
)
def test_builder_accepts_exactly_what_the_schema_accepts(
    capability: float,
    alignment: float,
    guardrail: float | None,
    autonomy: float | None,
    oversight: float | None,
) -> None:
    entry = ModelEntry("m", capability, alignment, guardrail, autonomy, oversight)
    try:
        kairos_api.AISafetyModel.model_validate(entry.to_wire())
        schema_ok = True
    except pydantic.ValidationError:
        schema_ok = False
    scenario = AISafetyScenario("agree", seed=1)
    try:
        scenario.add_model("m", capability, alignment, guardrail, autonomy, oversight)
        builder_ok = True
    except ValidationError as exc:
        builder_ok = False
        assert all(issue.path.startswith("models[0].") for issue in exc.issues)
    assert builder_ok == schema_ok
    if builder_ok:
        assert kairos_api.Scenario.model_validate(scenario.to_wire()).models[0].name == "m"
