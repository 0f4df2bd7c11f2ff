"""Integer codes shared by the compiled kernel and its Python side (no numba here)."""

from __future__ import annotations

from ._vocabulary import KIND_BODY, KIND_MODEL, KIND_SYSTEM

EV_CAPABILITY_JUMP = 0
EV_ALIGNMENT_DRIFT = 1
EV_DECEPTIVE_ALIGNMENT = 2
EV_GUARDRAIL_BREACH = 3
EV_AUTONOMY_GRANT = 4
EV_OVERSIGHT_LAPSE = 5
EV_HUMAN_ESCALATION = 6
EV_CONTAINMENT = 7

EVENT_CODES = {
    "capability_jump": EV_CAPABILITY_JUMP,
    "alignment_drift": EV_ALIGNMENT_DRIFT,
    "deceptive_alignment": EV_DECEPTIVE_ALIGNMENT,
    "guardrail_breach": EV_GUARDRAIL_BREACH,
    "autonomy_grant": EV_AUTONOMY_GRANT,
    "oversight_lapse": EV_OVERSIGHT_LAPSE,
    "human_escalation": EV_HUMAN_ESCALATION,
    "containment": EV_CONTAINMENT,
}

KIND_MODEL_CODE = 0
KIND_BODY_CODE = 1
KIND_SYSTEM_CODE = 2
KIND_CODES = {KIND_MODEL: KIND_MODEL_CODE, KIND_BODY: KIND_BODY_CODE, KIND_SYSTEM: KIND_SYSTEM_CODE}

FLAG_LOST = 1
"""The model has lost its basin (``basinLost``)."""
FLAG_NEW_LOSS = 2
"""The model lost its basin in this tick (a ``BasinLoss`` record)."""
FLAG_INVOLVED = 4
"""The model is in a paradoxical pair (listed in the ghost's ``agents``)."""
FLAG_YIELDS = 8
"""The model yields under the decree."""

GHOST_BIT = 4
"""Added to a tick's phase code when the tick has a ghost branch."""
