"""Monte Carlo sweeps over seeds, the tick limit of in-process sweeps, their progress, and every
mistake in a sweep's arguments as a ValidationError naming the argument."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from kairos.errors import KairosError, ValidationError
from kairos.sweep import ThresholdSpread, find_threshold, summarize_chunk, sweep
from kairos.sweep._chunk import PROGRESS_TICKS

from .test_sweep import model_build

CAPABILITIES = range(100, 1001, 100)
SEEDS = [0, 1, 2, 3]
TICKS = 200


def seeded_build(capability: float, seed: int) -> Any:
    return model_build(capability, seed=seed)


@pytest.fixture(scope="module")
def monte_carlo() -> Any:
    return sweep(seeded_build, {"capability": CAPABILITIES, "seed": SEEDS}, ticks=TICKS)


def test_threshold_of_a_seed_sweep_explains_itself(monte_carlo: Any) -> None:
    with pytest.raises(ValidationError) as info:
        monte_carlo.threshold("capability")
    assert isinstance(info.value, KairosError)
    assert "4 seeds" in str(info.value)
    assert "threshold_spread('capability')" in str(info.value)


def test_threshold_spread_is_each_seeds_threshold(monte_carlo: Any) -> None:
    spread = monte_carlo.threshold_spread("capability")
    assert isinstance(spread, ThresholdSpread)
    assert list(spread.by_seed) == SEEDS
    for seed in SEEDS:
        alone = sweep(seeded_build, {"capability": CAPABILITIES, "seed": [seed]}, ticks=TICKS)
        assert spread.by_seed[seed] == alone.threshold("capability")
    values = [t.value for t in spread.by_seed.values() if t is not None]
    assert values, "the grid brackets the threshold"
    assert spread.values == values
    assert spread.mean == statistics.fmean(values)
    assert spread.std == (statistics.stdev(values) if len(values) > 1 else 0.0)
    assert (spread.min, spread.max) == (min(values), max(values))
    assert "seeds" in repr(spread)


def test_seeds_without_a_flip_are_listed_apart() -> None:
    result = sweep(seeded_build, {"capability": [100, 200], "seed": [0, 1]}, ticks=TICKS)
    spread = result.threshold_spread("capability")
    assert spread.by_seed == {0: None, 1: None}
    assert spread.without == [0, 1]
    assert (spread.mean, spread.std, spread.min, spread.max) == (None, None, None, None)


def test_threshold_spread_refuses_other_parameters() -> None:
    result = sweep(
        lambda capability, alignment, seed: model_build(capability, alignment, seed),
        {"capability": [300, 400], "alignment": [60, 80], "seed": [0, 1]},
        ticks=TICKS,
    )
    with pytest.raises(ValidationError, match="also varies alignment"):
        result.threshold_spread("capability")
    with pytest.raises(ValidationError, match="not a swept parameter"):
        result.threshold_spread("guardrail")


# -- the tick limit ----------------------------------------------------------------------------


def test_a_sweep_far_beyond_the_limit_fails_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        sweep(seeded_build, {"capability": [300], "seed": [0]}, ticks=10**12)
    assert [issue.path for issue in info.value.issues] == ["ticks"]
    assert "max_ticks" in str(info.value)


def test_the_limit_is_the_servers_and_can_be_lifted() -> None:
    from kairos.engine import DEFAULT_MAX_TICKS
    from kairos.server import ServerConfig

    assert ServerConfig(api_keys={}).max_ticks == DEFAULT_MAX_TICKS
    grid = {"capability": [300], "seed": [0]}
    with pytest.raises(ValidationError, match="more than the limit of 150"):
        sweep(seeded_build, grid, ticks=TICKS, max_ticks=150)
    assert len(sweep(seeded_build, grid, ticks=TICKS, max_ticks=TICKS)) == 1
    assert len(sweep(seeded_build, grid, ticks=TICKS, max_ticks=None)) == 1
    with pytest.raises(ValidationError, match="more than the limit"):
        find_threshold(seeded_build, "capability", 100, 1000, ticks=TICKS, max_ticks=10)


# -- progress ------------------------------------------------------------------------------------


def test_progress_moves_inside_one_batch() -> None:
    scenarios = [model_build(c).to_wire() for c in (300, 500)]
    reports: list[int] = []
    from kairos import engine

    version = engine.DEFAULT_VERSION
    ticks = 2 * PROGRESS_TICKS + 50
    with_progress = summarize_chunk(scenarios, ticks, version, reports.append)
    assert reports == [PROGRESS_TICKS, PROGRESS_TICKS, 50]
    assert with_progress == summarize_chunk(scenarios, ticks, version)


def test_the_progress_bar_counts_ticks(capsys: pytest.CaptureFixture[str]) -> None:
    sweep(seeded_build, {"capability": [300, 500], "seed": [0]}, ticks=TICKS, progress=True)
    err = capsys.readouterr().err
    assert "sweep (2 runs)" in err
    assert f"{2 * TICKS}/{2 * TICKS}" in err and "tick" in err


def test_no_bar_when_not_asked(capsys: pytest.CaptureFixture[str]) -> None:
    sweep(seeded_build, {"capability": [300], "seed": [0]}, ticks=TICKS, progress=False)
    assert capsys.readouterr().err == ""


# -- mistakes ---------------------------------------------------------------------------------

GRID = {"capability": [300], "seed": [0]}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ticks": 0}, "ticks"),
        ({"ticks": "200"}, "ticks"),
        ({"ticks": None}, "ticks"),
        ({"ticks": 10.5}, "ticks"),
        ({"max_ticks": 0}, "max_ticks"),
        ({"build": "scenario.json"}, "build"),
        ({"grid": None}, "grid"),
        ({"grid": {"capability": 300}}, "grid['capability']"),
        ({"grid": [{"capability": 1}, {"alignment": 2}]}, "grid[1]"),
        ({"grid": {"capability": []}}, "grid"),
        ({"grid": {"capability": [1], "final_phase": [1]}}, "grid"),
        ({"samples": 0}, "samples"),
        ({"samples": 3, "grid": {"capability": 5}}, "grid['capability']"),
        ({"samples": 3, "grid": None}, "grid"),
        ({"seed": -1}, "seed"),
        ({"seed": "x"}, "seed"),
        ({"progress": "yes"}, "progress"),
        ({"batch_size": 0}, "batch_size"),
        ({"concurrency": "8"}, "concurrency"),
        ({"engine_version": 1.4}, "engine_version"),
        ({"client": object()}, "client"),
        ({"executor": "tcp://127.0.0.1:8786"}, "executor"),
    ],
)
def test_sweep_names_the_bad_argument(kwargs: dict[str, Any], name: str) -> None:
    call: dict[str, Any] = {"build": seeded_build, "grid": GRID, "ticks": TICKS}
    call.update(kwargs)
    with pytest.raises(ValidationError) as info:
        sweep(call.pop("build"), **call)
    assert [issue.path for issue in info.value.issues] == [name], info.value


def test_a_build_that_returns_no_scenario_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        sweep(lambda capability: "not a scenario", {"capability": [1]}, ticks=TICKS)
    assert info.value.issues[0].path == "build"
    assert "returned 'not a scenario' (str)" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"low": 500, "high": 100}, "high"),
        ({"low": "a"}, "low"),
        ({"integer": True, "low": 100.5}, "low"),
        ({"tolerance": 0}, "tolerance"),
        ({"max_evaluations": 1}, "max_evaluations"),
        ({"points_per_round": 0}, "points_per_round"),
        ({"ticks": -5}, "ticks"),
    ],
)
def test_find_threshold_names_the_bad_argument(kwargs: dict[str, Any], name: str) -> None:
    call: dict[str, Any] = {"low": 100, "high": 1000, "ticks": TICKS}
    call.update(kwargs)
    with pytest.raises(ValidationError) as info:
        find_threshold(model_build, "capability", **call)
    assert [issue.path for issue in info.value.issues] == [name], info.value


@pytest.mark.parametrize("low, high", [(0, 1), (0.5, 1.5)])
def test_samplers_check_their_arguments(low: float, high: float) -> None:
    from kairos.sweep import choice, loguniform

    with pytest.raises(ValidationError, match="low"):
        loguniform(low - 1, high)
    with pytest.raises(ValidationError, match="values"):
        choice([])
