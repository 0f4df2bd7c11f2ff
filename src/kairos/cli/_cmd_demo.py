"""``kairos demo``: the documented capability sweep on the embedded default, its threshold and
a plot: what KAIROS is for, in under a minute."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from kairos.cli._common import add_command, plotting_installed, save_plot

CAPABILITIES = range(100, 1001, 18)
TICKS = 500


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = add_command(commands, "demo", _demo)
    demo.add_argument(
        "--plot",
        type=Path,
        default=Path("kairos-demo.png"),
        help="where to write the sweep plot (default kairos-demo.png; plotting extra)",
    )
    demo.add_argument("--url", default=None, help="use this server instead of an embedded one")


def build(capability: int) -> Any:
    from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

    return (
        AISafetyScenario(f"sweep_{capability}", seed=capability)
        .add_model(
            name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
        )
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def _demo(args: argparse.Namespace) -> int:
    """run the documented capability sweep

    Run the documentation's capability sweep (capability 100..1000, alignment 70, guardrails 60,
    a +30% capability jump at tick 100, 500 ticks) on an embedded server, print the outcomes and
    the threshold, and plot them.
    """
    from kairos.client import KairosClient
    from kairos.sweep import find_threshold, sweep

    started = time.perf_counter()
    with KairosClient(url=args.url) as client:
        where = client.url
        print(
            f"KAIROS capability sweep: {len(CAPABILITIES)} simulations of {TICKS} ticks on {where}"
        )
        print(f"engine version {client.engine.versions().default} (pinned for every run)\n")
        result = sweep(
            lambda capability: build(capability),
            {"capability": CAPABILITIES},
            ticks=TICKS,
            client=client,
        )
        from kairos.cli._cmd_sweep import print_rows

        print_rows(result, ["capability"])
        grid = result.threshold("capability")
        refined = None
        if grid is not None:
            refined = find_threshold(
                lambda capability: build(capability),
                "capability",
                grid.low,
                grid.high,
                ticks=TICKS,
                client=client,
                integer=True,
            )
    elapsed = time.perf_counter() - started
    print()
    if grid is None:
        print("no basin losses across the sweep")
    else:
        assert refined is not None
        print(
            f"threshold: basin losses begin between capability {grid.low} and {grid.high} on "
            f"the grid; bisection puts the critical capability at {refined.value:g} "
            f"({len(refined.evaluations)} more runs)"
        )
    if not plotting_installed():
        print('(install "kairos-sdk[plotting]" for the plot)')
    else:
        axes = result.plot("capability", threshold=refined.value if refined else None)
        save_plot(axes, args.plot)
    print(f"done in {elapsed:.1f} s")
    return 0
