"""The AI-safety domain adapter: wire-form scenario -> validated, compiled engine input.

:func:`validate_scenario` reports every problem (it backs ``scenario.validate``);
:func:`compile_scenario` raises :class:`ScenarioError` carrying all of them, or returns a
:class:`CompiledScenario` whose numbers are floats with defaults filled in. Paths are wire form:
``models[0].capabilityIndex``, ``events[3].target``; the scenario itself is ``$``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._canonical import canonical_json, sha256_hex
from ._constants import LATENCY_TIME_CONSTANT, TICK
from ._exceptions import Issue, ScenarioError
from ._vocabulary import (
    BODY_FIELDS,
    DOMAIN,
    EVENT_KEYS,
    EVENT_TICK_MAX,
    EVENT_TYPE_BY_NAME,
    EVENT_TYPES,
    KIND_BODY,
    KIND_MODEL,
    KIND_SYSTEM,
    MAX_BODIES,
    MAX_EVENTS,
    MAX_MODELS,
    MODEL_FIELDS,
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    SCENARIO_KEYS,
    SCENARIO_NAME_MAX_LENGTH,
    SEED_MAX,
    FieldSpec,
)

_NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    capability: float
    alignment: float
    guardrail: float
    autonomy: float
    oversight: float


@dataclass(frozen=True)
class BodySpec:
    name: str
    strength: float
    latency: float
    lag_gain: float
    """Backward-Euler gain TICK / (TICK + tau) of the body's response lag, tau = 0.5 * latency."""


@dataclass(frozen=True)
class EventSpec:
    tick: int
    type: str
    target_kind: str  # "model" | "oversight_body" | "system"
    target_index: int  # index among models or bodies; -1 for the system
    magnitude: float
    wire: Mapping[str, Any]  # as reported in TraceStep.events (magnitude resolved)


@dataclass(frozen=True)
class CompiledScenario:
    """A validated scenario in engine terms. Build it with :func:`compile_scenario`."""

    name: str
    seed: int
    models: tuple[ModelSpec, ...]
    bodies: tuple[BodySpec, ...]
    events: tuple[EventSpec, ...]  # sorted by tick, input order within a tick
    fingerprint: str
    """SHA-256 of the canonical normalized wire form: equal for equal scenarios."""
    events_by_tick: Mapping[int, tuple[EventSpec, ...]] = field(repr=False)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show_int(value: int) -> str:
    """An integer for a message: huge ones (whose str() may even raise) by their size."""
    if value.bit_length() > 64:
        digits = int(value.bit_length() * 0.30103)
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    return str(value)


N = TypeVar("N", int, float)


class _Checker:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def number(self, path: str, value: object, lo: float, hi: float) -> float | None:
        rng = f"between {_fmt(lo)} and {_fmt(hi)}"
        if not _is_number(value):
            self.add(path, f"must be a number {rng}, got {_type_name(value)}")
            return None
        assert isinstance(value, (int, float))
        try:
            as_float = float(value)
        except OverflowError:  # an int beyond any float: out of every range
            assert isinstance(value, int)
            self.add(path, f"must be {rng}, got {_show_int(value)}")
            return None
        if not math.isfinite(as_float):
            self.add(path, f"must be a finite number {rng}, got {value!r}")
            return None
        return self.within(path, as_float, lo, hi, rng, _fmt)

    def integer(self, path: str, value: object, lo: int, hi: int) -> int | None:
        rng = f"between {lo} and {hi}"
        as_int: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            as_int = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            as_int = int(value)  # JSON has one number type: 100.0 is the integer 100
        if as_int is None:
            shown = _show_int(value) if isinstance(value, int) else repr(value)
            self.add(path, f"must be an integer {rng}, got {_type_name(value)} {shown}")
            return None
        return self.within(path, as_int, lo, hi, f"an integer {rng}", _show_int)

    def within(
        self, path: str, value: N, lo: float, hi: float, wanted: str, show: Callable[[N], str]
    ) -> N | None:
        """``value`` if ``lo <= value <= hi``; else None, recording "must be ``wanted``"."""
        if lo <= value <= hi:
            return value
        self.add(path, f"must be {wanted}, got {show(value)}")
        return None

    def entity_name(self, path: str, value: object) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {_type_name(value)}")
            return None
        if not 1 <= len(value) <= NAME_MAX_LENGTH or not _NAME_RE.fullmatch(value):
            self.add(
                path,
                f"must be 1 to {NAME_MAX_LENGTH} characters of letters, digits, '_', '.', '-' "
                f"not starting with '.' or '-', got {value!r}",
            )
            return None
        return value

    def mapping(self, path: str, value: object, allowed: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, f"must be an object, got {_type_name(value)}")
            return None
        prefix = f"{path}." if path != "$" else ""
        for key in value:
            if key not in allowed:
                self.add(
                    f"{prefix}{key}",
                    f"unknown field {key!r}; allowed fields: {', '.join(allowed)}",
                )
        return value

    def array(self, path: str, value: object, lo: int, hi: int) -> Sequence[Any] | None:
        if not isinstance(value, (list, tuple)):
            self.add(path, f"must be an array, got {_type_name(value)}")
            return None
        if not lo <= len(value) <= hi:
            self.add(path, f"must have {lo} to {hi} items, got {len(value)}")
            return None
        return value

    def entity(
        self, path: str, value: object, fields: Sequence[FieldSpec]
    ) -> dict[str, Any] | None:
        raw = self.mapping(path, value, [spec.name for spec in fields])
        if raw is None:
            return None
        out: dict[str, Any] = {}
        complete = True
        for spec in fields:
            fpath = f"{path}.{spec.name}"
            if spec.name not in raw:
                if spec.required:
                    self.add(fpath, "is required")
                    complete = False
                else:
                    out[spec.name] = spec.default
                continue
            if spec.type == "string":
                got: object = self.entity_name(fpath, raw[spec.name])
            else:
                assert spec.minimum is not None and spec.maximum is not None
                got = self.number(fpath, raw[spec.name], spec.minimum, spec.maximum)
            if got is None:
                complete = False
            out[spec.name] = got
        return out if complete else None


