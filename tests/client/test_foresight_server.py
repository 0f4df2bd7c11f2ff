"""Prophecies and warnings over a real server (issue 15, part 3): the worker process computes
the same prophecies as this process, and the trace answers for them (tables, plots)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kairos import KairosClient, engine, scenarios
from kairos.server import ServerThread
from kairos.trace import Trace, TraceMetadata


def test_prophecies_are_identical_across_processes(server: ServerThread, tmp_path: Path) -> None:
    entry = scenarios.get("oversight-lapse")
    with KairosClient(url=server.url, engine_version="1.6.0") as client:
        trace = client.run(entry.id, ticks=entry.ticks)
        lazy = client.trace(trace.metadata.simulation_id or "", out=tmp_path / "t.jsonl")
    local = engine.run(entry.scenario().to_wire(), entry.ticks, "1.6.0")
    assert trace.sha256() == engine.trace_sha256(local) == lazy.sha256()
    expected = [step["prophecy"] for step in local if "prophecy" in step]
    assert [p.model_dump(mode="json", by_alias=True) for p in trace.prophecies()] == expected
    assert lazy.prophecies() == trace.prophecies() and lazy.warnings() == trace.warnings()
    assert len(expected) == entry.ticks // 25
    assert trace.warnings() and trace.warnings()[0].tick == 150


def test_the_default_version_has_no_foresight(server: ServerThread) -> None:
    entry = scenarios.get("oversight-lapse")
    with KairosClient(url=server.url) as client:
        trace = client.run(entry.id, ticks=entry.ticks)
    assert trace.metadata.engine_version == "1.5.0"
    assert trace.prophecies() == [] and trace.warnings() == []


def _foresight_trace() -> Trace:
    entry = scenarios.get("racing-labs")
    wire = entry.scenario().to_wire()
    return Trace.from_steps(
        engine.run(wire, entry.ticks, "1.6.0"),
        TraceMetadata("1.6.0", wire["seed"], wire["name"], entry.ticks),
    )


def test_to_pandas_has_the_foresight_columns_and_parquet_keeps_them(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    trace = _foresight_trace()
    frame = trace.to_pandas()
    made = frame[frame["prophecy_phase"].notna()]
    assert list(made["t"]) == [p.tick for p in trace.prophecies()]
    assert list(made["prophecy_loss_risk"]) == [p.loss_risk for p in trace.prophecies()]
    assert int(frame["warning_count"].sum()) == len(trace.warnings())
    trace.to_parquet(tmp_path / "t.parquet")
    assert Trace.from_parquet(tmp_path / "t.parquet").sha256() == trace.sha256()


def test_the_stability_plot_marks_warnings_and_alarming_prophecies() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    labels = _foresight_trace().plot().get_legend_handles_labels()[1]
    assert "stability warning" in labels and "prophecy: basin loss likely" in labels
