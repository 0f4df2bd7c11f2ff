"""The AI-safety domain: build a scenario of frontier models, oversight bodies and events.

::

    from kairos.domains.ai_safety import AISafetyScenario, AISafetyEventType

    scenario = (
        AISafetyScenario("Deceptive Alignment Spikes", seed=1024)
        .add_model(name="Model_A", capability_index=450, alignment_score=62,
                   autonomy_level=6, human_oversight_freq=30, guardrail_coverage=55)
        .add_oversight_body("safety_board", guardrail_strength=70, response_latency=20)
        .add_event(100, AISafetyEventType.DECEPTIVE_ALIGNMENT, target="Model_A", magnitude=0.4)
    )

Validation has one source of truth, the engine's :func:`kairos.engine.validate_scenario` (the
same code the server runs), so a scenario the client accepts is one the server accepts. It runs
twice, both times before any network I/O:

- each ``add_*`` call (and the constructor) checks what it adds, immediately, and raises
  :class:`kairos.errors.ValidationError` listing every problem of that call: an out-of-range value
  fails at the line that wrote it, which is what a notebook user wants. A rejected call leaves
  the scenario unchanged. An event's target must already have been added.
- :meth:`AISafetyScenario.validate`, :meth:`~AISafetyScenario.to_wire` and the client check the
  whole scenario (at least one model, the count limits) and report every problem at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from kairos.domains._ai_safety_entries import EventEntry, ModelEntry, Number, OversightBodyEntry
from kairos.engine import validate_scenario
from kairos.errors import Issue, ValidationError
from kairos_api import Scenario
from kairos_api.enums import AISafetyEventType

__all__ = [
    "AISafetyEventType",
    "AISafetyScenario",
    "EventEntry",
    "ModelEntry",
    "OversightBodyEntry",
]

DOMAIN = "ai_safety"

_T = TypeVar("_T")


class AISafetyScenario:
    """A scenario of the AI-safety domain, built fluently (every ``add_*`` returns ``self``).

    ``seed`` is required, as the documentation requires it "for rigorous reproducibility": a
    default seed would silently make distinct experiments share their randomness. It is an
    integer from 0 to 2**53 - 1 (the largest integer JSON carries exactly).

    Scenarios compare equal when their name, seed, models, bodies and events are equal (in
    order), pickle (to send them to workers) and copy cheaply (:meth:`copy`,
    :meth:`with_seed`) for sweeps.
    """

    domain = DOMAIN

    def __init__(self, name: str, seed: int) -> None:
        self._name = name
        self._seed = seed
        self._models: list[ModelEntry] = []
        self._bodies: list[OversightBodyEntry] = []
        self._events: list[EventEntry] = []
        head = {"name": name, "seed": seed, "models": []}
        issues = _select(validate_scenario(head), ("name", "seed"))
        if issues:
            raise ValidationError(issues, f"Invalid scenario {_brief(name)} ({_count(issues)})")
        self._seed = int(seed)  # the engine also accepts integral floats such as 1024.0

    # -- building ------------------------------------------------------------------------------

    def add_model(
        self,
        name: str,
        capability_index: Number,
        alignment_score: Number,
        guardrail_coverage: Number | None = None,
        autonomy_level: Number | None = None,
        human_oversight_freq: Number | None = None,
    ) -> AISafetyScenario:
        """Add a frontier model.

        ``capability_index`` 1-1000 (the main destabilizing force), ``alignment_score`` 0-100;
        optional ``guardrail_coverage`` 0-100, ``autonomy_level`` 0-10 and
        ``human_oversight_freq`` 0-100 (omitted: the engine's defaults). Names are unique
        across models and oversight bodies. Raises ValidationError with every problem.
        """
        entry = ModelEntry(
            name,
            capability_index,
            alignment_score,
            guardrail_coverage,
            autonomy_level,
            human_oversight_freq,
        )
        index = len(self._models)
        wire = self._head()
        wire["models"] = [*wire["models"], entry.to_wire()]
        self._check(wire, ("models", f"models[{index}]"), f"model {_brief(name)}")
        self._models.append(entry)
        return self

    def add_oversight_body(
        self, name: str, guardrail_strength: Number, response_latency: Number
    ) -> AISafetyScenario:
        """Add a governance entity that stabilizes every model: ``guardrail_strength`` 0-100,
        ``response_latency`` 0-100 (lower is faster). Raises ValidationError."""
        entry = OversightBodyEntry(name, guardrail_strength, response_latency)
        index = len(self._bodies)
        wire = self._head()
        wire["oversightBodies"] = [*wire["oversightBodies"], entry.to_wire()]
        self._check(
            wire, ("oversightBodies", f"oversightBodies[{index}]"), f"oversight body {_brief(name)}"
        )
        self._bodies.append(entry)
        return self

    def add_event(
        self,
        tick: int,
        type: AISafetyEventType | str,  # shadows the builtin: it is the documented keyword
        target: str | None = None,
        magnitude: Number | None = None,
    ) -> AISafetyScenario:
        """Schedule an event that takes effect in tick ``tick`` (ticks count from 1).

        ``type`` is an :class:`AISafetyEventType` or its wire value (``"capability_jump"``);
        ``target`` names a model or oversight body added before (``None``: the whole system);
        ``magnitude`` is in the type's unit and range (``None``: the type's default), e.g.
        ``0.3`` on a capability jump is +30%. Raises ValidationError.
        """
        kind = type.value if isinstance(type, AISafetyEventType) else type
        wire = self._head()
        # Validate the new event alone (cost independent of how many events exist), then
        # report it at its real index.
        wire["events"] = [EventEntry(tick, kind, target, magnitude).to_wire()]
        index = len(self._events)
        issues = [
            Issue(f"events[{index}]{issue.path[len('events[0]') :]}", issue.message)
            for issue in _select(validate_scenario(wire), ("events[0]",))
        ]
        if issues:
            raise ValidationError(
                issues,
                f"Cannot add event {_brief(kind)} at tick {_brief(tick)} to "
                f"scenario {self._name!r} ({_count(issues)})",
            )
        self._events.append(EventEntry(int(tick), kind, target, magnitude))
        return self

    # -- reading -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def models(self) -> tuple[ModelEntry, ...]:
        return tuple(self._models)

    @property
    def oversight_bodies(self) -> tuple[OversightBodyEntry, ...]:
        return tuple(self._bodies)

    @property
    def events(self) -> tuple[EventEntry, ...]:
        return tuple(self._events)

    def __repr__(self) -> str:
        return (
            f"AISafetyScenario({self._name!r}, seed={self._seed}, "
            f"models={[m.name for m in self._models]}, "
            f"oversight_bodies={[b.name for b in self._bodies]}, events={len(self._events)})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AISafetyScenario):
            return NotImplemented
        return (self._name, self._seed, self._models, self._bodies, self._events) == (
            other._name,
            other._seed,
            other._models,
            other._bodies,
            other._events,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: add_* changes it

    # -- copies --------------------------------------------------------------------------------

    def copy(self, *, name: str | None = None, seed: int | None = None) -> AISafetyScenario:
        """An independent copy, optionally renamed or reseeded (checked like the constructor)."""
        clone = AISafetyScenario(
            self._name if name is None else name, self._seed if seed is None else seed
        )
        clone._models = list(self._models)
        clone._bodies = list(self._bodies)
        clone._events = list(self._events)
        return clone

    def with_seed(self, seed: int) -> AISafetyScenario:
        """A copy with another seed: ``[base.with_seed(s) for s in range(100)]``."""
        return self.copy(seed=seed)

    # -- validation and wire form --------------------------------------------------------------

    def issues(self) -> list[Issue]:
        """Every problem of the whole scenario, each with its wire path; empty when valid."""
        return _issues(validate_scenario(self._wire()))

    def validate(self) -> AISafetyScenario:
        """Raise ValidationError listing every problem of the whole scenario (e.g. no model
        yet); return ``self`` when it is valid."""
        issues = self.issues()
        if issues:
            raise ValidationError(issues, f"Invalid scenario {self._name!r} ({_count(issues)})")
        return self

    def to_wire(self) -> dict[str, Any]:
        """The validated camelCase JSON form sent to the server (``$defs/Scenario``)."""
        self.validate()
        return self._wire()

    def to_model(self) -> Scenario:
        """The validated scenario as the generated ``kairos_api.Scenario`` model."""
        return Scenario.model_validate(self.to_wire())

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the wire form to a JSON file (readable by :meth:`from_json`)."""
        wire = self.to_wire()
        try:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(wire, handle, indent=2)
                handle.write("\n")
        except OSError as exc:
            raise ValidationError(
                [Issue("path", f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}")],
                "Cannot write scenario file",
            ) from None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | Scenario) -> AISafetyScenario:
        """Build from the wire form (or a ``kairos_api.Scenario``), checking all of it first:
        raises ValidationError listing every problem."""
        if isinstance(data, Scenario):
            data = data.model_dump(mode="json", by_alias=True, exclude_unset=True)
        issues = _issues(validate_scenario(data))
        if issues:
            name = data.get("name") if isinstance(data, Mapping) else None
            what = f"scenario {_brief(name)}" if isinstance(name, str) else "scenario"
            raise ValidationError(issues, f"Invalid {what} ({_count(issues)})")
        scenario = cls(data["name"], data["seed"])
        for model in data["models"]:
            scenario._models.append(
                ModelEntry(
                    model["name"],
                    model["capabilityIndex"],
                    model["alignmentScore"],
                    model.get("guardrailCoverage"),
                    model.get("autonomyLevel"),
                    model.get("humanOversightFreq"),
                )
            )
        for body in data.get("oversightBodies", ()):
            scenario._bodies.append(
                OversightBodyEntry(body["name"], body["guardrailStrength"], body["responseLatency"])
            )
        for event in data.get("events", ()):
            scenario._events.append(
                EventEntry(
                    int(event["tick"]), event["type"], event.get("target"), event.get("magnitude")
                )
            )
        return scenario

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> AISafetyScenario:
        """Read a scenario file (the wire form as JSON). A file that cannot be read, malformed
        JSON and invalid scenarios all raise ValidationError; the path is in the message."""
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValidationError(
                [Issue("path", f"cannot read {os.fspath(path)!r}: {reason}")],
                "Cannot read scenario file",
            ) from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(
                [Issue("$", f"not valid JSON: {exc}")],
                f"Cannot read scenario file {os.fspath(path)!r}",
            ) from None
        try:
            return cls.from_wire(data)
        except ValidationError as exc:
            raise ValidationError(
                exc.issues, f"Invalid scenario file {os.fspath(path)!r}"
            ) from None

    # -- internals -----------------------------------------------------------------------------

    def _head(self) -> dict[str, Any]:
        """The wire form without events (what entity checks need)."""
        return {
            "name": self._name,
            "seed": self._seed,
            "models": [m.to_wire() for m in self._models],
            "oversightBodies": [b.to_wire() for b in self._bodies],
        }

    def _wire(self) -> dict[str, Any]:
        head = self._head()
        return {
            "name": head["name"],
            "domain": DOMAIN,
            "seed": head["seed"],
            "models": head["models"],
            "oversightBodies": head["oversightBodies"],
            "events": [e.to_wire() for e in self._events],
        }

    def _check(self, wire: Mapping[str, Any], paths: Sequence[str], what: str) -> None:
        issues = _select(validate_scenario(wire), paths)
        if paths[0] == "models":
            # The engine checks names in wire order (models, then bodies), so it would report a
            # new model's clash with an existing body at the body's path: report it here.
            name = wire["models"][-1].get("name")
            issues += [
                Issue(
                    f"{paths[1]}.name",
                    f"duplicate name {_brief(name)}: already used by oversightBodies[{i}].name",
                )
                for i, body in enumerate(self._bodies)
                if body.name == name
            ]
        if issues:
            raise ValidationError(
                issues, f"Cannot add {what} to scenario {self._name!r} ({_count(issues)})"
            )


def _issues(raw: Sequence[Issue]) -> list[Issue]:
    return list(raw)


def _select(raw: Sequence[Issue], paths: Sequence[str]) -> list[Issue]:
    """The issues at one of ``paths`` or inside it (``models[2]`` selects
    ``models[2].capabilityIndex``; ``models`` selects only the list's own issues)."""
    return [
        issue
        for issue in _issues(raw)
        if any(issue.path == p or issue.path.startswith(f"{p}.") for p in paths)
    ]


def _brief(value: object) -> str:
    """``repr(value)`` for a message, never raising (an int too long for ``str()``) and never
    more than 60 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<integer of about {int(value.bit_length() * 0.30103)} digits>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _count(issues: Sequence[_T]) -> str:
    return f"{len(issues)} problem" + ("" if len(issues) == 1 else "s")
