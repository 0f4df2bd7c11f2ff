"""``kairos scenarios [ID]``: the library of curated scenarios (:mod:`kairos.scenarios`)."""

from __future__ import annotations

import argparse
import json

from kairos.cli._common import add_command


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(commands, "scenarios", _scenarios)
    parser.add_argument("id", nargs="?", default=None, help="a library scenario id")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _scenarios(args: argparse.Namespace) -> int:
    """list the curated scenarios, or show one

    Without ID: list the library's curated AI-safety scenarios (id, label, tags, run length).
    With ID: show that scenario's note, research question, seed and content. --json prints the
    wire form; with ID it is the scenario file `kairos run` takes.
    """
    from kairos import scenarios  # loads the engine and pydantic: not for `kairos --help`

    if args.id is None:
        if args.json:
            print(json.dumps({"data": [e.info() for e in scenarios.entries()]}, indent=2))
            return 0
        width = max(len(entry.id) for entry in scenarios.entries())
        for entry in scenarios.entries():
            tags = ", ".join(entry.tags)
            print(
                f"{entry.id:<{width}}  {entry.label} [{tags}] seed {entry.seed}, "
                f"{entry.ticks} ticks"
            )
        return 0
    entry = scenarios.get(args.id)  # UnknownScenarioError: one line listing the known ids
    if args.json:
        print(json.dumps(entry.scenario().to_wire(), indent=2))
        return 0
    scenario = entry.scenario()
    print(f"{entry.id}: {entry.label}")
    print(f"  tags:      {', '.join(entry.tags)}")
    print(f"  seed:      {entry.seed}    ticks: {entry.ticks}")
    print(f"  note:      {entry.note}")
    print(f"  question:  {entry.question}")
    for model in scenario.models:
        print(
            f"  model      {model.name}: capability {model.capability_index}, "
            f"alignment {model.alignment_score}"
        )
    for body in scenario.oversight_bodies:
        print(
            f"  body       {body.name}: strength {body.guardrail_strength}, "
            f"latency {body.response_latency}"
        )
    for event in scenario.events:
        target = event.target if event.target is not None else "system"
        magnitude = "" if event.magnitude is None else f" {event.magnitude}"
        print(f"  event      tick {event.tick}: {event.type}{magnitude} on {target}")
    print(f'  run it:    client.run("{entry.id}", ticks={entry.ticks})')
    return 0
