"""simulation.series: the trace reduced for charts. The scanner reads what json reads; every
bucket holds the true lowest and highest value of its ticks (a one-tick dip is never hidden);
the answer never has more buckets than asked, whatever the run's length."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import numpy as np
import pytest

from kairos import engine
from kairos.server import ServerThread
from kairos.server._series import (
    Columns,
    Marker,
    decode_lines,
    mark_decrees,
    reduce_series,
    scan_lines,
    spread,
)
from kairos.server._sqlite_store import Store
from kairos.server._store import DecreeRecord, NewSimulation
from tests.engine.scenarios import paradox_scenario, rich_scenario
from tests.server.conftest import SCENARIO, Wire


def lines_of(scenario: dict[str, Any], ticks: int, version: str | None = None) -> list[bytes]:
    return [line.rstrip(b"\n") for line in engine.iter_lines(scenario, ticks, version)]


def columns_of(lines: list[bytes]) -> Columns:
    agents = tuple(sorted(json.loads(lines[0])["agents"]))
    columns = Columns(agents=agents)
    columns.gamma = np.empty((0, len(agents)))
    columns.lam = np.empty((0, len(agents)))
    for first in range(0, len(lines), 64):
        columns.append(scan_lines(lines[first : first + 64], first + 1, agents))
    return columns


@pytest.mark.parametrize(
    ("scenario", "version"),
    [(rich_scenario(), None), (paradox_scenario(), None), (rich_scenario(), "1.6.0")],
    ids=["rich", "paradox", "rich-1.6.0"],
)
def test_the_scanner_reads_what_json_reads(scenario: dict[str, Any], version: str | None) -> None:
    lines = lines_of(scenario, 400, version)
    agents = tuple(sorted(json.loads(lines[0])["agents"]))
    for first in range(0, 400, 100):
        chunk = lines[first : first + 100]
        assert scan_lines(chunk, first + 1, agents) == decode_lines(chunk, first + 1, agents)


def test_markers_of_every_kind_are_read() -> None:
    kinds = {m.kind for m in columns_of(lines_of(rich_scenario(), 300)).markers}
    kinds |= {m.kind for m in columns_of(lines_of(paradox_scenario(), 300)).markers}
    assert kinds == {"event", "basinLoss", "ghostBranch"}


def test_prophecies_and_warnings_of_engine_1_6_are_markers() -> None:
    lines = lines_of(rich_scenario(), 300, "1.6.0")
    markers = columns_of(lines).markers
    steps = [json.loads(line) for line in lines]
    prophecies = [m for m in markers if m.kind == "prophecy"]
    assert [m.tick for m in prophecies] == [s["t"] for s in steps if "prophecy" in s]
    assert [m.tick for m in prophecies] == list(range(25, 301, 25))
    first = steps[24]["prophecy"]
    assert prophecies[0].label.startswith(f"prophecy: {first['predictedPhase']} at tick 75 ")
    assert prophecies[0].agents == tuple(first["atRisk"])
    warnings = [(m.tick, m.agents) for m in markers if m.kind == "warning"]
    expected = [
        (w["tick"], (w["agent"],) if "agent" in w else ())
        for s in steps
        for w in s.get("warnings", ())
    ]
    assert warnings == expected and len(expected) >= 2
    system = next(m for m in markers if m.kind == "warning" and not m.agents)
    assert system.label.startswith("warning: system stability ")
    assert system.label.endswith(" fell below 0.45")
    # Engine 1.5.0 steps have neither.
    assert not {"prophecy", "warning"} & {
        m.kind for m in columns_of(lines_of(rich_scenario(), 300)).markers
    }


def test_a_bucket_keeps_the_markers_of_all_its_steps() -> None:
    columns = columns_of(lines_of(rich_scenario(), 300, "1.6.0"))
    series = reduce_series(columns, 1, None, 4, 10_000)
    assert series["bucketTicks"] == 128
    assert series["markersTotal"] == len(columns.markers)
    assert [(m["tick"], m["kind"]) for m in series["markers"]] == [
        (m.tick, m.kind) for m in columns.markers
    ]
    assert len({m["tick"] for m in series["markers"] if m["tick"] <= 128}) > 5


def decree(ident: str, tick: int | None, status: str = "applied") -> DecreeRecord:
    event = json.dumps({"type": "containment", "target": "m"})
    return DecreeRecord(ident, "sim", event, None, status, tick, None, "t", 0)


def test_the_events_of_decrees_become_decree_markers() -> None:
    markers = [
        Marker(5, "event", "capability_jump on m (0.3)", ("m",)),
        Marker(5, "basinLoss", "basin loss: m", ("m",)),
        Marker(5, "event", "containment on m (0.6)", ("m",)),
        Marker(5, "event", "containment on m (0.4)", ("m",)),
        Marker(9, "event", "containment on m (0.6)", ("m",)),
        Marker(12, "event", "containment on m (0.6)", ("m",)),
    ]
    decrees = [
        decree("dcr_a", 5),
        decree("dcr_b", 5),
        decree("dcr_c", 12),
        decree("dcr_late", None, "pending"),
        decree("dcr_no", None, "rejected"),
    ]
    mark_decrees(markers, decrees, 1)
    assert [(m.tick, m.kind) for m in markers] == [
        (5, "event"),  # the scenario's own event of tick 5 comes first
        (5, "basinLoss"),
        (5, "decree"),
        (5, "decree"),
        (9, "event"),
        (12, "decree"),
    ]
    assert markers[2].label == "decree dcr_a: containment on m (0.6)"
    assert markers[3].label == "decree dcr_b: containment on m (0.4)"
    # Markers read before (ticks under first_tick) are not marked again.
    again = [Marker(5, "event", "containment on m (0.6)", ("m",))]
    mark_decrees(again, decrees, 6)
    assert again[0].kind == "event"


def test_prophecies_are_left_out_before_anything_else() -> None:
    markers = [Marker(t, "prophecy", "", ()) for t in range(25, 2501, 25)]
    markers += [Marker(t, "decree", "", ()) for t in (333, 1777)]
    markers += [Marker(t, "warning", "", ()) for t in (40, 41)]
    markers.sort(key=lambda m: m.tick)
    kept = spread(markers, 10)
    assert len(kept) == 10 and [m.tick for m in kept] == sorted(m.tick for m in kept)
    assert [m.tick for m in kept if m.kind != "prophecy"] == [40, 41, 333, 1777]
    prophecies = [m.tick for m in kept if m.kind == "prophecy"]
    assert len(prophecies) == 6 and (prophecies[0], prophecies[-1]) == (25, 2500)
    only = spread([Marker(t, "decree", "", ()) for t in range(1, 101)], 3)
    assert [m.tick for m in only] == [1, 51, 100]


def test_lines_of_another_shape_are_decoded_with_json() -> None:
    # A step with a key the scanner does not expect between "stability" and "t": same columns.
    lines = lines_of(rich_scenario(), 50)
    odd = [line.replace(b',"t":', b',"strange":{"phase":"volatile"},"t":') for line in lines]
    agents = tuple(sorted(json.loads(lines[0])["agents"]))
    assert scan_lines(odd, 1, agents) == decode_lines(lines, 1, agents)


def brute_force(values: np.ndarray, from_tick: int, last: int, width: int) -> tuple[list, list]:
    low, high = [], []
    k = (from_tick - 1) // width
    while k * width + 1 <= last:
        a, b = max(k * width + 1, from_tick), min((k + 1) * width, last)
        low.append(float(values[a - 1 : b].min()))
        high.append(float(values[a - 1 : b].max()))
        k += 1
    return low, high


@pytest.mark.parametrize(
    ("from_tick", "to_tick", "buckets"),
    [(1, None, 1000), (1, None, 7), (33, 901, 10), (500, 500, 3), (2, 999, 1)],
)
def test_buckets_hold_the_true_min_and_max(
    from_tick: int, to_tick: int | None, buckets: int
) -> None:
    columns = columns_of(lines_of(rich_scenario(), 1000))
    series = reduce_series(columns, from_tick, to_tick, buckets, 500)
    last = to_tick or 1000
    width = series["bucketTicks"]
    assert len(series["start"]) <= buckets
    assert width & (width - 1) == 0
    assert series["start"][0] == from_tick and series["end"][-1] == last == series["tick"]
    assert all(b == a + 1 for a, b in zip(series["end"], series["start"][1:], strict=False))
    assert (series["stabilityMin"], series["stabilityMax"]) == brute_force(
        columns.stability[:1000], from_tick, last, width
    )
    for k, name in enumerate(columns.agents):
        agent = series["agents"][name]
        assert (agent["gammaMin"], agent["gammaMax"]) == brute_force(
            columns.gamma[:1000, k], from_tick, last, width
        )
        assert (agent["lambdaMin"], agent["lambdaMax"]) == brute_force(
            columns.lam[:1000, k], from_tick, last, width
        )
    assert all(from_tick <= m["tick"] <= last for m in series["markers"])


def test_a_one_tick_dip_shows_at_every_zoom() -> None:
    columns = columns_of(lines_of(rich_scenario(), 1000))
    columns.stability[733] = 0.0  # tick 734
    for buckets in (1, 2, 10, 100, 1000):
        series = reduce_series(columns, 1, None, buckets, 0)
        bounds = zip(series["start"], series["end"], series["stabilityMin"], strict=True)
        dips = [(first, last) for first, last, low in bounds if low == 0.0]
        assert len(dips) == 1 and dips[0][0] <= 734 <= dips[0][1]


def test_the_dominant_phase_of_each_bucket() -> None:
    columns = columns_of(lines_of(rich_scenario(), 256))
    columns.phase[:256] = 0
    columns.phase[64:100] = 1  # 36 of bucket 2's 64 ticks are volatile
    series = reduce_series(columns, 1, None, 4, 0)
    assert series["phase"] == ["resonant", "volatile", "resonant", "resonant"]


def test_markers_are_cut_evenly() -> None:
    markers = [Marker(t, "event", "", ()) for t in range(1, 101)]
    assert [m.tick for m in spread(markers, 3)] == [1, 51, 100]
    assert spread(markers, 0) == [] and len(spread(markers, 500)) == 100


def test_iter_chunks_seeks_instead_of_scanning(tmp_path: Any) -> None:
    # Reading the last chunk of a long trace costs what reading the first does (before the fix,
    # every earlier chunk was visited: quadratic over a whole trace). Counted in SQLite VM steps.
    store = Store(tmp_path / "kairos.db")
    store.create(
        NewSimulation("sim_a", "o", None, "{}", "n", "ai_safety", 1, 100_000, "1", None, "h", "t")
    )
    for first in range(1, 100_001, 50):
        store.append_chunk("sim_a", first, [b"{}"] * 50)

    def steps(after: int) -> int:
        count = 0

        def tick() -> int:
            nonlocal count
            count += 1
            return 0

        store._db.set_progress_handler(tick, 1)
        next(store.iter_chunks("sim_a", after_tick=after))
        store._db.set_progress_handler(None, 1)
        return count

    assert steps(99_000) < 2 * steps(0) + 200


def test_the_procedure_over_http(wire: Wire, keyed_server: ServerThread) -> None:
    sim = wire.create(ticks=3000)
    wire.wait(sim["id"])
    series = wire.data(wire.query("simulation.series", {"id": sim["id"], "buckets": 100}))
    assert series["id"] == sim["id"] and series["status"] == "completed"
    assert series["tick"] == 3000 and len(series["start"]) <= 100
    assert series["bucketTicks"] == 32
    trace = wire.data(wire.query("simulation.trace", {"id": sim["id"], "limit": 3000}))["steps"]
    assert min(s["stability"] for s in trace) == min(series["stabilityMin"])
    assert max(s["stability"] for s in trace) == max(series["stabilityMax"])
    expected = [(3, "event")] + [(s["t"], "basinLoss") for s in trace if s["losses"]]
    assert [(m["tick"], m["kind"]) for m in series["markers"]] == expected

    part = wire.data(
        wire.query("simulation.series", {"id": sim["id"], "fromTick": 100, "toTick": 163})
    )
    assert (part["start"][0], part["end"][-1], part["bucketTicks"]) == (100, 163, 1)

    bad = wire.query("simulation.series", {"id": sim["id"], "fromTick": 9, "toTick": 3})
    assert bad.status_code == 400 and "toTick" in bad.json()["error"]["message"]
    assert wire.query("simulation.series", {"id": "sim_nothere"}).status_code == 404

    # Organizations are isolated: another key's simulation is not found.
    alpha, beta = Wire(keyed_server.url, "krs_alpha"), Wire(keyed_server.url, "krs_beta")
    mine = alpha.create(ticks=50)
    assert beta.query("simulation.series", {"id": mine["id"]}).status_code == 404


def test_a_decree_shows_at_the_tick_it_took_effect(wire: Wire) -> None:
    scenario = {**SCENARIO, "name": "decreed"}
    body = {"scenario": scenario, "ticks": 40_000, "engineVersion": "1.6.0"}
    sim = wire.data(wire.mutate("simulation.create", body))

    def record() -> dict[str, Any]:
        return dict(wire.data(wire.query("simulation.get", {"id": sim["id"]})))

    while record()["tick"] < 30:
        time.sleep(0.02)
    event = {"type": "containment", "target": "model", "magnitude": 0.6}
    filed = wire.data(wire.mutate("simulation.decree", {"id": sim["id"], "event": event}))
    while (applied := record()["decrees"][0])["tick"] is None:
        time.sleep(0.02)
    tick = applied["tick"]
    while record()["tick"] < tick + 30:
        time.sleep(0.02)
    expected = [(tick, f"decree {filed['id']}: containment on model (0.6)")]

    def decrees() -> list[tuple[int, str]]:
        series = wire.data(wire.query("simulation.series", {"id": sim["id"], "maxMarkers": 2000}))
        assert [m["tick"] for m in series["markers"] if m["kind"] == "event"] == [3]
        assert "prophecy" in {m["kind"] for m in series["markers"]}
        return [(m["tick"], m["label"]) for m in series["markers"] if m["kind"] == "decree"]

    assert decrees() == expected  # while the run goes on
    wire.mutate("simulation.cancel", {"id": sim["id"]})
    wire.wait(sim["id"])
    assert decrees() == expected  # read further by the same cache: marked once


def test_a_queued_simulation_has_an_empty_series(tmp_path: Any) -> None:
    assert reduce_series(None, 1, None, 10, 10)["tick"] == 0
    store = Store(tmp_path / "kairos.db")
    with sqlite3.connect(tmp_path / "kairos.db") as db:
        assert db.execute("SELECT count(*) FROM trace_chunks").fetchone() == (0,)
    from kairos.server._series import SeriesCache

    assert SeriesCache(store).columns("sim_none") is None


def test_the_cache_drops_the_least_recently_charted(tmp_path: Any) -> None:
    from kairos.server._series import SeriesCache

    store = Store(tmp_path / "kairos.db")
    lines = lines_of(rich_scenario(), 300)
    for name in ("sim_a", "sim_b", "sim_c"):
        store.create(
            NewSimulation(name, "o", None, "{}", "n", "ai_safety", 1, 300, "1", None, name, "t")
        )
        store.append_chunk(name, 1, lines)
    one = SeriesCache(store).columns("sim_a")
    assert one is not None
    cache = SeriesCache(store, max_bytes=2 * one.nbytes)
    for name in ("sim_a", "sim_b", "sim_a", "sim_c"):
        columns = cache.columns(name)
        assert columns is not None and columns.tick == 300
    assert list(cache._entries) == ["sim_a", "sim_c"]  # sim_b was charted least recently
