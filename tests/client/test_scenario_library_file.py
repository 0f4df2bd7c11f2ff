"""The scenario library is data: src/kairos/scenarios/library.json, a list of the schema's
``$defs/LibraryScenario`` objects, read on first use. Every entry validates against the schema,
the entries give back the file's objects exactly, and the published content is pinned."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from kairos import engine, scenarios
from kairos.errors import ValidationError
from kairos.scenarios._library import parse_library
from kairos_api import LibraryScenario, schema

# Each published entry's run length and the sha256 of its scenario's canonical wire JSON,
# computed from the Python builders the file replaced. An entry is fixed once published: a
# changed scenario gets a new id (and a new line here), never new content under an old id.
PUBLISHED = {
    "capability-divergence": (
        400,
        "99fc68800e51657ad957ffd3faea57c0a2ce3347820e6ee81134a1a73ca12e36",
    ),
    "deceptive-alignment": (
        500,
        "9f24d31523d1b65acad55074dbb225bf167c31d4e782a9508dfd0c7d7c5753ca",
    ),
    "oversight-lapse": (
        500,
        "c2daaf8c639dc853e193612ef5419024887f640ff75c453f3db89acf6bee769e",
    ),
    "racing-labs": (500, "b65111dfa65667d3f300c6b9c8ad9ef9c4b155d3d56cf730b3fbbe8cac15c642"),
    "autonomy-creep": (500, "57c2c7131352f4316f33ad9504d2caa71fb6e0a057df979f6c77b4c50118b8fd"),
    "board-intervenes": (
        500,
        "27d67a04c9dfe30fbc38f800482f0b368d710e529cc31077b9ff3df3b1dd08d4",
    ),
}


def file_bytes() -> bytes:
    return (files("kairos.scenarios") / "library.json").read_bytes()


def file_objects() -> list[dict[str, Any]]:
    data = json.loads(file_bytes())
    assert isinstance(data, list)
    return data


def test_every_entry_of_the_file_is_a_library_scenario_of_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema()["$defs"], "$ref": "#/$defs/LibraryScenario"}
    )
    objects = file_objects()
    assert len(objects) >= 6
    for item in objects:
        errors = [error.message for error in validator.iter_errors(item)]
        assert errors == [], item["id"]
        LibraryScenario.model_validate(item)


def test_the_entries_are_the_files_objects_exactly() -> None:
    wires = [entry.to_wire() for entry in scenarios.entries()]
    assert wires == file_objects()
    # the file is the wire form as written: indent 2, the schema's key order, a final newline
    assert (json.dumps(wires, indent=2) + "\n").encode() == file_bytes()


def test_the_published_entries_never_change() -> None:
    assert scenarios.ids()[: len(PUBLISHED)] == list(PUBLISHED)
    assert set(scenarios.ids()) == set(PUBLISHED), "pin each new entry's hash when publishing"
    for scenario_id, (ticks, digest) in PUBLISHED.items():
        entry = scenarios.get(scenario_id)
        canonical = engine.canonical_json(entry.scenario().to_wire()).encode()
        assert (entry.ticks, hashlib.sha256(canonical).hexdigest()) == (ticks, digest), scenario_id


def test_a_scenario_is_fresh_named_by_the_label_and_seeded_by_the_seed() -> None:
    entry = scenarios.get("racing-labs")
    first, second = entry.scenario(), entry.scenario()
    assert first is not second
    first.add_event(10, "capability_jump", target="lab_a_model", magnitude=0.1)
    assert second.to_wire() == entry.scenario().to_wire() != first.to_wire()
    assert (second.to_wire()["name"], second.to_wire()["seed"]) == (entry.label, entry.seed)


def test_the_file_is_read_on_first_use_not_on_import() -> None:
    probe = (
        "import kairos.scenarios, kairos.scenarios._library as lib\n"
        "print(lib._library.cache_info().currsize)\n"
        "kairos.scenarios.ids()\n"
        "print(lib._library.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["0", "1"]


def test_the_shipped_file_parses_to_the_entries() -> None:
    assert parse_library(file_objects()) == scenarios.entries()


def broken(edit: str) -> list[dict[str, Any]]:
    """The library file's objects with one mistake."""
    data = copy.deepcopy(file_objects())
    first, second = data[0], data[1]
    if edit == "label":
        first["scenario"]["name"] = "Another Name"
    elif edit == "seed":
        first["scenario"]["seed"] = first["seed"] + 1
    elif edit == "duplicate":
        second["id"] = first["id"]
    elif edit == "missing":
        del first["question"]
    elif edit == "extra":
        first["author"] = "someone"
    elif edit == "id":
        first["id"] = "Capability Divergence"
    elif edit == "tags":
        first["tags"] = "ai-safety"
    elif edit == "ticks":
        first["ticks"] = 0
    elif edit == "late":
        first["ticks"] = 100  # two of its events come later, at ticks 150 and 200
    elif edit == "content":
        first["scenario"]["models"][0]["capabilityIndex"] = -5
    return data


BROKEN = [
    ("label", "[0].scenario.name: must be the entry's label 'Capability-Alignment Divergence'"),
    ("seed", "[0].scenario.seed: must be the entry's seed 42"),
    ("duplicate", "[1].id: 'capability-divergence' is listed twice"),
    ("missing", "[0].question: Field required"),
    ("extra", "[0].author: Extra inputs are not permitted"),
    ("id", "[0].id: String should match pattern '^[a-z0-9]+(-[a-z0-9]+)*$'"),
    ("tags", "[0].tags: Input should be a valid list, got 'ai-safety' (str)"),
    ("ticks", "[0].ticks: Input should be greater than or equal to 1, got 0 (int)"),
    ("late", "[0].scenario.events[2].tick"),
    ("content", "[0].scenario.models[0].capabilityIndex"),
]


@pytest.mark.parametrize(("edit", "issue"), BROKEN)
def test_a_broken_library_file_is_a_validation_error_naming_the_place(
    edit: str, issue: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_library(broken(edit))
    message = str(info.value)
    assert message.startswith("Invalid scenario library file library.json")
    assert issue in message
    assert len(info.value.issues) == (2 if edit == "late" else 1), message


def test_a_library_file_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"\$: must be a list of library scenarios"):
        parse_library({"data": file_objects()})
