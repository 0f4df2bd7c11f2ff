"""kairos.sweep: the same rows on every execution path, thresholds, samples and the result API.

The three paths (the local engine batch, Dask workers in other processes, a real reference
server through ``KairosClient.arun``) run the documentation's capability sweep on one pinned
engine version and must agree bit for bit (floats compared by their hex form), with each other
and with lone ``engine.run`` runs summarized one by one.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import EngineVersionError, ValidationError
from kairos.server import ServerConfig, ServerThread
from kairos.sweep import (
    SweepResult,
    SweepRow,
    find_threshold,
    integers,
    summarize_chunk,
    sweep,
    uniform,
)

PINNED = "1.4.4"  # not the default: proves the pin reaches every path
TICKS = 500
CAPABILITIES = range(100, 1001, 18)
GRID_FLIP = (316, 334)  # the spec sweep's grid interval where basin losses start


def spec_build(capability: int) -> AISafetyScenario:
    """The scenario of the documentation's async capability sweep (kairos-api.md section 2)."""
    return model_build(capability, seed=capability)


def model_build(capability: float, alignment: float = 70, seed: int = 42) -> AISafetyScenario:
    """The spec sweep's model with any capability (also fractional), alignment and seed."""
    return (
        AISafetyScenario(f"sweep_{capability}", seed=seed)
        .add_model(
            name="model",
            capability_index=capability,
            alignment_score=alignment,
            guardrail_coverage=60,
        )
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def pair_build(capability: float, seed: int) -> dict[str, Any]:
    """Two unaligned models and a slow oversight body: paradoxes (ghost branches), several
    basin losses and phase changes, returned as a wire dict."""
    return {
        "name": f"pair_{capability}_{seed}",
        "seed": seed,
        "models": [
            {"name": "a", "capabilityIndex": capability, "alignmentScore": 10},
            {"name": "b", "capabilityIndex": 900, "alignmentScore": 5, "guardrailCoverage": 0},
        ],
        "oversightBodies": [{"name": "board", "guardrailStrength": 40, "responseLatency": 80}],
        "events": [{"tick": 20, "type": "oversight_lapse"}],
    }


def bits(row: SweepRow) -> tuple[Any, ...]:
    """Every field of a row, floats by their exact bits."""
    return tuple(
        value.hex() if isinstance(value, float) else value
        for value in (
            sorted(row.params.items()),
            *(row[name] for name in ("scenario", "seed", "engine_version", "ticks")),
            row.final_phase,
            row.mean_stability,
            row.min_stability,
            row.phase_transitions,
            row.basin_losses,
            row.ghost_branches,
            row.first_basin_loss_tick,
        )
    )


def lone_run_row(build_result: Any, version: str, ticks: int) -> tuple[Any, ...]:
    """What one scalar ``engine.run`` says about a scenario, in ``bits`` order (no params)."""
    wire = build_result.to_wire() if isinstance(build_result, AISafetyScenario) else build_result
    steps = engine.run(wire, ticks, version)
    summary = engine.summarize(steps)
    losses = engine.basin_losses(steps)
    return (
        summary["finalPhase"],
        summary["meanStability"].hex(),
        summary["minStability"].hex(),
        summary["phaseTransitions"],
        summary["basinLosses"],
        summary["ghostBranches"],
        losses[0]["tick"] if losses else None,
    )


# -- fixtures: one Dask cluster and one server for the module ------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def kairos_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosClient]:
    db = Path(tmp_path_factory.mktemp("sweep-server")) / "kairos.db"
    server = ServerThread(ServerConfig(db_path=db, port=0, workers=2, rate_limit=None))
    server.start()
    client = KairosClient(url=server.url)
    yield client
    client.close()
    server.stop()


@pytest.fixture(scope="module")
def local_result() -> SweepResult:
    return sweep(spec_build, {"capability": CAPABILITIES}, ticks=TICKS, engine_version=PINNED)


# -- the three paths -------------------------------------------------------------------------------


def test_local_rows_equal_lone_engine_runs(local_result: SweepResult) -> None:
    assert local_result.path == "local" and local_result.engine_version == PINNED
    assert [row.params["capability"] for row in local_result] == list(CAPABILITIES)
    for row in local_result:
        assert bits(row)[5:] == lone_run_row(spec_build(row.params["capability"]), PINNED, TICKS)


def test_dask_rows_are_bit_identical_to_local(dask_client: Any, local_result: SweepResult) -> None:
    result = sweep(
        spec_build,
        {"capability": CAPABILITIES},
        ticks=TICKS,
        engine_version=PINNED,
        executor=dask_client,
    )
    assert result.path == "dask"
    assert [bits(row) for row in result] == [bits(row) for row in local_result]


def test_server_rows_are_bit_identical_to_local(
    kairos_client: KairosClient, local_result: SweepResult
) -> None:
    result = sweep(
        spec_build,
        {"capability": CAPABILITIES},
        ticks=TICKS,
        engine_version=PINNED,
        client=kairos_client,
        concurrency=8,
    )
    assert result.path == "server"
    assert [bits(row) for row in result] == [bits(row) for row in local_result]
    # The server's own stored summaries (simulation.get/list) say the same.
    stored = {
        sim.scenario_name: sim.summary
        for sim in kairos_client.simulation.list(limit=200).items
        if sim.engine_version == PINNED and sim.summary is not None
    }
    for row in local_result:
        summary = stored[row.scenario]
        assert summary.mean_stability.hex() == row.mean_stability.hex()
        assert summary.min_stability.hex() == row.min_stability.hex()
        assert (summary.final_phase, summary.basin_losses) == (row.final_phase, row.basin_losses)


def test_paths_agree_on_multi_model_scenarios_with_ghosts_and_losses(
    dask_client: Any, kairos_client: KairosClient
) -> None:
    grid = {"capability": [50.5, 400, 999.25], "seed": [0, 3, 11]}
    results = [
        sweep(pair_build, grid, ticks=120, engine_version=PINNED, **where)
        for where in ({}, {"executor": dask_client}, {"client": kairos_client})
    ]
    local = [bits(row) for row in results[0]]
    assert sum(row.ghost_branches for row in results[0]) > 0
    assert any(row.basin_losses >= 2 for row in results[0])
    assert [bits(row) for row in results[1]] == local
    assert [bits(row) for row in results[2]] == local
    for row in results[0]:
        assert bits(row)[5:] == lone_run_row(pair_build(**row.params), PINNED, 120)


def test_unpinned_sweeps_record_the_version_they_resolved(kairos_client: KairosClient) -> None:
    local = sweep(spec_build, {"capability": [500]}, ticks=150)
    assert local.engine_version == engine.DEFAULT_VERSION
    assert local[0].engine_version == engine.DEFAULT_VERSION
    remote = sweep(spec_build, {"capability": [500]}, ticks=150, client=kairos_client)
    assert remote.engine_version == kairos_client.engine.versions().default
    assert bits(remote[0]) == bits(local[0])


def test_an_unknown_version_raises_the_same_error_on_every_path(
    kairos_client: KairosClient,
) -> None:
    for where in ({}, {"client": kairos_client}):
        with pytest.raises(EngineVersionError) as caught:
            sweep(spec_build, {"capability": [500]}, ticks=150, engine_version="1.3.2", **where)
        assert caught.value.requested == "1.3.2"
        assert PINNED in caught.value.available


# -- the worker function ---------------------------------------------------------------------------


def test_summarize_chunk_is_summarize_batch_plus_the_first_loss_tick() -> None:
    wires = [pair_build(c, s) for c in (50.5, 700) for s in (1, 2)]
    wires += [spec_build(c).to_wire() for c in (300, 330, 900)]
    for version in engine.active_versions():
        chunk = summarize_chunk(wires, 150, version)
        reference = engine.summarize_batch(wires, 150, version)
        assert [{k: v for k, v in s.items() if k != "firstBasinLossTick"} for s in chunk] == (
            reference
        )
        firsts = [
            next((loss["tick"] for loss in engine.basin_losses(engine.run(w, 150, version))), None)
            for w in wires
        ]
        assert [s["firstBasinLossTick"] for s in chunk] == firsts
        assert any(firsts) and None in firsts


# -- thresholds ------------------------------------------------------------------------------------


def test_the_capability_sweep_shows_the_threshold(local_result: SweepResult) -> None:
    found = local_result.threshold("capability")
    assert found is not None
    assert (found.low, found.high, found.below, found.above) == (*GRID_FLIP, False, True)
    assert found.flips == 1 and found.value == sum(GRID_FLIP) / 2
    below = [row for row in local_result if row.params["capability"] <= GRID_FLIP[0]]
    assert all(row.final_phase == "resonant" and row.basin_losses == 0 for row in below)
    assert all(row.first_basin_loss_tick is None for row in below)
    above = [row for row in local_result if row.params["capability"] >= GRID_FLIP[1]]
    assert all(row.basin_losses > 0 and row.first_basin_loss_tick for row in above)


def test_find_threshold_lands_inside_the_grid_flip_interval() -> None:
    search = find_threshold(
        model_build, "capability", 100, 1000, ticks=TICKS, engine_version=PINNED
    )
    assert GRID_FLIP[0] < search.value < GRID_FLIP[1]
    assert search.converged and search.high - search.low <= 0.9
    assert (search.below, search.above) == (False, True)
    assert search.engine_version == PINNED
    assert [row.params["capability"] for row in search.evaluations[:3]] == [100.0, 1000.0, 550.0]
    assert search.evaluations[0].basin_losses == 0 and search.evaluations[1].basin_losses > 0


def test_find_threshold_gives_the_same_answer_on_every_path(
    dask_client: Any, kairos_client: KairosClient
) -> None:
    searches = [
        find_threshold(
            spec_build,
            "capability",
            100,
            1000,
            ticks=TICKS,
            integer=True,
            points_per_round=3,
            engine_version=PINNED,
            **where,
        )
        for where in ({}, {"executor": dask_client}, {"client": kairos_client})
    ]
    local = searches[0]
    assert GRID_FLIP[0] < local.value <= GRID_FLIP[1] and local.high - local.low == 1
    assert local.value == local.high and local.converged
    for other in searches[1:]:
        assert (other.value, other.low, other.high) == (local.value, local.low, local.high)
        assert [bits(r) for r in other.evaluations] == [bits(r) for r in local.evaluations]


def test_find_threshold_refuses_a_bracket_without_a_flip() -> None:
    with pytest.raises(ValidationError, match="do not bracket a threshold") as caught:
        find_threshold(spec_build, "capability", 400, 1000, ticks=TICKS, integer=True)
    assert "basin_losses=1" in str(caught.value)


def test_find_threshold_reports_running_out_of_evaluations() -> None:
    search = find_threshold(
        spec_build, "capability", 100, 1000, ticks=TICKS, integer=True, max_evaluations=5
    )
    assert len(search.evaluations) == 5 and not search.converged
    assert search.low < search.value <= search.high


def test_thresholds_per_line_of_a_two_parameter_grid() -> None:
    result = sweep(
        model_build,
        {"alignment": [60, 80], "capability": range(100, 1001, 100)},
        ticks=300,
    )
    lines = result.thresholds("capability")
    assert [line.fixed for line in lines] == [{"alignment": 60}, {"alignment": 80}]
    assert lines[0].high <= lines[1].high  # better alignment holds out longer
    with pytest.raises(ValidationError, match="thresholds"):
        result.threshold("capability")
    with pytest.raises(ValidationError, match="not a swept parameter"):
        result.thresholds("seed")


# -- points: grids, samples, explicit points -------------------------------------------------------


def test_a_monte_carlo_sample_is_reproducible_and_recorded() -> None:
    samplers = {"capability": uniform(100, 1000), "seed": integers(0, 2**31)}
    first = sweep(pair_build, samplers, samples=6, seed=7, ticks=80)
    again = sweep(pair_build, samplers, samples=6, seed=7, ticks=80)
    other = sweep(pair_build, samplers, samples=6, seed=8, ticks=80)
    assert [bits(r) for r in first] == [bits(r) for r in again]
    assert first.points() != other.points()
    assert first.sample_seed == 7
    assert all(100 <= p["capability"] < 1000 and 0 <= p["seed"] <= 2**31 for p in first.points())
    assert [row.seed for row in first] == [p["seed"] for p in first.points()]
    replay = sweep(pair_build, first.points(), ticks=80)
    assert [bits(r) for r in replay] == [bits(r) for r in first]


def test_samplers_may_be_sequences_or_distributions() -> None:
    class Fixed:
        def rvs(self, random_state: Any) -> float:
            return float(random_state.uniform(300, 301))

    result = sweep(
        pair_build, {"capability": Fixed(), "seed": [1, 2, 3]}, samples=5, ticks=30, seed=1
    )
    assert all(300 <= p["capability"] < 301 and p["seed"] in (1, 2, 3) for p in result.points())


def test_grid_order_is_the_cartesian_product_with_the_last_parameter_fastest() -> None:
    result = sweep(pair_build, {"capability": [100, 200], "seed": [5, 6]}, ticks=30)
    assert result.points() == [
        {"capability": 100, "seed": 5},
        {"capability": 100, "seed": 6},
        {"capability": 200, "seed": 5},
        {"capability": 200, "seed": 6},
    ]
    assert result.parameters == ("capability", "seed")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"grid": {"capability": [1001]}}, ValidationError, r"build\(capability=1001\)"),
        ({"grid": {"capability": 500}}, ValidationError, "iterable of values"),
        ({"grid": {"basin_losses": [1]}}, ValidationError, "clash with result columns"),
        ({"grid": None}, ValidationError, "needs grid="),
        ({"grid": {"capability": [500]}, "samples": 0}, ValidationError, "positive integer"),
        ({"grid": {"capability": [500]}, "ticks": 0}, ValidationError, "ticks"),
        (
            {"grid": {"capability": [500]}, "ticks": 50, "concurrency": 0},
            ValidationError,
            "concurr",
        ),
        ({"grid": {"capability": [500]}, "ticks": 99}, ValidationError, "after the run's last"),
    ],
)
def test_bad_sweeps_fail_before_running(kwargs: dict[str, Any], error: type, match: str) -> None:
    kwargs.setdefault("ticks", TICKS)
    with pytest.raises(error, match=match):
        sweep(spec_build, **kwargs)


