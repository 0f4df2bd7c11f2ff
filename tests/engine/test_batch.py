"""Batch mode is bit-identical to lone runs (canonical bytes compared)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.engine import (
    active_versions,
    canonical_trace_bytes,
    iter_batch,
    run,
    run_batch,
    summarize,
    summarize_batch,
)

from .scenarios import paradox_scenario, rich_scenario, scenario_strategy, sweep_scenario


def mixed() -> list[dict[str, Any]]:
    """Different model counts, bodies, events, paradoxes and basin losses in one batch."""
    return [
        sweep_scenario(100),
        rich_scenario(),
        paradox_scenario(),
        sweep_scenario(604, body={"name": "b", "guardrailStrength": 40, "responseLatency": 70}),
        paradox_scenario(seed=99),
        sweep_scenario(334),
    ]


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("version", active_versions())
def test_batch_equals_single(version: str, backend: str) -> None:
    """The numpy batch engine (reference) and the kernel (auto, when installed) against lone
    runs of the pure-Python reference engine."""
    scenarios = mixed()
    batch = run_batch(scenarios, 150, version, backend=backend)
    for scenario, trace in zip(scenarios, batch, strict=True):
        single = run(scenario, 150, version, backend="reference")
        assert canonical_trace_bytes(trace) == canonical_trace_bytes(single)
    assert any(step["ghost"] for trace in batch for step in trace)
    assert any(step["losses"] for trace in batch for step in trace)


def test_per_scenario_tick_counts() -> None:
    scenarios = mixed()[:3]
    rows = list(iter_batch(scenarios, [5, 9, 1]))
    assert len(rows) == 9
    assert [sum(1 for row in rows if row[b] is not None) for b in range(3)] == [5, 9, 1]
    traces = run_batch(scenarios, [5, 9, 1])
    assert [len(t) for t in traces] == [5, 9, 1]
    assert traces[1] == run(scenarios[1], 9)


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_summaries_equal_single_summaries(backend: str) -> None:
    scenarios = [sweep_scenario(c) for c in range(100, 1001, 90)] + mixed()
    ticks = [500] * (len(scenarios) - 6) + [150, 200, 250, 300, 350, 400]
    for version in active_versions():
        got = summarize_batch(scenarios, ticks, version, backend=backend)
        want = [
            summarize(run(s, n, version, backend="reference"))
            for s, n in zip(scenarios, ticks, strict=True)
        ]
        assert got == want


def test_bad_batches() -> None:
    with pytest.raises(ValueError):
        run_batch([], 10)
    with pytest.raises(ValueError):
        run_batch([sweep_scenario(100)], [10, 20])
    with pytest.raises(ValueError):
        run_batch([sweep_scenario(100)], 0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scenario_strategy(), min_size=1, max_size=5), st.sampled_from(active_versions()))
def test_batch_equals_single_generated(scenarios: list[dict[str, Any]], version: str) -> None:
    batch = run_batch(scenarios, 45, version, backend="reference")
    for scenario, trace in zip(scenarios, batch, strict=True):
        single = run(scenario, 45, version, backend="reference")
        assert canonical_trace_bytes(trace) == canonical_trace_bytes(single)
