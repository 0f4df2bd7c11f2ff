"""Engine throughput: ``python -m benchmarks.engine`` (or ``scripts/bench engine [--json]``).

Measures, side by side in one process, each figure beside a plain-Python loop doing the same
per-tick arithmetic (the shared physics kernels, PRNG draws, lag, reserve integration, pairwise
scores) without events, collision bookkeeping or step dicts:

* single run (2 models, 1 oversight body): ticks per second of

  - ``reference steps``: the pure-Python engine building every ``TraceStep`` dict (the old path);
  - ``kernel steps``: the compiled kernel, every step dict built from its arrays;
  - ``kernel lines`` / ``reference lines``: the canonical JSON lines (what the server stores and a
    trace file holds), straight from the kernel's arrays / through ``canonical_json`` of a dict;
  - ``kernel compute``: the kernel advancing the run without building anything per tick
    (``Simulation.advance_to``; what a summary or the state at the end needs);

* batch of 64 and of 1024 such scenarios: agent-ticks per second of ``summarize_batch`` (the
  Monte Carlo path) on the kernel and on the numpy batch engine (the old path), and of
  ``iter_batch`` materializing every step;
* scenarios are compiled (validated) before the clock starts, for the engines and the plain loop
  alike: validation is not engine arithmetic (``compile_scenario_s`` reports its cost);
* first-call latency, each in a fresh interpreter: ``import kairos.engine``, then the first run
  (numba import and loading the compiled kernel from its on-disk cache), against the first run
  of the reference engine. ``--cold`` also measures a compile into an empty cache.

Each figure is the best of ``--repeat`` runs (the machine may be shared). Ratios above 1 mean
faster than the plain loop. ``--json`` prints one JSON object (stable keys) instead of the table.
Without numba (``pip install 'kairos-sdk[fast]'``) the kernel figures are null.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kairos.engine import (
    CompiledScenario,
    Simulation,
    compile_scenario,
    iter_batch,
    kernel_info,
    load_kernel,
    resolve_version,
    summarize_batch,
)
from kairos.engine._canonical import canonical_step_bytes
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

ROOT = Path(__file__).resolve().parents[1]


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


def baseline(scenarios: list[CompiledScenario], ticks: int, version: str) -> None:
    """The per-tick arithmetic of the engine in a plain Python loop, scenario by scenario."""
    integrator = resolve_version(version).integrator
    for sc in scenarios:
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


FIRST_CALL = """
import time
t0 = time.perf_counter()
import kairos.engine as e
t1 = time.perf_counter()
e.run({scenario!r}, 1, backend={backend!r})
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def first_call(backend: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(import kairos.engine, first one-tick run) in a fresh interpreter, in seconds."""
    code = FIRST_CALL.format(scenario=scenario(1), backend=backend)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env or {})),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rate(work: float, seconds: float | None) -> float | None:
    return None if seconds is None else work / seconds


def ratio(a: float | None, b: float) -> float | None:
    return None if a is None else a / b


def measure_batch(
    size: int, ticks: int, with_steps: bool, version: str, rep: int, kernel: bool
) -> dict[str, Any]:
    """Batch figures: summaries (and step dicts) of ``size`` scenarios, kernel and numpy."""
    wires = [scenario(s) for s in range(size)]
    t_compile = timed(lambda: [compile_scenario(w) for w in wires])
    many = [compile_scenario(w) for w in wires]
    work = size * 2 * ticks
    once = 1 if size > 100 else rep
    t_bbase = timed(lambda: baseline(many, ticks, version), once)
    t_ref_sum = timed(lambda: summarize_batch(many, ticks, version, backend="reference"), once)
    t_k_sum = (
        timed(lambda: summarize_batch(many, ticks, version, backend="kernel"), rep)
        if kernel
        else None
    )
    b = work / t_bbase
    figs: dict[str, Any] = {
        "scenarios": size,
        "ticks": ticks,
        "compile_scenario_s": t_compile,
        "baseline_agent_ticks_per_s": b,
        "reference_summaries_agent_ticks_per_s": work / t_ref_sum,
        "kernel_summaries_agent_ticks_per_s": rate(work, t_k_sum),
    }
    if with_steps:

        def rows(backend: str) -> None:
            for _ in iter_batch(many, ticks, version, backend=backend):
                pass

        figs["reference_steps_agent_ticks_per_s"] = work / timed(lambda: rows("reference"), rep)
        figs["kernel_steps_agent_ticks_per_s"] = (
            work / timed(lambda: rows("kernel"), rep) if kernel else None
        )
    figs["ratios"] = {
        key.removesuffix("_agent_ticks_per_s"): ratio(figs[key], b)
        for key in list(figs)
        if key.endswith("_agent_ticks_per_s") and key != "baseline_agent_ticks_per_s"
    }
    return figs


def measure(args: argparse.Namespace) -> dict[str, Any]:
    version = resolve_version(args.version).version
    rep = args.repeat
    kernel = load_kernel()

    def maybe(fn: Callable[[], object], repeat: int = rep) -> float | None:
        return timed(fn, repeat) if kernel else None

    n = args.ticks
    single = compile_scenario(scenario(1))

    def lines(backend: str) -> None:
        for _ in Simulation(single, version, backend=backend).lines(n):
            pass

    def ref_lines() -> None:
        for step in Simulation(single, version, backend="reference").steps(n):
            canonical_step_bytes(step)

    t_base = timed(lambda: baseline([single], n, version), rep)
    t_ref = timed(lambda: list(Simulation(single, version, backend="reference").steps(n)), rep)
    t_ref_lines = timed(ref_lines, rep)
    t_k_steps = maybe(lambda: list(Simulation(single, version, backend="kernel").steps(n)))
    t_k_lines = maybe(lambda: lines("kernel"))
    t_k_compute = maybe(
        lambda: Simulation(single, version, backend="kernel").advance_to(n), max(rep, 5)
    )
    base = n / t_base
    figures: dict[str, Any] = {
        "ticks": n,
        "baseline_ticks_per_s": base,
        "reference_steps_ticks_per_s": n / t_ref,
        "reference_lines_ticks_per_s": n / t_ref_lines,
        "kernel_steps_ticks_per_s": rate(n, t_k_steps),
        "kernel_lines_ticks_per_s": rate(n, t_k_lines),
        "kernel_compute_ticks_per_s": rate(n, t_k_compute),
    }
    figures["ratios"] = {
        key.removesuffix("_ticks_per_s"): ratio(figures[key], base)
        for key in list(figures)
        if key.endswith("_ticks_per_s") and key != "baseline_ticks_per_s"
    }
    out: dict[str, Any] = {"single": figures}

    for label, size, ticks, with_steps in (
        ("batch", args.batch_size, args.batch_ticks, True),
        ("large_batch", args.large_batch, args.large_ticks, False),
    ):
        out[label] = measure_batch(size, ticks, with_steps, version, rep, kernel)

    latency: dict[str, Any] = {}
    imp, first_ref = first_call("reference")
    latency["import_engine_s"] = imp
    latency["first_run_reference_s"] = first_ref
    latency["first_run_kernel_cached_s"] = first_call("kernel")[1] if kernel else None
    latency["first_run_kernel_compile_s"] = None
    if kernel and args.cold:
        with tempfile.TemporaryDirectory() as empty:
            latency["first_run_kernel_compile_s"] = first_call(
                "kernel", {"NUMBA_CACHE_DIR": empty}
            )[1]
    out["first_call"] = latency

    info = kernel_info()
    try:
        import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]

        numba_version: str | None = numba.__version__
    except ImportError:
        numba_version = None
    out["meta"] = {
        "benchmark": "engine",
        "engine_version": version,
        "python": platform.python_version(),
        "numba": numba_version,
        "kernel_available": kernel,
        "kernel_failure": info["failure"],
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    k_single = figures["ratios"]["kernel_compute"]
    k_large = out["large_batch"]["ratios"]["kernel_summaries"]
    out["goals"] = {
        "single_10x_compute": None if k_single is None else k_single >= 10.0,
        "single_10x_steps": None
        if figures["ratios"]["kernel_steps"] is None
        else figures["ratios"]["kernel_steps"] >= 10.0,
        "single_10x_lines": None
        if figures["ratios"]["kernel_lines"] is None
        else figures["ratios"]["kernel_lines"] >= 10.0,
        "batch_1024_50x_summaries": None if k_large is None else k_large >= 50.0,
    }
    return out


def fmt(value: float | None, spec: str) -> str:
    return "n/a (no kernel)" if value is None else format(value, spec)


def table(r: dict[str, Any]) -> str:
    meta, s = r["meta"], r["single"]
    lines = [
        f"kairos.engine benchmark, engine version {meta['engine_version']}, Python "
        f"{meta['python']}, numba {meta['numba']}, {meta['cpu']} x{meta['cpus']} "
        f"(load {meta['load_average_1min']:.1f})",
        f"single run (2 models, 1 body, {s['ticks']} ticks)            ticks/s   vs plain loop",
        f"  plain-Python loop (same arithmetic)  {s['baseline_ticks_per_s']:12,.0f}        1.00",
    ]
    labels = [
        ("reference_steps", "reference engine, step dicts (old)"),
        ("reference_lines", "reference engine, canonical lines"),
        ("kernel_steps", "kernel, step dicts"),
        ("kernel_lines", "kernel, canonical lines"),
        ("kernel_compute", "kernel, compute only"),
    ]
    for key, text in labels:
        value, rat = s[f"{key}_ticks_per_s"], s["ratios"][key]
        lines.append(f"  {text:<37}{fmt(value, '12,.0f')}   {fmt(rat, '9.2f')}")
    for label in ("batch", "large_batch"):
        b = r[label]
        lines.append(
            f"batch of {b['scenarios']} (x 2 models, {b['ticks']} ticks)"
            f"{'':<12}agent-ticks/s   vs plain loop"
        )
        lines.append(
            f"  plain-Python loop                    {b['baseline_agent_ticks_per_s']:12,.0f}"
            "        1.00"
        )
        for key, text in (
            ("reference_summaries", "numpy batch engine, summaries (old)"),
            ("reference_steps", "numpy batch engine, step dicts (old)"),
            ("kernel_summaries", "kernel, summaries"),
            ("kernel_steps", "kernel, step dicts"),
        ):
            if f"{key}_agent_ticks_per_s" in b:
                value, rat = b[f"{key}_agent_ticks_per_s"], b["ratios"][key]
                lines.append(f"  {text:<37}{fmt(value, '12,.0f')}   {fmt(rat, '9.2f')}")
    f = r["first_call"]
    lines.append("first call, fresh interpreter (s)")
    lines.append(f"  import kairos.engine                 {f['import_engine_s']:12.3f}")
    lines.append(f"  first run, reference                 {f['first_run_reference_s']:12.3f}")
    lines.append(
        f"  first run, kernel (cached)           {fmt(f['first_run_kernel_cached_s'], '12.3f')}"
    )
    if f["first_run_kernel_compile_s"] is not None:
        lines.append(
            f"  first run, kernel (empty cache)      {f['first_run_kernel_compile_s']:12.3f}"
        )
    lines.append("goals: " + ", ".join(f"{k} {v}" for k, v in r["goals"].items()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000, help="ticks of the single run")
    parser.add_argument("--batch-ticks", type=int, default=2_000, help="ticks of the batch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--large-batch", type=int, default=1024)
    parser.add_argument("--large-ticks", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--version", default=None, help="engine version (default: default)")
    parser.add_argument("--cold", action="store_true", help="also time a compile (slow)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
