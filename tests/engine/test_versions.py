"""Engine versions are data: two active versions that really differ, retired ones refused."""

from __future__ import annotations

import pytest

from kairos.engine import (
    DEFAULT_VERSION,
    EngineVersionError,
    Simulation,
    active_versions,
    engine_versions,
    resolve_version,
    run,
    run_batch,
)

from .scenarios import sweep_scenario


def test_versions_table() -> None:
    info = engine_versions()
    assert info["default"] == DEFAULT_VERSION == "1.5.0"
    assert (
        [v["version"] for v in info["active"]]
        == active_versions()
        == [
            "1.6.0",  # opt-in: prophecies and warnings (issue 15); 1.5.0 stays the default
            "1.5.0",
            "1.4.4",
        ]
    )
    assert [v["version"] for v in info["retired"]] == ["1.4.0", "1.3.2"]
    for record in info["active"] + info["retired"]:
        assert record["notes"] and record["released"]
    dates = [v["released"] for v in info["active"] + info["retired"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("requested", ["1.4.0", "1.3.2", "9.9.9", "latest"])
def test_retired_and_unknown_versions_are_refused(requested: str) -> None:
    with pytest.raises(EngineVersionError) as info:
        resolve_version(requested)
    assert info.value.requested == requested
    assert info.value.active == ["1.6.0", "1.5.0", "1.4.4"]
    assert info.value.retired == (requested in ("1.4.0", "1.3.2"))
    assert "1.6.0, 1.5.0, 1.4.4" in str(info.value)
    with pytest.raises(EngineVersionError):
        run(sweep_scenario(100), 5, requested)
    with pytest.raises(EngineVersionError):
        run_batch([sweep_scenario(100)], 5, requested)
    with pytest.raises(EngineVersionError):
        Simulation(sweep_scenario(100), requested)


def test_default_version_is_used_when_none_is_named() -> None:
    assert run(sweep_scenario(300), 50) == run(sweep_scenario(300), 50, DEFAULT_VERSION)
    assert Simulation(sweep_scenario(300)).engine_version == DEFAULT_VERSION


def test_versions_differ_numerically_in_the_reserve_integration() -> None:
    """Same inputs, same pressure; the integrator changes Gamma (via the reserve) and, near
    the threshold, the outcome."""
    old = run(sweep_scenario(352), 500, "1.4.4")
    new = run(sweep_scenario(352), 500, "1.5.0")
    assert [s["agents"]["model"]["lambda"] for s in old] == (
        [s["agents"]["model"]["lambda"] for s in new]
    )
    old_gamma = [s["agents"]["model"]["gamma"] for s in old]
    new_gamma = [s["agents"]["model"]["gamma"] for s in new]
    assert old_gamma != new_gamma
    loss_old = next(s["t"] for s in old if s["losses"])
    loss_new = next(s["t"] for s in new if s["losses"])
    assert loss_old != loss_new
