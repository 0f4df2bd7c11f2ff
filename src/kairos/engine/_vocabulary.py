"""The AI-safety domain vocabulary as data: fields, ranges, defaults and event types.

This table is the single source for three consumers: the adapter's validation, the compiler's
defaults and :func:`kairos.engine.domain_info` (the ``domain.list`` procedure). Change a range
here and all three follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._constants import DEFAULT_MAX_TICKS as DEFAULT_MAX_TICKS

DOMAIN = "ai_safety"

KIND_MODEL = "model"
KIND_BODY = "oversight_body"
KIND_SYSTEM = "system"


@dataclass(frozen=True)
class FieldSpec:
    """One input field of an entity kind (wire name is camelCase)."""

    name: str
    type: str  # "string" | "number" | "integer"
    required: bool
    description: str
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None


@dataclass(frozen=True)
class EventTypeSpec:
    """One event type: what it acts on and the unit and range of its magnitude."""

    type: str
    description: str
    targets: tuple[str, ...]
    default: float
    minimum: float
    maximum: float


NAME_FIELD_DESCRIPTION = (
    "Unique name within the scenario: letters, digits, '_', '.', '-', at most 64 characters."
)
NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
NAME_MAX_LENGTH = 64

MODEL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "string", True, NAME_FIELD_DESCRIPTION),
    FieldSpec(
        "capabilityIndex",
        "number",
        True,
        "Capability index, 1 to 1000: the primary destabilizing force (Lambda = index / 100 at "
        "autonomy 5).",
        1.0,
        1000.0,
    ),
    FieldSpec(
        "alignmentScore",
        "number",
        True,
        "Alignment score, 0 to 100: the primary buffer (adds up to 4 to Gamma).",
        0.0,
        100.0,
    ),
    FieldSpec(
        "guardrailCoverage",
        "number",
        False,
        "Share of behaviours covered by guardrails, 0 to 100 (adds up to 2 to Gamma).",
        0.0,
        100.0,
        50.0,
    ),
    FieldSpec(
        "autonomyLevel",
        "number",
        False,
        "Autonomy, 0 (tool) to 10 (autonomous agent): multiplies Lambda by 0.5 + 0.1 * level.",
        0.0,
        10.0,
        5.0,
    ),
    FieldSpec(
        "humanOversightFreq",
        "number",
        False,
        "How often humans review the model's actions, 0 to 100 (adds up to 1 to Gamma).",
        0.0,
        100.0,
        50.0,
    ),
)

BODY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "string", True, NAME_FIELD_DESCRIPTION),
    FieldSpec(
        "guardrailStrength",
        "number",
        True,
        "Structural resistance to destabilization, 0 to 100: the body's coverage; bodies combine "
        "as independent layers and add up to 3 to the Gamma of every model.",
        0.0,
        100.0,
    ),
    FieldSpec(
        "responseLatency",
        "number",
        True,
        "How slowly the body reacts, 0 to 100 (lower is faster): a first-order lag with time "
        "constant 0.5 ticks per point, so a slow body lags behind rapid shocks.",
        0.0,
        100.0,
    ),
)

EVENT_TYPES: tuple[EventTypeSpec, ...] = (
    EventTypeSpec(
        "capability_jump",
        "Relative jump of capability: the capability index is multiplied by 1 + magnitude "
        "(0.3 = +30%), raising Lambda in proportion.",
        (KIND_MODEL, KIND_SYSTEM),
        0.3,
        0.0,
        10.0,
    ),
    EventTypeSpec(
        "alignment_drift",
        "The alignment score moves by magnitude points (negative drifts away), clamped to 0..100.",
        (KIND_MODEL, KIND_SYSTEM),
        -10.0,
        -100.0,
        100.0,
    ),
    EventTypeSpec(
        "deceptive_alignment",
        "The model hides a fraction (magnitude, 0..1) of its misalignment: the Gamma its "
        "alignment score and its human reviews confer is multiplied by 1 - magnitude "
        "(deceptions compound).",
        (KIND_MODEL, KIND_SYSTEM),
        0.5,
        0.0,
        1.0,
    ),
    EventTypeSpec(
        "guardrail_breach",
        "A fraction (magnitude, 0..1) of guardrails fails: a model's guardrail coverage or a "
        "body's guardrail strength is multiplied by 1 - magnitude; the system target breaches "
        "every model and body.",
        (KIND_MODEL, KIND_BODY, KIND_SYSTEM),
        0.5,
        0.0,
        1.0,
    ),
    EventTypeSpec(
        "autonomy_grant",
        "The autonomy level moves by magnitude levels, clamped to 0..10.",
        (KIND_MODEL, KIND_SYSTEM),
        2.0,
        -10.0,
        10.0,
    ),
    EventTypeSpec(
        "oversight_lapse",
        "A body's readiness drops by a fraction (magnitude, 0..1; 1 = total lapse) and recovers "
        "only through its response lag; the system target hits every body.",
        (KIND_BODY, KIND_SYSTEM),
        1.0,
        0.0,
        1.0,
    ),
    EventTypeSpec(
        "human_escalation",
        "Humans step in: the model's human oversight frequency rises by magnitude points, "
        "clamped to 0..100.",
        (KIND_MODEL, KIND_SYSTEM),
        25.0,
        0.0,
        100.0,
    ),
    EventTypeSpec(
        "containment",
        "The model is sandboxed: a fraction (magnitude, 0..1) of its remaining optimization "
        "pressure is suppressed (Lambda multiplied by 1 - magnitude; containments compound).",
        (KIND_MODEL, KIND_SYSTEM),
        0.5,
        0.0,
        1.0,
    ),
)

EVENT_TYPE_BY_NAME: dict[str, EventTypeSpec] = {spec.type: spec for spec in EVENT_TYPES}

SCENARIO_KEYS = ("name", "domain", "seed", "models", "oversightBodies", "events")
EVENT_KEYS = ("tick", "type", "target", "magnitude")
SCENARIO_NAME_MAX_LENGTH = 200
SEED_MAX = 9007199254740991  # 2**53 - 1: the largest integer JSON numbers carry exactly
MAX_MODELS = 64
MAX_BODIES = 64
MAX_EVENTS = 100000
EVENT_TICK_MAX = 10000000
