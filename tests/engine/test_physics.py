"""The properties the engine's physics must show (docs/engine.md, "Properties")."""

from __future__ import annotations

from typing import Any

import pytest

from kairos.engine import (
    PARADOX_THRESHOLD,
    basin_losses,
    ghost_branches,
    run,
    summarize,
    summarize_batch,
)

from .scenarios import paradox_scenario, rich_scenario, sweep_scenario

CAPABILITIES = list(range(100, 1001, 18))


def first_loss_capability(summaries: list[dict[str, Any]]) -> int:
    """The lowest capability of the sweep whose run lost its basin."""
    return next(c for c, s in zip(CAPABILITIES, summaries, strict=True) if s["basinLosses"])


def sweep(**kwargs: Any) -> list[dict[str, Any]]:
    return summarize_batch([sweep_scenario(c, **kwargs) for c in CAPABILITIES], 500)


def test_capability_sweep_has_a_threshold() -> None:
    summaries = sweep()
    threshold = first_loss_capability(summaries)
    assert 200 < threshold < 900, threshold
    for capability, summary in zip(CAPABILITIES, summaries, strict=True):
        if capability < threshold:
            assert summary["finalPhase"] == "resonant", (capability, summary)
            assert summary["basinLosses"] == 0
        else:
            assert summary["finalPhase"] in ("volatile", "stagnant"), (capability, summary)
            assert summary["basinLosses"] == 1
    # Low capability is resonant from start to end; beyond the threshold stability collapses.
    assert summaries[0]["phaseTransitions"] == 0
    assert summaries[-1]["minStability"] < 0.1


@pytest.mark.parametrize(
    "stronger",
    [
        {"alignment": 90},
        {"oversight_freq": 100},
        {"body": {"name": "board", "guardrailStrength": 60, "responseLatency": 20}},
    ],
    ids=["alignment", "human-oversight", "oversight-body"],
)
def test_threshold_moves_up_with_buffer(stronger: dict[str, Any]) -> None:
    assert first_loss_capability(sweep(**stronger)) > first_loss_capability(sweep())


def test_slow_oversight_cannot_compensate_a_shock() -> None:
    """A fast body re-adapts within the tick; a slow one lags and the model erodes meanwhile."""

    def scenario(capability: int, latency: float) -> dict[str, Any]:
        sc = sweep_scenario(
            capability, body={"name": "board", "guardrailStrength": 80, "responseLatency": latency}
        )
        sc["events"][0]["magnitude"] = 1.0
        return sc

    caps = list(range(250, 400, 4))
    thresholds = []
    for latency in (0, 100):
        summaries = summarize_batch([scenario(c, latency) for c in caps], 400)
        thresholds.append(next(c for c, s in zip(caps, summaries, strict=True) if s["basinLosses"]))
    fast, slow = thresholds
    assert slow < fast
    steps = run(scenario(300, 100), 400)
    strength = [s["oversight"]["board"]["effectiveStrength"] for s in steps]
    assert strength[98] == pytest.approx(80.0)  # adapted before the jump
    assert strength[99] < 45.0  # the jump outruns the body's perception
    # ... and it catches up with time constant 50 ticks: 1 - 1/e of the way after 50 ticks.
    assert 60.0 < strength[149] < 70.0
    assert 79.0 < strength[399] <= 80.0
    fast_steps = run(scenario(300, 0), 101)
    assert fast_steps[100]["oversight"]["board"]["effectiveStrength"] == 80.0


def test_basin_loss_is_irreversible() -> None:
    """Removing the pressure after a loss (total containment) does not restore resonance."""
    scenario = sweep_scenario(600)
    scenario["events"].append(
        {"tick": 200, "type": "containment", "target": "model", "magnitude": 1.0}
    )
    steps = run(scenario, 600)
    losses = basin_losses(steps)
    assert len(losses) == 1 and losses[0]["tick"] < 200
    assert steps[199]["agents"]["model"]["lambda"] == 0.0  # the pressure is gone
    after = [s for s in steps if s["t"] > losses[0]["tick"]]
    assert all(s["phase"] != "resonant" for s in after)
    assert all(s["agents"]["model"]["basinLost"] for s in after)
    reserve_proxy = [s["agents"]["model"]["gamma"] for s in after]
    assert reserve_proxy[-1] <= reserve_proxy[0]  # the buffer keeps collapsing


def test_the_same_relief_before_a_loss_keeps_the_system_resonant() -> None:
    """Contrast for irreversibility: containing the jump at once keeps the basin."""
    scenario = sweep_scenario(400)
    scenario["events"].append(
        {"tick": 100, "type": "containment", "target": "model", "magnitude": 0.5}
    )
    steps = run(scenario, 500)
    assert basin_losses(steps) == []
    assert steps[-1]["phase"] == "resonant"


