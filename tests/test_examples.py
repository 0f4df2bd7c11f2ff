"""Every script in examples/ runs as written and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "capability_sweep.py": ["  100  resonant", " 1000  volatile"],
    "deceptive_alignment.py": ["engine 1.4.4, seed 1024", "final phase:"],
    "trace_forensics.py": ["Engine version: 1.4.4, seed: 7", "Model_B at tick 400: gamma="],
    "stream_danger.py": ["Danger at tick", "ticks below S = 0.1"],
    "critical_threshold.py": ["alignment 70: basin losses begin at capability"],
    "dask_sweep.py": ["400 runs on engine 1.5.0"],
    "plot_trace.py": ["stability.png"],
    "decree_intervention.py": [
        "the decree took effect at tick ",
        "without the decree  final phase volatile, first basin loss at tick 189",
        "replay scenario reproduces the decreed trace: True",
    ],
    "prophecies.py": [
        "capability-divergence (engine 1.6.0)",
        "frontier_model lost its basin at tick 189: foreseen 39 ticks ahead, even odds 39 ahead",
        "lab_b_model lost its basin at tick 167: foreseen 42 ticks ahead",
        "board-intervenes (engine 1.6.0)",
    ],
    "scenario_library.py": [
        "capability-divergence: ",
        "-> volatile; frontier_model lost its basin at tick",
        "board-intervenes: ",
        "typo caught: 6 known ids",
    ],
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}
    args = [sys.executable, str(EXAMPLES / name)]
    if name == "plot_trace.py":
        args.append(str(tmp_path))
    result = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for fragment in EXPECTED[name]:
        assert fragment in result.stdout, result.stdout
    if name == "plot_trace.py":
        for png in ("stability.png", "agents.png"):
            assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
