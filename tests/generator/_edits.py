"""The schema edit the regeneration tests make: a new procedure (``simulation.pause`` with its
``PauseInput``), the way an API change arrives in the schema."""

from __future__ import annotations

from typing import Any

PAUSE_INPUT: dict[str, Any] = {
    "type": "object",
    "description": "Input of simulation.pause.",
    "properties": {
        "id": {"type": "string", "description": "The simulation's id."},
        "untilTick": {"type": "integer", "minimum": 1, "description": "Pause at this tick."},
    },
    "required": ["id"],
    "additionalProperties": False,
}

PAUSE_PROCEDURE: dict[str, Any] = {
    "path": "simulation.pause",
    "kind": "mutation",
    "input": {"$ref": "#/$defs/PauseInput"},
    "output": {"$ref": "#/$defs/Simulation"},
    "retrySafe": True,
    "description": "Pause a running simulation.",
}


def add_pause_procedure(schema: dict[str, Any]) -> None:
    """Add ``simulation.pause`` and its input model to ``schema`` (in place)."""
    schema["$defs"]["PauseInput"] = PAUSE_INPUT
    schema["x-trpc-procedures"].append(PAUSE_PROCEDURE)
