"""The scenario library (issue 15, part 1): kairos.scenarios, scenario.list/scenario.get over a
real server, client.run(<id>) and `kairos scenarios`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kairos import KairosClient, engine, scenarios
from kairos.errors import NotFoundError, ValidationError
from kairos.server import ServerThread
from kairos_api import LibraryScenario, LibraryScenarioList


def test_the_library_holds_at_least_six_valid_distinct_scenarios() -> None:
    entries = scenarios.entries()
    assert len(entries) >= 6
    assert len(set(scenarios.ids())) == len(entries)
    for entry in entries:
        wire = entry.scenario().to_wire()
        assert engine.validate_scenario(wire, entry.ticks) == []
        assert wire["seed"] == entry.seed and wire["name"] == entry.label
        assert entry.note and entry.question and "ai-safety" in entry.tags
        LibraryScenario.model_validate(entry.to_wire())  # the schema's shape


def test_the_notes_tell_the_truth_about_basin_losses() -> None:
    outcomes = {
        entry.id: engine.basin_losses(engine.run(entry.scenario().to_wire(), entry.ticks))
        for entry in scenarios.entries()
    }
    assert outcomes["board-intervenes"] == []  # the control case holds
    lost = [key for key, losses in outcomes.items() if losses]
    assert len(lost) >= 5
    assert {loss["agent"] for loss in outcomes["racing-labs"]} == {"lab_a_model", "lab_b_model"}


def test_an_unknown_id_is_a_typed_error_listing_the_known_ids() -> None:
    with pytest.raises(scenarios.UnknownScenarioError) as info:
        scenarios.get("capability-divergense")
    assert isinstance(info.value, ValidationError)
    assert info.value.known == scenarios.ids()
    assert "capability-divergence" in str(info.value)


def test_the_server_lists_and_serves_the_library(server: ServerThread) -> None:
    with KairosClient(url=server.url) as client:
        listing = client.scenario.list()
        assert isinstance(listing, LibraryScenarioList)
        assert [item.id for item in listing.data] == scenarios.ids()
        got = client.scenario.get(id="capability-divergence")
        entry = scenarios.get("capability-divergence")
        assert (got.label, got.seed, got.ticks) == (entry.label, 42, entry.ticks)
        served = got.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert engine.compile_scenario(served).fingerprint == (
            engine.compile_scenario(entry.scenario().to_wire()).fingerprint
        )
        with pytest.raises(NotFoundError, match="known ids: capability-divergence"):
            client.scenario.get(id="no-such-scenario")


def test_run_accepts_a_library_id(server: ServerThread) -> None:
    entry = scenarios.get("oversight-lapse")
    with KairosClient(url=server.url) as client:
        trace = client.run("oversight-lapse", ticks=entry.ticks)
        with pytest.raises(scenarios.UnknownScenarioError, match="known ids"):
            client.run("oversight-lapses", ticks=10)
    expected = engine.run(entry.scenario().to_wire(), entry.ticks, trace.metadata.engine_version)
    assert trace.sha256() == engine.trace_sha256(expected)
    assert trace.metadata.scenario_name == entry.label and trace.metadata.seed == entry.seed


def test_cli_lists_shows_and_refuses() -> None:
    def kairos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kairos", "scenarios", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    listing = kairos()
    assert listing.returncode == 0
    for scenario_id in scenarios.ids():
        assert scenario_id in listing.stdout
    shown = kairos("racing-labs")
    assert shown.returncode == 0 and "question:" in shown.stdout
    assert 'client.run("racing-labs", ticks=500)' in shown.stdout
    wire = kairos("racing-labs", "--json")
    assert engine.validate_scenario(json.loads(wire.stdout)) == []
    refused = kairos("nope")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "known ids: capability-divergence" in refused.stderr
