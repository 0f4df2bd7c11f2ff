"""``domain_info()``: the ``domain.list`` answer, derived from the adapter's own tables."""

from __future__ import annotations

from typing import Any

from ._vocabulary import (
    BODY_FIELDS,
    DOMAIN,
    EVENT_TYPES,
    KIND_BODY,
    KIND_MODEL,
    MODEL_FIELDS,
    FieldSpec,
)


def _field(spec: FieldSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "type": spec.type,
        "required": spec.required,
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "default": spec.default,
        "description": spec.description,
    }


def domain_info() -> dict[str, Any]:
    """The ``$defs/DomainList`` wire dict: every domain with its entity kinds (fields, types,
    ranges, defaults) and event types (targets, magnitude ranges). Built from the same tables
    the validator uses, so the published ranges are the enforced ones."""
    return {
        "domains": [
            {
                "name": DOMAIN,
                "title": "AI safety",
                "description": (
                    "Frontier AI models under alignment, guardrails, human review and oversight "
                    "bodies. Capability and autonomy are the pressure (Lambda); alignment, "
                    "guardrails and oversight are the buffer (Gamma)."
                ),
                "entityKinds": [
                    {
                        "kind": KIND_MODEL,
                        "description": "A frontier AI model (wire key: models).",
                        "fields": [_field(f) for f in MODEL_FIELDS],
                    },
                    {
                        "kind": KIND_BODY,
                        "description": (
                            "A governance entity (safety board, audit committee, automated "
                            "monitor) that stabilizes every model (wire key: oversightBodies)."
                        ),
                        "fields": [_field(f) for f in BODY_FIELDS],
                    },
                ],
                "eventTypes": [
                    {
                        "type": ev.type,
                        "description": ev.description,
                        "targets": list(ev.targets),
                        "defaultMagnitude": ev.default,
                        "minMagnitude": ev.minimum,
                        "maxMagnitude": ev.maximum,
                    }
                    for ev in EVENT_TYPES
                ],
            }
        ]
    }
