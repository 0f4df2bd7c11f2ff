"""The curated AI-safety scenarios: data, built with :class:`AISafetyScenario`.

Each entry is fixed once published: its id, seed and content never change (a changed scenario
gets a new id), so that ``client.run("capability-divergence", ticks=400)`` means the same run
for every reader. The outcomes quoted in the notes are those of engine 1.5.0 and later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import Issue, ValidationError

__all__ = ["LibraryEntry", "UnknownScenarioError", "entries", "get", "ids"]

Jump = AISafetyEventType.CAPABILITY_JUMP


@dataclass(frozen=True)
class LibraryEntry:
    """One curated scenario: its description and a builder of its content."""

    id: str
    label: str
    seed: int
    tags: tuple[str, ...]
    note: str
    question: str
    ticks: int
    """The run length the scenario is curated for (its events fall within it)."""
    _build: Callable[[str, int], AISafetyScenario] = field(repr=False, compare=False)

    def scenario(self) -> AISafetyScenario:
        """A fresh :class:`AISafetyScenario` of this entry (named by its label)."""
        return self._build(self.label, self.seed)

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


def _capability_divergence(name: str, seed: int) -> AISafetyScenario:
    scenario = AISafetyScenario(name, seed=seed).add_model(
        name="frontier_model", capability_index=300, alignment_score=70, guardrail_coverage=60
    )
    for tick in (50, 100, 150, 200):
        scenario.add_event(tick, Jump, target="frontier_model", magnitude=0.2)
    return scenario


def _deceptive_alignment(name: str, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="model_a",
            capability_index=500,
            alignment_score=90,
            guardrail_coverage=70,
            autonomy_level=6,
            human_oversight_freq=40,
        )
        .add_oversight_body("safety_board", guardrail_strength=60, response_latency=30)
        .add_event(100, AISafetyEventType.DECEPTIVE_ALIGNMENT, target="model_a", magnitude=0.3)
        .add_event(200, AISafetyEventType.DECEPTIVE_ALIGNMENT, target="model_a", magnitude=0.3)
    )


def _oversight_lapse(name: str, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="frontier_model",
            capability_index=540,
            alignment_score=72,
            guardrail_coverage=55,
            human_oversight_freq=40,
        )
        .add_oversight_body("safety_board", guardrail_strength=85, response_latency=60)
        .add_event(150, AISafetyEventType.OVERSIGHT_LAPSE, target="safety_board", magnitude=1.0)
        .add_event(150, Jump, target="frontier_model", magnitude=0.2)
    )


def _racing_labs(name: str, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="lab_a_model", capability_index=320, alignment_score=68, guardrail_coverage=50
        )
        .add_model(
            name="lab_b_model", capability_index=340, alignment_score=60, guardrail_coverage=45
        )
        .add_event(80, Jump, target="lab_a_model", magnitude=0.2)
        .add_event(120, Jump, target="lab_b_model", magnitude=0.25)
        .add_event(160, AISafetyEventType.GUARDRAIL_BREACH, target="lab_b_model", magnitude=0.4)
        .add_event(200, Jump, target="lab_a_model", magnitude=0.3)
    )


def _autonomy_creep(name: str, seed: int) -> AISafetyScenario:
    scenario = AISafetyScenario(name, seed=seed).add_model(
        name="agent",
        capability_index=330,
        alignment_score=75,
        guardrail_coverage=60,
        autonomy_level=3,
    )
    for tick in (60, 140, 220, 300):
        scenario.add_event(tick, AISafetyEventType.AUTONOMY_GRANT, target="agent", magnitude=2)
    return scenario


def _board_intervenes(name: str, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="frontier_model", capability_index=600, alignment_score=65, guardrail_coverage=60
        )
        .add_oversight_body("audit_committee", guardrail_strength=70, response_latency=10)
        .add_event(50, Jump, target="frontier_model", magnitude=0.3)
        .add_event(55, AISafetyEventType.CONTAINMENT, target="frontier_model", magnitude=0.6)
        .add_event(60, AISafetyEventType.HUMAN_ESCALATION, target="frontier_model", magnitude=30)
    )


_ENTRIES: tuple[LibraryEntry, ...] = (
    LibraryEntry(
        "capability-divergence",
        "Capability-Alignment Divergence",
        42,
        ("ai-safety", "governance"),
        "A frontier model's capabilities outpace its alignment buffer: four +20% capability "
        "jumps, 50 ticks apart, against a fixed alignment of 70.",
        "How many capability jumps can a fixed alignment buffer absorb, and when does the "
        "model leave its basin?",
        400,
        _capability_divergence,
    ),
    LibraryEntry(
        "deceptive-alignment",
        "Deceptive Alignment Under Review",
        1024,
        ("ai-safety", "deception", "oversight"),
        "A capable, well-aligned model turns partly deceptive twice (30% each): its alignment "
        "and human review buffer less than they appear, while a safety board watches.",
        "Does an oversight body contain a model whose alignment is partly deceptive, and how "
        "long after the deception does the buffer give way?",
        500,
        _deceptive_alignment,
    ),
    LibraryEntry(
        "oversight-lapse",
        "Oversight Lapse During a Capability Jump",
        7,
        ("ai-safety", "governance", "oversight"),
        "A strong but slow safety board (latency 60) lapses completely in the very tick the "
        "model gains 20% capability; the board recovers only through its lag.",
        "Is a strong oversight body enough when its lapse coincides with a capability jump?",
        500,
        _oversight_lapse,
    ),
    LibraryEntry(
        "racing-labs",
        "Two Labs Racing",
        2024,
        ("ai-safety", "competition", "multi-agent"),
        "Two labs' models leapfrog each other's capabilities; the trailing lab cuts its "
        "guardrails by 40% to keep up. Both models are scored against each other every tick.",
        "In a capability race, which lab's model fails first, and does one failure drag the "
        "other down?",
        500,
        _racing_labs,
    ),
    LibraryEntry(
        "autonomy-creep",
        "Autonomy Creep",
        11,
        ("ai-safety", "autonomy"),
        "An agent's autonomy is raised by 2 levels every 80 ticks (3 -> 11, capped at 10) at "
        "constant capability; each grant multiplies its optimization pressure.",
        "How much autonomy can be granted step by step before an aligned agent's buffer fails?",
        500,
        _autonomy_creep,
    ),
    LibraryEntry(
        "board-intervenes",
        "The Board Intervenes",
        5,
        ("ai-safety", "governance", "intervention"),
        "A control case: right after a +30% capability jump a fast audit committee contains "
        "the model (60%) and escalates to human review. No basin loss follows.",
        "Does prompt containment plus human escalation hold a capability shock that would "
        "otherwise overwhelm the buffer?",
        500,
        _board_intervenes,
    ),
)

_BY_ID = {entry.id: entry for entry in _ENTRIES}


def entries() -> tuple[LibraryEntry, ...]:
    """Every library scenario, in library order."""
    return _ENTRIES


def ids() -> list[str]:
    """The ids of the library scenarios, in library order."""
    return [entry.id for entry in _ENTRIES]


def get(scenario_id: str) -> LibraryEntry:
    """The library scenario with this id; :class:`UnknownScenarioError` (a
    ``ValidationError``) listing the known ids if there is none."""
    entry = _BY_ID.get(scenario_id) if isinstance(scenario_id, str) else None
    if entry is None:
        raise UnknownScenarioError(scenario_id, ids())
    return entry