def _check(wire: object, ticks: int | None = None) -> tuple[list[Issue], dict[str, Any] | None]:
    """Validate and normalize; the normalized dict is None when any issue was found. With
    ``ticks``, an event after the run's last tick is an issue too."""
    ck = _Checker()
    top = ck.mapping("$", wire, SCENARIO_KEYS)
    if top is None:
        return ck.issues, None
    for key in ("name", "seed", "models"):
        if key not in top:
            ck.add(key, "is required")
    name = top.get("name")
    if "name" in top and (
        not isinstance(name, str) or not 1 <= len(name) <= SCENARIO_NAME_MAX_LENGTH
    ):
        ck.add("name", f"must be a string of 1 to {SCENARIO_NAME_MAX_LENGTH} characters")
    if "domain" in top and top["domain"] != DOMAIN:
        ck.add("domain", f"must be {DOMAIN!r} (the only domain), got {top['domain']!r}")
    seed = ck.integer("seed", top["seed"], 0, SEED_MAX) if "seed" in top else None

    models: list[dict[str, Any] | None] = []
    raw_models = ck.array("models", top["models"], 1, MAX_MODELS) if "models" in top else None
    for i, item in enumerate(raw_models or ()):
        models.append(ck.entity(f"models[{i}]", item, MODEL_FIELDS))
    bodies: list[dict[str, Any] | None] = []
    raw_bodies = (
        ck.array("oversightBodies", top["oversightBodies"], 0, MAX_BODIES)
        if "oversightBodies" in top
        else ()
    )
    for i, item in enumerate(raw_bodies or ()):
        bodies.append(ck.entity(f"oversightBodies[{i}]", item, BODY_FIELDS))

    kinds: dict[str, tuple[str, int, str]] = {}  # name -> (kind, index, path)
    groups = (
        (KIND_MODEL, raw_models or (), "models"),
        (KIND_BODY, raw_bodies or (), "oversightBodies"),
    )
    for kind, items, label in groups:
        for i, raw in enumerate(items):
            entity = raw.get("name") if isinstance(raw, Mapping) else None
            if not isinstance(entity, str) or not _NAME_RE.fullmatch(entity):
                continue
            path = f"{label}[{i}].name"
            if entity in kinds:
                ck.add(path, f"duplicate name {entity!r}: already used by {kinds[entity][2]}")
            else:
                kinds[entity] = (kind, i, path)
    events: list[dict[str, Any] | None] = []
    raw_events = ck.array("events", top["events"], 0, MAX_EVENTS) if "events" in top else ()
    for i, item in enumerate(raw_events or ()):
        events.append(_check_event(ck, f"events[{i}]", item, kinds, ticks))

    if ck.issues:
        return ck.issues, None
    assert isinstance(name, str) and seed is not None
    return [], {
        "name": name,
        "domain": DOMAIN,
        "seed": seed,
        "models": models,
        "oversightBodies": bodies,
        "events": events,
    }