def test_containment_of_a_lost_contained_system_with_oversight_is_stagnant() -> None:
    scenario = sweep_scenario(
        600, body={"name": "board", "guardrailStrength": 90, "responseLatency": 0}
    )
    scenario["models"][0]["alignmentScore"] = 20
    scenario["events"].append({"tick": 300, "type": "containment", "magnitude": 1.0})
    steps = run(scenario, 500)
    assert basin_losses(steps)
    assert steps[-1]["phase"] == "stagnant"


def test_overwhelming_buffer_is_stagnant_and_hysteresis_holds() -> None:
    tool = {
        "name": "tool",
        "seed": 1,
        "models": [{"name": "m", "capabilityIndex": 1, "alignmentScore": 100, "autonomyLevel": 0}],
    }
    steps = run(tool, 50)
    assert {s["phase"] for s in steps} == {"stagnant"}
    assert summarize(steps)["phaseTransitions"] == 0


def test_phase_transitions_do_not_flicker() -> None:
    """Near the threshold the reserve is noisy; hysteresis keeps transitions few."""
    for capability in range(300, 360, 6):
        summary = summarize(run(sweep_scenario(capability), 2000))
        assert summary["phaseTransitions"] <= 3, (capability, summary)


def test_ghost_branches_are_paradoxes_retried_under_a_decree() -> None:
    steps = run(paradox_scenario(), 400)
    nominal = {"a": 10.0, "b": 8.0}  # capability / 100 at autonomy 5
    ghosts = ghost_branches(steps)
    assert 5 < len(ghosts) < 80  # collisions happen on 1 tick in 16
    for ghost in ghosts:
        assert ghost["score"] < PARADOX_THRESHOLD
        assert ghost["agents"] == ["a", "b"]
        assert ghost["decree"] in ("yield:a", "yield:b")
        step = steps[ghost["tick"] - 1]
        yielder = ghost["decree"].removeprefix("yield:")
        other = "b" if yielder == "a" else "a"
        # The retried tick runs the yielding model at half its nominal pressure.
        assert step["agents"][yielder]["lambda"] == nominal[yielder] * 0.5
        assert step["agents"][other]["lambda"] == nominal[other]
    plain = [s for s in steps if s["ghost"] is None]
    assert all(s["agents"][k]["lambda"] == nominal[k] for s in plain for k in nominal)


def test_a_single_model_never_makes_a_paradox() -> None:
    scenario = paradox_scenario()
    scenario["models"] = scenario["models"][:1]
    assert ghost_branches(run(scenario, 300)) == []


def test_buffered_models_collide_without_paradox() -> None:
    scenario = rich_scenario()
    scenario["events"] = []
    assert ghost_branches(run(scenario, 300)) == []


def test_ticks_semantics_and_ranges() -> None:
    steps = run(rich_scenario(), 40)
    assert [s["t"] for s in steps] == list(range(1, 41))
    for step in steps:
        assert 0.0 <= step["stability"] <= 1.0
        for agent in step["agents"].values():
            assert 0.0 <= agent["stability"] <= 1.0
            assert agent["gamma"] >= 0 and agent["lambda"] >= 0 and agent["load"] >= 0
        for body in step["oversight"].values():
            assert 0.0 <= body["effectiveStrength"] <= 100.0
    by_tick = {s["t"]: [e["type"] for e in s["events"]] for s in steps}
    assert by_tick[12] == ["guardrail_breach", "guardrail_breach"]
    assert by_tick[18] == ["oversight_lapse"]
    # Resolved magnitude: the default of alignment_drift is -10.
    assert steps[7]["events"] == [
        {"tick": 8, "type": "alignment_drift", "target": "Model_A", "magnitude": -10.0}
    ]
    # Step 5 is the state after tick 5: the jump is already in it.
    assert steps[3]["agents"]["Model_B"]["capabilityIndex"] == 300.0
    assert steps[4]["agents"]["Model_B"]["capabilityIndex"] == 450.0


def test_single_agent_stability_is_its_own_ratio() -> None:
    step = run(sweep_scenario(100), 1)[0]
    agent = step["agents"]["model"]
    ratio = agent["gamma"] / agent["lambda"]
    assert step["stability"] == pytest.approx(ratio / (1 + ratio), rel=1e-6)
    assert agent["cumulativeStability"] == pytest.approx(ratio, rel=1e-6)


def test_cumulative_stability_adds_every_pair_score() -> None:
    steps = run(rich_scenario(), 3)
    names = ["Model_A", "Model_B", "Model_C"]
    first = steps[0]["agents"]
    a = first["Model_A"]
    expected = 0.0
    for other in names[1:]:
        b = first[other]
        expected += (a["gamma"] + b["gamma"]) / (a["lambda"] + b["lambda"] + 1e-6)
    assert a["cumulativeStability"] == pytest.approx(expected, rel=1e-12)
