"""Event effects, shared verbatim by the scalar and the batch path.

An effect rewrites one entry of a state column. The scalar path passes Python lists, the batch
path passes one scenario's row of a 2-D float64 array (a numpy view); scalar arithmetic on a
numpy float64 is the same IEEE-754 operation as on a Python float, so both paths get the same
bits. Effects are permanent changes of the entity's parameters, except ``oversight_lapse``, which
knocks a body's readiness down and lets its response lag restore it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._adapter import EventSpec
from ._constants import AUTONOMY_MAX, CAPABILITY_CEILING, CAPABILITY_FLOOR, PERCENT
from ._vocabulary import KIND_BODY, KIND_MODEL, KIND_SYSTEM


class Column(Protocol):
    """A mutable column of floats: a ``list[float]`` or a 1-D float64 numpy view."""

    def __getitem__(self, index: int, /) -> Any: ...
    def __setitem__(self, index: int, value: Any, /) -> None: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class ModelColumns:
    """The event-mutable parameters of one scenario's models, column by column."""

    capability: Column
    alignment: Column
    deception: Column
    guardrail: Column
    autonomy: Column
    oversight: Column
    containment: Column
    count: int


@dataclass(frozen=True)
class BodyColumns:
    """The event-mutable parameters of one scenario's oversight bodies."""

    strength: Column
    readiness: Column
    count: int


def _clamp(value: Any, lo: float, hi: float) -> Any:
    """min(max(value, lo), hi) with explicit comparisons (no signed-zero ambiguity). The kernel
    compiles this function as it is."""
    if value < lo:
        return lo
    if value > hi:
        return hi
    return value


def _capability_jump(m: ModelColumns, i: int, mag: float) -> None:
    m.capability[i] = _clamp(m.capability[i] * (1.0 + mag), CAPABILITY_FLOOR, CAPABILITY_CEILING)


def _alignment_drift(m: ModelColumns, i: int, mag: float) -> None:
    m.alignment[i] = _clamp(m.alignment[i] + mag, 0.0, PERCENT)


def _deceptive_alignment(m: ModelColumns, i: int, mag: float) -> None:
    m.deception[i] = 1.0 - (1.0 - m.deception[i]) * (1.0 - mag)


def _guardrail_breach_model(m: ModelColumns, i: int, mag: float) -> None:
    m.guardrail[i] = m.guardrail[i] * (1.0 - mag)


def _guardrail_breach_body(b: BodyColumns, i: int, mag: float) -> None:
    b.strength[i] = b.strength[i] * (1.0 - mag)


def _autonomy_grant(m: ModelColumns, i: int, mag: float) -> None:
    m.autonomy[i] = _clamp(m.autonomy[i] + mag, 0.0, AUTONOMY_MAX)


def _oversight_lapse(b: BodyColumns, i: int, mag: float) -> None:
    b.readiness[i] = b.readiness[i] * (1.0 - mag)


def _human_escalation(m: ModelColumns, i: int, mag: float) -> None:
    m.oversight[i] = _clamp(m.oversight[i] + mag, 0.0, PERCENT)


def _containment(m: ModelColumns, i: int, mag: float) -> None:
    m.containment[i] = 1.0 - (1.0 - m.containment[i]) * (1.0 - mag)


ModelEffect = Callable[[ModelColumns, int, float], None]
BodyEffect = Callable[[BodyColumns, int, float], None]

#: type -> (effect on a model, effect on a body); None where the type cannot act on that kind.
EFFECTS: Mapping[str, tuple[ModelEffect | None, BodyEffect | None]] = {
    "capability_jump": (_capability_jump, None),
    "alignment_drift": (_alignment_drift, None),
    "deceptive_alignment": (_deceptive_alignment, None),
    "guardrail_breach": (_guardrail_breach_model, _guardrail_breach_body),
    "autonomy_grant": (_autonomy_grant, None),
    "oversight_lapse": (None, _oversight_lapse),
    "human_escalation": (_human_escalation, None),
    "containment": (_containment, None),
}


def apply_event(event: EventSpec, models: ModelColumns, bodies: BodyColumns) -> None:
    """Apply one event; a system-wide event acts on every model and body its type can act on,
    in index order (models first)."""
    on_model, on_body = EFFECTS[event.type]
    if event.target_kind == KIND_MODEL:
        assert on_model is not None
        on_model(models, event.target_index, event.magnitude)
    elif event.target_kind == KIND_BODY:
        assert on_body is not None
        on_body(bodies, event.target_index, event.magnitude)
    else:
        assert event.target_kind == KIND_SYSTEM
        if on_model is not None:
            for i in range(models.count):
                on_model(models, i, event.magnitude)
        if on_body is not None:
            for i in range(bodies.count):
                on_body(bodies, i, event.magnitude)