def _check_event(
    ck: _Checker,
    path: str,
    value: object,
    kinds: Mapping[str, tuple[str, int, str]],
    ticks: int | None,
) -> dict[str, Any] | None:
    raw = ck.mapping(path, value, EVENT_KEYS)
    if raw is None:
        return None
    before = len(ck.issues)
    tick = ck.integer(f"{path}.tick", raw["tick"], 1, EVENT_TICK_MAX) if "tick" in raw else None
    if "tick" not in raw:
        ck.add(f"{path}.tick", "is required")
    elif tick is not None and ticks is not None and _after(tick, ticks):
        ck.add(f"{path}.tick", late_event_message(tick, ticks))
    spec = None
    if "type" not in raw:
        ck.add(f"{path}.type", "is required")
    else:
        spec = EVENT_TYPE_BY_NAME.get(raw["type"]) if isinstance(raw["type"], str) else None
        if spec is None:
            names = ", ".join(s.type for s in EVENT_TYPES)
            ck.add(f"{path}.type", f"must be one of {names}, got {raw['type']!r}")
    target = None
    if "target" in raw:
        target = ck.entity_name(f"{path}.target", raw["target"])
        if target is not None and target not in kinds:
            ck.add(
                f"{path}.target",
                f"unknown target {target!r}: no model or oversight body has this name",
            )
            target = None
        elif target is not None and spec is not None and kinds[target][0] not in spec.targets:
            allowed = ", ".join(k.replace("_", " ") for k in spec.targets if k != KIND_SYSTEM)
            ck.add(
                f"{path}.target",
                f"{spec.type} cannot target the {kinds[target][0].replace('_', ' ')} {target!r}; "
                f"it acts on: {allowed}, or the whole system (omit target)",
            )
    magnitude = None
    if spec is not None:
        if "magnitude" in raw:
            magnitude = ck.number(f"{path}.magnitude", raw["magnitude"], spec.minimum, spec.maximum)
        else:
            magnitude = spec.default
    if len(ck.issues) > before:
        return None
    assert spec is not None and tick is not None and magnitude is not None
    out: dict[str, Any] = {"tick": tick, "type": spec.type, "magnitude": magnitude}
    if target is not None:
        out["target"] = target
    return out


def validate_scenario(wire: object, ticks: int | None = None) -> list[Issue]:
    """Every problem of a wire-form scenario, each with its wire path; empty when valid.

    With ``ticks`` (the length of the run it is for), an event scheduled after the run's last
    tick is a problem too: it would never take effect, and a run that silently leaves out part
    of its scenario is easily mistaken for the whole (a sweep's short runs, in particular).
    The server, the client's pre-flight check and sweeps all apply this one rule;
    :func:`late_events` finds such events (the client drops them only when asked to).
    """
    return _check(wire, ticks)[0]


def late_event_message(tick: int, ticks: int) -> str:
    """The issue message of an event at ``tick`` in a run of ``ticks`` ticks."""
    return (
        f"tick {tick} is after the run's last tick ({ticks}); the event would never take "
        f"effect: run at least {tick} ticks, or leave the event out"
    )


def late_events(wire: Mapping[str, Any], ticks: int) -> list[int]:
    """The indices of the well-formed events of ``wire`` scheduled after tick ``ticks``."""
    events = wire.get("events")
    if not isinstance(events, (list, tuple)):
        return []
    return [
        index
        for index, event in enumerate(events)
        if isinstance(event, Mapping)
        and _is_number(event.get("tick"))
        and _after(event["tick"], ticks)
    ]


def _after(tick: float, ticks: int) -> bool:
    return tick > ticks


def compile_scenario(wire: Mapping[str, Any] | CompiledScenario) -> CompiledScenario:
    """Validate and compile a wire-form scenario; raises :class:`ScenarioError` with all issues.
    A :class:`CompiledScenario` is returned unchanged."""
    if isinstance(wire, CompiledScenario):
        return wire
    issues, norm = _check(wire)
    if norm is None:
        raise ScenarioError(issues)
    models = tuple(
        ModelSpec(
            m["name"],
            m["capabilityIndex"],
            m["alignmentScore"],
            m["guardrailCoverage"],
            m["autonomyLevel"],
            m["humanOversightFreq"],
        )
        for m in norm["models"]
    )
    bodies = tuple(
        BodySpec(
            b["name"],
            b["guardrailStrength"],
            b["responseLatency"],
            TICK / (TICK + LATENCY_TIME_CONSTANT * b["responseLatency"]),
        )
        for b in norm["oversightBodies"]
    )
    index = {m.name: (KIND_MODEL, i) for i, m in enumerate(models)}
    index.update({b.name: (KIND_BODY, i) for i, b in enumerate(bodies)})
    events = []
    ordered = sorted(enumerate(norm["events"]), key=lambda pair: (pair[1]["tick"], pair[0]))
    for _, ev in ordered:
        kind, idx = index.get(ev.get("target", ""), (KIND_SYSTEM, -1))
        events.append(EventSpec(ev["tick"], ev["type"], kind, idx, ev["magnitude"], ev))
    by_tick: dict[int, list[EventSpec]] = {}
    for ev_spec in events:
        by_tick.setdefault(ev_spec.tick, []).append(ev_spec)
    return CompiledScenario(
        name=norm["name"],
        seed=norm["seed"],
        models=models,
        bodies=bodies,
        events=tuple(events),
        fingerprint=sha256_hex(canonical_json(norm).encode()),
        events_by_tick={tick: tuple(evs) for tick, evs in by_tick.items()},
    )
