"""Constant memory: ``python -m benchmarks.memory`` (or ``scripts/bench memory [--json]``).

A client process streams a ``--ticks`` run (default 1,000,000) with ``stream_run`` from a
reference server in this process, keeping nothing but a count; the client's peak RSS
(``getrusage`` ``ru_maxrss``) is read after a warm-up run (connections open, every module
imported) and again at the end. The growth between the two is the figure (goal: under 50 MB).
The server runs in the parent so that its memory is not counted. ``--json`` prints one JSON
object (stable keys).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_MB = 50.0

CLIENT = """
import json, resource, sys, time
from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

url, ticks = sys.argv[1], int(sys.argv[2])
scenario = (
    AISafetyScenario("memory", seed=1)
    .add_model(name="a", capability_index=400, alignment_score=70, guardrail_coverage=60)
    .add_model(name="b", capability_index=500, alignment_score=60)
    .add_oversight_body(name="board", guardrail_strength=70, response_latency=20)
    .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="a", magnitude=0.3)
)

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

with KairosClient(url) as client:
    assert sum(1 for _ in client.stream_run(scenario, ticks=2_000)) == 2_000
    before = peak_mb()
    start = time.perf_counter()
    count = 0
    last = 0
    for step in client.stream_run(scenario, ticks=ticks):
        count += 1
        last = step.t
    elapsed = time.perf_counter() - start
    after = peak_mb()
assert count == ticks and last == ticks, (count, last)
print(json.dumps({"before_mb": before, "after_mb": after, "seconds": elapsed}))
"""


def measure(ticks: int) -> dict[str, Any]:
    from kairos.server import ServerConfig, ServerThread

    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(
            db_path=Path(tmp) / "memory.db",
            port=0,
            rate_limit=None,
            workers=1,
            max_ticks=max(ticks, 1_000_000),
        )
        with ServerThread(config) as server:
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CLIENT, server.url, str(ticks)],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ.copy(),
            ).stdout
            wall = time.perf_counter() - start
    figures = json.loads(out.splitlines()[-1])
    growth = figures["after_mb"] - figures["before_mb"]
    return {
        "ticks": ticks,
        "client_peak_rss_before_mb": round(figures["before_mb"], 1),
        "client_peak_rss_after_mb": round(figures["after_mb"], 1),
        "client_peak_rss_growth_mb": round(growth, 1),
        "goal_growth_mb": GOAL_MB,
        "goal_met": growth < GOAL_MB,
        "stream_seconds": round(figures["seconds"], 2),
        "steps_per_s": round(ticks / figures["seconds"]),
        "wall_seconds": round(wall, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    r = measure(args.ticks)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        met = "met" if r["goal_met"] else "NOT met"
        print(
            f"stream_run of {r['ticks']} ticks in a client process ({r['steps_per_s']} steps/s):\n"
            f"  peak RSS after warm-up  {r['client_peak_rss_before_mb']:8.1f} MB\n"
            f"  peak RSS at the end     {r['client_peak_rss_after_mb']:8.1f} MB\n"
            f"  growth                  {r['client_peak_rss_growth_mb']:8.1f} MB"
            f"   (goal < {GOAL_MB:.0f} MB: {met})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
