"""Start-up time: ``python -m benchmarks.startup`` (or ``scripts/bench startup [--json]``).

Each command runs ``--runs`` times in a fresh interpreter, in turns (hyperfine-like), after
``--warmup`` untimed runs that also write the bytecode cache (into a private
``PYTHONPYCACHEPREFIX``, as an installed package has its ``.pyc`` files); the median wall time
of each is reported, and its excess over a bare interpreter (``python -c pass``):

* ``import kairos`` (goal: within 0.15 s of the bare interpreter);
* ``kairos --version`` (goal: within 0.1 s; run as the console script does,
  ``kairos.cli.main``);
* for information: ``from kairos import KairosClient``, ``import kairos.engine`` and
  ``from kairos.engine import Simulation``, which load what they need.

``--before CHECKOUT`` also times another checkout of the project (its ``src`` and ``generated``
on ``PYTHONPATH``), interleaved with this one, under ``before``. ``--json`` prints one JSON object
(stable keys) instead of the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMANDS: dict[str, list[str]] = {
    "bare": ["-c", "pass"],
    "import_kairos": ["-c", "import kairos"],
    "version": ["-c", "import sys; from kairos.cli import main; sys.exit(main())", "--version"],
    "import_client": ["-c", "from kairos import KairosClient"],
    "import_engine": ["-c", "import kairos.engine"],
    "engine_simulation": ["-c", "from kairos.engine import Simulation"],
}
GOALS = {"import_kairos": 0.15, "version": 0.1}


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def environments(cache: str, before: Path | None) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    envs = {"after": env}
    if before is not None:
        old = dict(env)
        old["PYTHONPATH"] = os.pathsep.join(str(before / part) for part in ("src", "generated"))
        envs["before"] = old
    return envs


def measure(runs: int, warmup: int, before: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cache:
        envs = environments(cache, before)
        for _ in range(warmup):
            for env in envs.values():
                for args in COMMANDS.values():
                    timed(args, env)
        samples = {(which, name): [] for which in envs for name in COMMANDS}
        for _ in range(runs):
            for which, env in envs.items():
                for name, args in COMMANDS.items():
                    samples[which, name].append(timed(args, env))
    result = figures({k[1]: v for k, v in samples.items() if k[0] == "after"}, runs)
    if before is not None:
        result["before"] = figures({k[1]: v for k, v in samples.items() if k[0] == "before"}, runs)
        result["before"]["checkout"] = str(before)
    return result


def figures(samples: dict[str, list[float]], runs: int) -> dict[str, Any]:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "runs": runs,
        "seconds": {name: round(value, 4) for name, value in medians.items()},
        "excess_over_bare_s": {
            name: round(value - medians["bare"], 4)
            for name, value in medians.items()
            if name != "bare"
        },
        "goals_s": GOALS,
    }
    result["goals_met"] = {
        name: result["excess_over_bare_s"][name] <= limit for name, limit in GOALS.items()
    }
    return result


def table(result: dict[str, Any], title: str = "") -> str:
    lines = [
        f"start-up{title}, median of {result['runs']} fresh interpreters "
        f"(Python {result['python']})"
    ]
    for name, seconds in result["seconds"].items():
        excess = result["excess_over_bare_s"].get(name)
        extra = "" if excess is None else f"   +{excess * 1000:6.1f} ms over bare"
        goal = GOALS.get(name)
        if goal is not None:
            met = "met" if result["goals_met"][name] else "NOT met"
            extra += f"   (goal +{goal * 1000:.0f} ms: {met})"
        lines.append(f"  {name:<18} {seconds * 1000:8.1f} ms{extra}")
    if "before" in result:
        lines += ["", table(result["before"], f" of {result['before']['checkout']} (before)")]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--before", type=Path, help="also time this checkout, interleaved")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(args.runs, args.warmup, args.before)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