def test_a_seed_parameter_must_be_the_scenarios_seed() -> None:
    with pytest.raises(ValidationError, match="must be the scenario's seed"):
        sweep(lambda seed: pair_build(100, seed + 1), {"seed": [1]}, ticks=30)


def test_client_and_executor_are_exclusive(dask_client: Any, kairos_client: KairosClient) -> None:
    with pytest.raises(ValidationError, match="not both"):
        sweep(
            spec_build, [{"capability": 500}], ticks=10, client=kairos_client, executor=dask_client
        )
    with pytest.raises(ValidationError, match=r"dask\.distributed\.Client"):
        sweep(spec_build, [{"capability": 500}], ticks=200, executor=object())  # type: ignore[arg-type]


# -- the result ------------------------------------------------------------------------------------


def test_to_pandas_has_parameters_then_results(local_result: SweepResult) -> None:
    frame = local_result.to_pandas()
    assert list(frame.columns) == [
        "capability",
        "scenario",
        "seed",
        "engine_version",
        "ticks",
        "final_phase",
        "mean_stability",
        "min_stability",
        "phase_transitions",
        "basin_losses",
        "ghost_branches",
        "first_basin_loss_tick",
    ]
    assert len(frame) == len(CAPABILITIES)
    assert str(frame["first_basin_loss_tick"].dtype) == "Int64"
    assert frame["first_basin_loss_tick"].isna().sum() == 13
    assert [v.hex() for v in frame["mean_stability"]] == [
        r.mean_stability.hex() for r in local_result
    ]
    assert frame.attrs["engine_version"] == PINNED


