"""Reference scenarios whose canonical trace hashes are committed in golden_hashes.json.

Regenerate (only when adding a scenario or a new engine version; never to paper over a change
in a released version's numbers):

    PYTHONPATH=src python -m tests.engine.golden --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kairos.engine import active_versions, iter_steps, trace_sha256

from .scenarios import paradox_scenario, rich_scenario, sweep_scenario

GOLDEN_PATH = Path(__file__).with_name("golden_hashes.json")

REFERENCES: dict[str, tuple[dict[str, Any], int]] = {
    "sweep_100": (sweep_scenario(100), 500),
    "sweep_334": (sweep_scenario(334), 500),
    "sweep_604_board": (
        sweep_scenario(604, body={"name": "board", "guardrailStrength": 70, "responseLatency": 35}),
        500,
    ),
    "deceptive_alignment_spikes": (rich_scenario(), 400),
    "dual_administrator": (paradox_scenario(), 400),
}


def compute(backend: str = "reference") -> dict[str, dict[str, str]]:
    """version -> reference name -> SHA-256 of the canonical trace bytes (computed by the pure
    Python reference engine unless ``backend`` says otherwise)."""
    return {
        version: {
            name: trace_sha256(iter_steps(scenario, ticks, version, backend=backend))
            for name, (scenario, ticks) in REFERENCES.items()
        }
        for version in active_versions()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite golden_hashes.json")
    args = parser.parse_args(argv)
    hashes = compute()
    text = json.dumps(hashes, indent=2, sort_keys=True) + "\n"
    if args.write:
        GOLDEN_PATH.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
