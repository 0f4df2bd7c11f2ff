"""The curated AI-safety scenarios: data in the schema's wire form, read from ``library.json``.

``library.json`` (package data next to this module) is a JSON list of ``$defs/LibraryScenario``
objects: each entry's description (id, label, seed, tags, note, question, ticks) and its
scenario in ``$defs/Scenario`` wire form. The server serves these objects as they are
(``scenario.get``), so other languages' SDKs and the docs can use the very same published bytes.
The file is read and checked on first use, not on import.

Each entry is fixed once published: its id, seed and content never change (a changed scenario
gets a new id), so that ``client.run("capability-divergence", ticks=400)`` means the same run
for every reader. The outcomes quoted in the notes are those of engine 1.5.0 and later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kairos.domains.ai_safety import AISafetyScenario
from kairos.engine import validate_scenario
from kairos.errors import Issue, ValidationError

__all__ = ["LibraryEntry", "UnknownScenarioError", "entries", "get", "ids"]

LIBRARY_FILE = "library.json"


@dataclass(frozen=True)
class LibraryEntry:
    """One curated scenario: its description and its content (the scenario's wire form)."""

    id: str
    label: str
    seed: int
    tags: tuple[str, ...]
    note: str
    question: str
    ticks: int
    """The run length the scenario is curated for (its events fall within it)."""
    _scenario: Mapping[str, Any] = field(repr=False, compare=False)

    def scenario(self) -> AISafetyScenario:
        """A fresh :class:`AISafetyScenario` of this entry (named by its label)."""
        return AISafetyScenario.from_wire(self._scenario)

    def info(self) -> dict[str, Any]:
        """The ``$defs/LibraryScenarioInfo`` wire dict."""
        return {
            "id": self.id,
            "label": self.label,
            "seed": self.seed,
            "tags": list(self.tags),
            "note": self.note,
            "question": self.question,
            "ticks": self.ticks,
        }

    def to_wire(self) -> dict[str, Any]:
        """The ``$defs/LibraryScenario`` wire dict (the description and the scenario)."""
        return {**self.info(), "scenario": self.scenario().to_wire()}


class UnknownScenarioError(ValidationError):
    """No library scenario has this id; ``known`` lists the ids there are."""

    def __init__(self, scenario_id: object, known: list[str]) -> None:
        self.scenario_id = scenario_id
        self.known = known
        super().__init__(
            [Issue("scenario", f"unknown library scenario {scenario_id!r}")],
            f"No library scenario {scenario_id!r}; known ids: {', '.join(known)}",
        )


def _file_error(source: str, issues: list[Issue]) -> ValidationError:
    # a broken installation: the shipped file itself is checked by the tests
    return ValidationError(issues, f"Invalid scenario library file {source}")


def _entry_issues(item: object, at: str) -> list[Issue]:
    """Every problem of one ``$defs/LibraryScenario`` object at index path ``at``: its shape, as
    the schema's generated model checks it, then what the schema cannot say (the scenario is
    named by the entry's label, seeded by its seed, and valid with its events within ``ticks``).
    """
    import pydantic

    from kairos._arguments import from_pydantic
    from kairos_api import LibraryScenario

    try:
        entry = LibraryScenario.model_validate(item)
    except pydantic.ValidationError as exc:
        return list(from_pydantic(exc, LIBRARY_FILE, prefix=at).issues)
    assert isinstance(item, dict)
    scenario = item["scenario"]
    issues = []
    if scenario["name"] != entry.label:
        issues.append(Issue(f"{at}.scenario.name", f"must be the entry's label {entry.label!r}"))
    if scenario.get("seed") != entry.seed:
        issues.append(Issue(f"{at}.scenario.seed", f"must be the entry's seed {entry.seed!r}"))
    checked = validate_scenario(scenario, entry.ticks)
    return issues + [Issue(f"{at}.scenario.{issue.path}", issue.message) for issue in checked]


def parse_library(data: object, source: str = LIBRARY_FILE) -> tuple[LibraryEntry, ...]:
    """The entries of a decoded library file, after checking all of it: a list of
    ``$defs/LibraryScenario`` objects with distinct ids, each scenario named by its entry's label
    and seeded by its seed. Raises ``ValidationError`` listing every problem."""
    if not isinstance(data, list):
        raise _file_error(source, [Issue("$", "must be a list of library scenarios")])
    issues: list[Issue] = []
    seen: set[object] = set()
    for index, item in enumerate(data):
        issues += _entry_issues(item, f"[{index}]")
        scenario_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(scenario_id, str) and scenario_id in seen:
            issues.append(Issue(f"[{index}].id", f"{scenario_id!r} is listed twice"))
        seen.add(scenario_id)
    if issues:
        raise _file_error(source, issues)
    return tuple(
        LibraryEntry(
            item["id"],
            item["label"],
            item["seed"],
            tuple(item["tags"]),
            item["note"],
            item["question"],
            item["ticks"],
            item["scenario"],
        )
        for item in data
    )


@cache
def _library() -> tuple[tuple[LibraryEntry, ...], dict[str, LibraryEntry]]:
    # read on first use: importing kairos.scenarios reads no file
    import json
    from importlib.resources import files

    resource = files(__package__) / LIBRARY_FILE
    try:
        data = json.loads(resource.read_bytes())
    except (OSError, ValueError) as exc:
        raise _file_error(LIBRARY_FILE, [Issue("$", f"cannot read: {exc}")]) from None
    library = parse_library(data)
    return library, {entry.id: entry for entry in library}


def entries() -> tuple[LibraryEntry, ...]:
    """Every library scenario, in library order."""
    return _library()[0]


def ids() -> list[str]:
    """The ids of the library scenarios, in library order."""
    return [entry.id for entry in entries()]


def get(scenario_id: str) -> LibraryEntry:
    """The library scenario with this id; :class:`UnknownScenarioError` (a
    ``ValidationError``) listing the known ids if there is none."""
    entry = _library()[1].get(scenario_id) if isinstance(scenario_id, str) else None
    if entry is None:
        raise UnknownScenarioError(scenario_id, ids())
    return entry