def test_to_pandas_names_the_extra_when_pandas_is_missing(
    local_result: SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"kairos-sdk\[dataframe\]"):
        local_result.to_pandas()


def test_html_view_is_a_readable_table(local_result: SweepResult) -> None:
    view = local_result._repr_html_()
    assert view.startswith("<table><caption>Sweep of 51 runs over capability; engine 1.4.4")
    assert "38 with basin losses" in view
    assert view.count("<tr>") == 1 + 20 + 1  # header, first and last ten rows, the ellipsis
    assert "&#8942;" in view and "<th>first_basin_loss_tick</th>" in view
    assert "<td>100</td>" in view and "<td>1000</td>" in view and "<td>370</td>" not in view
    assert repr(local_result).startswith("SweepResult(51 rows, parameters=['capability']")


def test_rows_read_by_name_and_flatten(local_result: SweepResult) -> None:
    row = local_result[0]
    assert row["capability"] == 100 and row["final_phase"] == "resonant"
    assert row.to_dict()["capability"] == 100
    with pytest.raises(KeyError, match="columns: capability"):
        row["alignment"]
    assert math.isfinite(row.mean_stability)


def test_progress_is_quiet_off_a_terminal_and_shown_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sweep(spec_build, {"capability": [200, 300]}, ticks=120)
    assert capsys.readouterr().err == ""
    sweep(spec_build, {"capability": [200, 300]}, ticks=120, progress=True)
    err = capsys.readouterr().err
    assert "sweep (2 runs)" in err and "240/240" in err  # the bar counts ticks


async def test_a_blocking_server_sweep_works_inside_a_running_loop(
    kairos_client: KairosClient,
) -> None:
    """As in a notebook cell, whose event loop is already running."""
    result = sweep(spec_build, {"capability": [300, 400]}, ticks=150, client=kairos_client)
    assert [row.basin_losses > 0 for row in result] == [False, True]


def test_kairos_sweep_is_callable_as_the_documentation_writes_it() -> None:
    import kairos.sweep

    def build(capability: int) -> AISafetyScenario:
        return AISafetyScenario("callable", seed=1).add_model(
            name="m", capability_index=capability, alignment_score=70
        )

    via_module = kairos.sweep(build, {"capability": [100, 900]}, ticks=50, progress=False)
    via_function = kairos.sweep.sweep(build, {"capability": [100, 900]}, ticks=50, progress=False)
    assert via_module.rows == via_function.rows
    assert kairos.sweep.find_threshold is not None
