"""Trace tables: ``to_pandas``, the exact Parquet round trip, and the notebook view."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.trace import LazyTrace, Trace, TraceFileError, TraceMetadata, _export

VERSION = "1.4.4"

# Two models with dots in their names (allowed by the schema), a body, an oversight lapse and a
# capability jump: events, ghost branches and basin losses all appear in the trace.
SCENARIO: dict[str, Any] = {
    "name": "export test",
    "seed": 3,
    "models": [
        {"name": "model.a", "capabilityIndex": 400, "alignmentScore": 10},
        {"name": "b", "capabilityIndex": 900, "alignmentScore": 5, "guardrailCoverage": 0},
    ],
    "oversightBodies": [{"name": "board", "guardrailStrength": 40, "responseLatency": 80}],
    "events": [
        {"tick": 20, "type": "oversight_lapse"},
        {"tick": 100, "type": "capability_jump", "target": "model.a", "magnitude": 0.5},
    ],
}


def make_trace(ticks: int = 300, scenario: dict[str, Any] = SCENARIO) -> Trace:
    steps = engine.run(scenario, ticks, VERSION)
    meta = TraceMetadata(VERSION, scenario["seed"], scenario["name"], ticks, "sim_abc123")
    return Trace.from_steps(steps, meta)


@pytest.fixture(scope="module")
def trace() -> Trace:
    made = make_trace()
    assert made.ghost_branches() and made.basin_losses()  # the records the tables must carry
    assert any(step.events for step in made)
    return made


def float_bits(values: Any) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def test_to_pandas_has_one_row_per_tick_and_named_columns(trace: Trace) -> None:
    frame = trace.to_pandas()
    assert len(frame) == len(trace)
    assert list(frame.columns[:3]) == ["t", "stability", "phase"]
    assert "model.a.gamma" in frame and "model.a.lambda" in frame and "b.load" in frame
    assert "b.basin_lost" in frame and "board.effective_strength" in frame
    assert list(frame.columns[-3:]) == ["events_json", "losses_json", "ghost_json"]
    assert list(frame["t"]) == trace.ticks()
    assert float_bits(frame["stability"]) == float_bits(trace.stability())
    assert float_bits(frame["model.a.gamma"]) == float_bits(trace.agent_trace("model.a").gamma())
    assert float_bits(frame["b.lambda"]) == float_bits(trace.agent_trace("b").lambda_())
    assert list(frame["phase"]) == trace.phases()
    assert frame["b.basin_lost"].dtype == bool
    assert frame.attrs["metadata"]["engineVersion"] == VERSION
    with_ghost = frame[frame["ghost_json"].notna()]
    assert list(with_ghost["t"]) == [g.tick for g in trace.ghost_branches()]
    assert (frame["events_json"] != "[]").sum() == 2


def test_parquet_round_trip_is_exact(trace: Trace, tmp_path: Path) -> None:
    path = tmp_path / "run.parquet"
    trace.to_parquet(path)
    back = Trace.from_parquet(path)
    assert back == trace
    assert back.sha256() == trace.sha256()
    assert back.metadata == trace.metadata
    for mine, theirs in zip(back, trace, strict=True):  # every float, by its bits
        assert struct.pack("<d", mine.stability) == struct.pack("<d", theirs.stability)
        for name, state in theirs.agents.items():
            expected = [v for v in state.model_dump().values() if isinstance(v, float)]
            got = [v for v in mine.agents[name].model_dump().values() if isinstance(v, float)]
            assert float_bits(got) == float_bits(expected) and len(expected) == 7
    with pytest.raises(FileExistsError, match="overwrite=True"):
        trace.to_parquet(path)
    trace[:10].to_parquet(path, overwrite=True)
    assert Trace.from_parquet(path) == trace[:10]


def test_lazy_trace_exports_in_chunks_the_same_table(
    trace: Trace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_export, "ROW_GROUP", 64)  # several chunks and row groups
    trace.to_jsonl(tmp_path / "run.jsonl")
    lazy = LazyTrace.open(tmp_path / "run.jsonl")
    assert lazy.to_pandas().equals(trace.to_pandas())
    lazy.to_parquet(tmp_path / "lazy.parquet")
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.ParquetFile(tmp_path / "lazy.parquet").num_row_groups == 5
    assert Trace.from_parquet(tmp_path / "lazy.parquet") == trace


def test_a_window_and_a_trace_without_bodies_round_trip(tmp_path: Path) -> None:
    lone = {
        "name": "lone",
        "seed": 1,
        "models": [{"name": "m", "capabilityIndex": 990, "alignmentScore": 20}],
    }
    plain = make_trace(50, lone)
    plain.to_parquet(tmp_path / "lone.parquet")
    assert Trace.from_parquet(tmp_path / "lone.parquet") == plain
    window = make_trace()[100:140]
    window.to_parquet(tmp_path / "window.parquet")
    back = Trace.from_parquet(tmp_path / "window.parquet")
    assert back == window and back.first_tick == 101


def test_foreign_parquet_files_are_refused(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"t": [1, 2]}), tmp_path / "other.parquet")
    with pytest.raises(TraceFileError, match="not a KAIROS trace table"):
        Trace.from_parquet(tmp_path / "other.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(TraceFileError, match="not a readable Parquet file"):
        Trace.from_parquet(tmp_path / "junk.parquet")


def test_missing_extras_are_named(trace: Trace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"kairos-sdk\[dataframe\]"):
        trace.to_parquet("never.parquet")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"kairos-sdk\[dataframe\]"):
        trace.to_pandas()


def test_html_view_shows_identity_and_summary(trace: Trace, tmp_path: Path) -> None:
    view = trace._repr_html_()
    assert view.startswith("<table><caption>Trace</caption>")
    for text in (
        "export test",
        VERSION,
        "sim_abc123",
        "300: t=1..300",
        f"{trace.mean_stability():.6g}",
        f"first at tick {trace.basin_losses()[0].tick}: {trace.basin_losses()[0].agent}",
        "b, model.a",
    ):
        assert text in view, text
    trace.to_jsonl(tmp_path / "run.jsonl")
    lazy_view = LazyTrace.open(tmp_path / "run.jsonl")._repr_html_()
    assert "<caption>LazyTrace</caption>" in lazy_view and "run.jsonl" in lazy_view
    assert "(partial)" in trace[5:9]._repr_html_()
    empty = Trace([], trace.metadata)._repr_html_()
    assert "<td style='text-align:left'>none</td>" in empty
    assert "&lt;" in Trace([], TraceMetadata(VERSION, 1, "<b>", 5))._repr_html_()
