"""Engine throughput: ``python -m benchmarks.engine`` (or ``scripts/bench engine``).

Measures, in one process:

* single run: ticks per second of :class:`kairos.engine.Simulation` (2 models, 1 oversight
  body, full ``TraceStep`` dicts), beside a plain-Python loop doing the same per-tick arithmetic
  (the shared physics kernels, PRNG draws, lag, reserve integration, pairwise scores) without
  events, collision bookkeeping or step dicts;
* batch: agent-ticks per second of 64 such scenarios advanced together, once with summaries
  only (:func:`kairos.engine.summarize_batch`, the Monte Carlo path) and once with every step
  materialized (:func:`kairos.engine.iter_batch`), beside the plain-Python loop over the same 64
  scenarios.

A third line shows the same batch path with 1024 scenarios: numpy's per-call overhead dominates
at 64 scenarios of 2 models, so the batch advantage grows with the batch size.

Each figure is the best of ``--repeat`` runs (the machine may be shared). Ratios above 1 mean
the engine is faster than the baseline. Runtime is kept under a minute.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kairos.engine import (
    Simulation,
    compile_scenario,
    iter_batch,
    resolve_version,
    summarize_batch,
)
from kairos.engine._constants import PERCENT, RESERVE_NOISE
from kairos.engine._physics import (
    body_gamma,
    gamma_of,
    intrinsic_gamma,
    lag_update,
    lambda_of,
    normalized,
    pair_score,
)
from kairos.engine._prng import counter, draw, kick_of, seed_key


def scenario(seed: int) -> dict[str, Any]:
    """Two models and one oversight body; moderate load, one capability jump."""
    return {
        "name": f"bench_{seed}",
        "seed": seed,
        "models": [
            {
                "name": "alpha",
                "capabilityIndex": 200 + seed % 300,
                "alignmentScore": 80,
                "guardrailCoverage": 60,
            },
            {"name": "beta", "capabilityIndex": 150, "alignmentScore": 65, "autonomyLevel": 7},
        ],
        "oversightBodies": [{"name": "board", "guardrailStrength": 70, "responseLatency": 30}],
        "events": [{"tick": 50, "type": "capability_jump", "target": "alpha", "magnitude": 0.3}],
    }


def baseline(scenarios: list[dict[str, Any]], ticks: int, version: str) -> None:
    """The per-tick arithmetic of the engine in a plain Python loop, scenario by scenario."""
    integrator = resolve_version(version).integrator
    for wire in scenarios:
        sc = compile_scenario(wire)
        key = seed_key(sc.seed)
        models, bodies = sc.models, sc.bodies
        n = len(models)
        reserve = [1.0] * n
        cumulative = [0.0] * n
        lam = [lambda_of(m.capability, m.autonomy, 0.0) for m in models]
        total = 0.0
        for value in lam:
            total = total + value
        perceived = [total] * len(bodies)
        readiness = [1.0] * len(bodies)
        g_int = [intrinsic_gamma(m.alignment, 0.0, m.guardrail, m.oversight) for m in models]
        for t in range(1, ticks + 1):
            uncovered = 1.0
            for b, body in enumerate(bodies):
                perceived[b] = lag_update(perceived[b], total, body.lag_gain)
                readiness[b] = lag_update(readiness[b], 1.0, body.lag_gain)
                ratio = 1.0 if total <= perceived[b] else perceived[b] / total
                uncovered = uncovered * (1.0 - body.strength * readiness[b] * ratio / PERCENT)
            g_body = body_gamma(uncovered)
            for i in range(n):
                kick = RESERVE_NOISE * kick_of(draw(key, counter(t, i, 1)))
                r = integrator.step(reserve[i], lam[i], g_int[i], g_body, kick)
                reserve[i] = 1.0 if r > 1.0 else r
            gam = [gamma_of(reserve[i], g_int[i], g_body) for i in range(n)]
            for i in range(n):
                for j in range(n):
                    if j != i:
                        score = pair_score(gam[i], gam[j], lam[i], lam[j])
                        cumulative[i] = cumulative[i] + score
                        normalized(score)


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Best wall-clock time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000, help="ticks of the single run")
    parser.add_argument("--batch-ticks", type=int, default=2_000, help="ticks of the batch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--large-batch", type=int, default=1024)
    parser.add_argument("--large-ticks", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--version", default=None, help="engine version (default: default)")
    args = parser.parse_args(argv)
    version = resolve_version(args.version).version
    agents, rep = 2, args.repeat

    single = scenario(1)
    t_single = timed(lambda: list(Simulation(single, version).steps(args.ticks)), rep)
    t_base = timed(lambda: baseline([single], args.ticks, version), rep)
    single_rate, base_rate = args.ticks / t_single, args.ticks / t_base

    many = [scenario(s) for s in range(args.batch_size)]
    work = args.batch_size * agents * args.batch_ticks
    t_sum = timed(lambda: summarize_batch(many, args.batch_ticks, version), rep)
    t_steps = timed(lambda: [None for _ in iter_batch(many, args.batch_ticks, version)], rep)
    t_bbase = timed(lambda: baseline(many, args.batch_ticks, version), rep)
    sum_rate, steps_rate, bbase_rate = work / t_sum, work / t_steps, work / t_bbase

    large = [scenario(s) for s in range(args.large_batch)]
    large_work = args.large_batch * agents * args.large_ticks
    large_rate = large_work / timed(lambda: summarize_batch(large, args.large_ticks, version))
    large_base = large_work / timed(lambda: baseline(large, args.large_ticks, version))

    print(f"kairos.engine benchmark, engine version {version}, Python {sys.version.split()[0]}")
    print(f"single run (2 models, 1 body, {args.ticks} ticks, full steps):")
    print(f"  engine    {single_rate:12,.0f} ticks/s")
    print(f"  baseline  {base_rate:12,.0f} ticks/s   (plain-Python loop, same arithmetic)")
    print(f"  ratio     {single_rate / base_rate:12.2f}")
    print(f"batch ({args.batch_size} scenarios x {agents} models, {args.batch_ticks} ticks):")
    print(f"  summaries {sum_rate:12,.0f} agent-ticks/s   ratio {sum_rate / bbase_rate:6.2f}")
    print(f"  steps     {steps_rate:12,.0f} agent-ticks/s   ratio {steps_rate / bbase_rate:6.2f}")
    print(f"  baseline  {bbase_rate:12,.0f} agent-ticks/s   (plain-Python loop, same arithmetic)")
    size, ticks = args.large_batch, args.large_ticks
    print(f"large batch ({size} scenarios x {agents} models, {ticks} ticks):")
    print(f"  summaries {large_rate:12,.0f} agent-ticks/s   ratio {large_rate / large_base:6.2f}")
    print(f"  baseline  {large_base:12,.0f} agent-ticks/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
