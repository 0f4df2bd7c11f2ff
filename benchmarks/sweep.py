"""Sweep throughput: ``python -m benchmarks.sweep``.

Scenarios per second of one :func:`kairos.sweep.sweep` (the documentation's capability-jump
scenario, ``--points`` points of capability x seed, ``--ticks`` ticks), measured side by side in
one process on:

* the local path (the engine's batch mode in this process, the default);
* Dask with 1 worker process (1 thread), then with 2 worker processes (1 thread each), on a
  ``distributed.LocalCluster``; cluster start-up is reported but not timed into the rates.

Each rate counts the whole call: building and validating the scenarios here (serial, the same
on every path, reported separately), running them, and collecting the rows. The rows of the
three paths are checked equal. Each figure is the best of ``--repeat`` runs after one warm-up
(the machine may be shared). Runtime stays well under 90 seconds with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.sweep import SweepResult, sweep
from kairos.sweep._points import grid_points
from kairos.sweep._scenarios import build_scenarios


def build(capability: int, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(f"bench_{capability}_{seed}", seed=seed)
        .add_model(
            name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
        )
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def best(run: Callable[[], SweepResult], repeat: int) -> tuple[float, SweepResult]:
    run()  # warm-up: imports, worker-side imports, first-call caches
    timings = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    assert result is not None
    return min(timings), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=2000, help="scenarios per sweep")
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    say = (lambda *_: None) if args.json else print

    import distributed

    seeds = max(1, args.points // 50)
    grid: dict[str, Any] = {
        "capability": range(100, 1001, 18)[: max(1, args.points // seeds)],
        "seed": range(seeds),
    }
    points = grid_points(grid)
    count = len(points)
    start = time.perf_counter()
    build_scenarios(build, points, args.ticks)
    building = time.perf_counter() - start
    say(
        f"sweep of {count} scenarios x {args.ticks} ticks (1 model, 1 event); "
        f"{os.cpu_count()} CPUs; best of {args.repeat}"
    )
    say(f"  building + validating the scenarios (every path): {building:6.2f} s")

    def run(**where: Any) -> Callable[[], SweepResult]:
        return lambda: sweep(build, grid, ticks=args.ticks, progress=False, **where)

    lines: list[tuple[str, str, float, SweepResult]] = []
    seconds, result = best(run(), args.repeat)
    lines.append(("local", "local engine batch (default)", seconds, result))
    for workers in (1, 2):
        started = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            startup = time.perf_counter() - started
            seconds, result = best(run(executor=client), args.repeat)
        label = f"Dask, {workers} worker(s) (start-up {startup:.1f} s)"
        lines.append((f"dask_{workers}", label, seconds, result))

    reference = lines[0][3]
    figures: dict[str, Any] = {
        "scenarios": count,
        "ticks": args.ticks,
        "building_s": round(building, 3),
    }
    for key, name, seconds, result in lines:
        same = result.rows == reference.rows
        figures[key] = {
            "seconds": round(seconds, 3),
            "scenarios_per_s": round(count / seconds, 1),
            "rows_identical": same,
        }
        say(
            f"  {name:<38} {count / seconds:9.0f} scenarios/s  ({seconds:5.2f} s, "
            f"{'rows identical' if same else 'ROWS DIFFER'})"
        )
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
