"""Trace and LazyTrace: one specification, checked against both (and against the file format)."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.engine import SummaryAccumulator
from kairos.trace import (
    INDEX_STRIDE,
    AgentTrace,
    BasinLoss,
    GhostBranch,
    LazyTrace,
    PhaseTransition,
    Trace,
    TraceFileError,
    TraceMetadata,
    TraceStep,
    TruncatedTraceError,
)
from kairos_api import SimulationSummary

AGENTS = ("Model_B", "Model_A")  # deliberately not sorted: agent_ids() sorts


def engine_mean(values: list[float]) -> float:
    """The mean as the engine's run summary computes it (what a trace must report)."""
    accumulator = SummaryAccumulator()
    for value in values:
        accumulator.add_values(value, "resonant", 0, False)
    mean: float = accumulator.summary()["meanStability"]
    return mean


def agent(gamma: float, lam: float, stability: float = 0.5, lost: bool = False) -> dict[str, Any]:
    return {
        "gamma": gamma,
        "lambda": lam,
        "stability": stability,
        "cumulativeStability": gamma * 3,
        "load": lam / gamma,
        "capabilityIndex": 100.0 * lam,
        "alignmentScore": 70.0,
        "basinLost": lost,
    }


def wire_step(
    t: int,
    stability: float,
    phase: str,
    *,
    agents: Sequence[str] = AGENTS,
    losses: Sequence[str] = (),
    ghost: bool = False,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "t": t,
        "stability": stability,
        "phase": phase,
        "agents": {
            name: agent(1.0 + t / 1000 + i, 0.5 + t / 100, lost=name in losses)
            for i, name in enumerate(agents)
        },
        "oversight": {"board": {"effectiveStrength": 40.0}},
        "events": list(events),
        "losses": [{"tick": t, "agent": name, "magnitude": 0.25} for name in losses],
        "ghost": (
            {"tick": t, "agents": list(agents), "score": 0.07, "decree": "Model_B yields"}
            if ghost
            else None
        ),
    }


def metadata(ticks: int = 10) -> TraceMetadata:
    return TraceMetadata(
        engine_version="1.4.4",
        seed=1024,
        scenario_name="Deceptive Alignment Spikes",
        ticks=ticks,
        simulation_id="sim_abc123",
    )


# Phases by tick 1..10: resonant x3, volatile x2, stagnant x2, resonant x3.
PHASES = ["resonant"] * 3 + ["volatile"] * 2 + ["stagnant"] * 2 + ["resonant"] * 3
STABILITIES = [0.9, 0.8, 0.7, 0.3, 0.05, 0.2, 0.2, 0.6, 0.7, 0.75]


def known_steps() -> list[TraceStep]:
    steps = []
    for t, (phase, sigma) in enumerate(zip(PHASES, STABILITIES, strict=True), 1):
        steps.append(
            TraceStep.model_validate(
                wire_step(
                    t,
                    sigma,
                    phase,
                    losses=("Model_B",) if t == 5 else ("Model_A",) if t == 6 else (),
                    ghost=t in (4, 9),
                    events=(
                        [
                            {
                                "tick": 4,
                                "type": "capability_jump",
                                "target": "Model_B",
                                "magnitude": 0.3,
                            }
                        ]
                        if t == 4
                        else []
                    ),
                )
            )
        )
    return steps


Builder = Callable[[Sequence[TraceStep], TraceMetadata, Path], Trace | LazyTrace]


def build_memory(steps: Sequence[TraceStep], md: TraceMetadata, tmp: Path) -> Trace:
    return Trace.from_steps(steps, md)


def build_written(steps: Sequence[TraceStep], md: TraceMetadata, tmp: Path) -> LazyTrace:
    with LazyTrace.writer(tmp / "written.jsonl", md) as out:
        out.extend(steps)
    return out.trace


def build_opened(steps: Sequence[TraceStep], md: TraceMetadata, tmp: Path) -> LazyTrace:
    Trace.from_steps(steps, md).to_jsonl(tmp / "saved.jsonl")
    return LazyTrace.open(tmp / "saved.jsonl")


def build_reloaded(steps: Sequence[TraceStep], md: TraceMetadata, tmp: Path) -> Trace:
    Trace.from_steps(steps, md).to_jsonl(tmp / "saved.jsonl")
    return Trace.from_jsonl(tmp / "saved.jsonl")


BUILDERS = {
    "Trace": build_memory,
    "LazyTrace.writer": build_written,
    "LazyTrace.open": build_opened,
    "Trace.from_jsonl": build_reloaded,
}


@pytest.fixture(params=list(BUILDERS))
def build(request: pytest.FixtureRequest) -> Builder:
    return BUILDERS[request.param]  # type: ignore[return-value]


# -- the shared specification ----------------------------------------------------------------


def test_sequence_protocol(build: Builder, tmp_path: Path) -> None:
    steps = known_steps()
    trace = build(steps, metadata(), tmp_path)
    assert len(trace) == 10
    assert list(trace) == steps
    assert trace.steps == steps
    assert trace[0] == steps[0] and trace[9] == steps[9] and trace[-1] == steps[-1]
    assert trace[-10] == steps[0]
    assert [s.t for s in trace] == list(range(1, 11))
    assert steps[3] in trace
    with pytest.raises(IndexError, match="trace index 10 out of range for a trace of 10 steps"):
        trace[10]
    with pytest.raises(IndexError, match="out of range"):
        trace[-11]
    with pytest.raises(TypeError, match="integers or slices"):
        trace["1"]  # type: ignore[call-overload]


def test_slices_are_trace_windows(build: Builder, tmp_path: Path) -> None:
    steps = known_steps()
    trace = build(steps, metadata(), tmp_path)
    window = trace[3:7]
    assert isinstance(window, Trace)
    assert window.steps == steps[3:7]
    assert window.metadata == trace.metadata
    assert (window.first_tick, window.last_tick) == (4, 7)
    assert not window.is_complete and trace.is_complete
    assert window.final_phase() == "stagnant"
    assert window.mean_stability() == engine_mean(STABILITIES[3:7])
    assert [t.tick for t in window.phase_transitions()] == [6]
    assert trace[8:100].steps == steps[8:]
    assert len(trace[7:2]) == 0
    assert trace[:].steps == steps
    with pytest.raises(ValueError, match="contiguous"):
        trace[::2]


def test_phase_queries(build: Builder, tmp_path: Path) -> None:
    trace = build(known_steps(), metadata(), tmp_path)
    assert trace.final_phase() == "resonant"
    assert type(trace.final_phase()) is str
    assert trace.phase_transitions() == [
        PhaseTransition(tick=4, from_phase="resonant", to_phase="volatile"),
        PhaseTransition(tick=6, from_phase="volatile", to_phase="stagnant"),
        PhaseTransition(tick=8, from_phase="stagnant", to_phase="resonant"),
    ]
    transition = trace.phase_transitions()[0]
    assert (transition.from_phase, transition.to_phase, transition.tick) == (
        "resonant",
        "volatile",
        4,
    )
    assert trace.phases() == PHASES
    assert trace.ticks() == list(range(1, 11))


def test_stability_statistics(build: Builder, tmp_path: Path) -> None:
    trace = build(known_steps(), metadata(), tmp_path)
    assert trace.mean_stability() == engine_mean(STABILITIES)
    assert trace.min_stability() == 0.05
    assert trace.stability() == STABILITIES
    assert trace.summary() == SimulationSummary(
        final_phase="resonant",
        mean_stability=engine_mean(STABILITIES),
        min_stability=0.05,
        phase_transitions=3,
        basin_losses=2,
        ghost_branches=2,
    )


def test_losses_and_ghosts(build: Builder, tmp_path: Path) -> None:
    trace = build(known_steps(), metadata(), tmp_path)
    losses = trace.basin_losses()
    assert losses == [
        BasinLoss(tick=5, agent="Model_B", magnitude=0.25),
        BasinLoss(tick=6, agent="Model_A", magnitude=0.25),
    ]
    assert losses[0].tick == 5
    ghosts = trace.ghost_branches()
    assert [g.tick for g in ghosts] == [4, 9]
    assert ghosts[0] == GhostBranch(
        tick=4, agents=["Model_B", "Model_A"], score=0.07, decree="Model_B yields"
    )
    # The returned lists are copies: changing them does not change the trace.
    losses.clear()
    assert len(trace.basin_losses()) == 2


def test_agent_queries(build: Builder, tmp_path: Path) -> None:
    steps = known_steps()
    trace = build(steps, metadata(), tmp_path)
    assert trace.agent_ids() == ["Model_A", "Model_B"]
    model_b = trace.agent_trace("Model_B")
    assert isinstance(model_b, AgentTrace)
    assert model_b.state_at(tick=7) == steps[6].agents["Model_B"]
    assert model_b.state_at(1).gamma == steps[0].agents["Model_B"].gamma
    assert model_b.ticks() == list(range(1, 11))
    assert model_b.gamma() == [s.agents["Model_B"].gamma for s in steps]
    assert model_b.lambda_() == [s.agents["Model_B"].lambda_ for s in steps]
    assert model_b.load() == [s.agents["Model_B"].load for s in steps]
    assert model_b.stability() == [s.agents["Model_B"].stability for s in steps]
    assert model_b.cumulative_stability() == [
        s.agents["Model_B"].cumulative_stability for s in steps
    ]
    assert model_b.basin_loss() == BasinLoss(tick=5, agent="Model_B", magnitude=0.25)
    assert trace.step_at(3) == steps[2]
    with pytest.raises(KeyError, match=r"'Model_C'.*its agents are: Model_A, Model_B"):
        trace.agent_trace("Model_C")
    with pytest.raises(IndexError, match=r"tick 11 is not in this trace; valid ticks: 1\.\.10"):
        model_b.state_at(11)
    with pytest.raises(IndexError, match=r"valid ticks: 1\.\.10"):
        model_b.state_at(0)
    with pytest.raises(TypeError, match="tick must be an integer"):
        model_b.state_at(2.0)  # type: ignore[arg-type]


def test_metadata_and_hash(build: Builder, tmp_path: Path) -> None:
    steps = known_steps()
    trace = build(steps, metadata(), tmp_path)
    assert trace.metadata.engine_version == "1.4.4"
    assert trace.metadata.seed == 1024
    assert trace.metadata.scenario_name == "Deceptive Alignment Spikes"
    assert trace.metadata.simulation_id == "sim_abc123"
    expected = hashlib.sha256()
    for step in steps:
        expected.update(_canonical_line(step))
    assert trace.sha256() == expected.hexdigest()


def test_empty_trace(build: Builder, tmp_path: Path) -> None:
    trace = build([], metadata(), tmp_path)
    assert len(trace) == 0 and list(trace) == []
    assert trace.phase_transitions() == [] and trace.basin_losses() == []
    assert trace.agent_ids() == []
    for query in (trace.final_phase, trace.mean_stability, trace.min_stability, trace.summary):
        with pytest.raises(ValueError, match="the trace has no steps"):
            query()
    with pytest.raises(IndexError, match="valid ticks: none"):
        trace.step_at(1)
    with pytest.raises(KeyError, match="the trace has no steps"):
        trace.agent_trace("Model_A")


def test_pickles(build: Builder, tmp_path: Path) -> None:
    trace = build(known_steps(), metadata(), tmp_path)
    copy = pickle.loads(pickle.dumps(trace))
    assert type(copy) is type(trace)
    assert copy.steps == trace.steps
    assert copy.phase_transitions() == trace.phase_transitions()
    assert copy.agent_trace("Model_A").state_at(5) == trace.agent_trace("Model_A").state_at(5)


# -- properties ------------------------------------------------------------------------------

phase_runs = st.lists(
    st.tuples(
        st.sampled_from(["resonant", "volatile", "stagnant"]),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
        st.booleans(),
    ),
    min_size=1,
    max_size=2 * INDEX_STRIDE + 5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=phase_runs, first=st.integers(min_value=1, max_value=50))
def test_trace_and_lazy_trace_agree(rows: list[tuple[str, float, bool]], first: int) -> None:
    steps = [
        TraceStep.model_validate(wire_step(first + i, sigma, phase, ghost=ghost))
        for i, (phase, sigma, ghost) in enumerate(rows)
    ]
    md = metadata(ticks=first + len(rows))
    with tempfile.TemporaryDirectory() as tmp:
        memory = Trace(steps, md)
        lazy = build_written(steps, md, Path(tmp))
        reopened = LazyTrace.open(lazy.path)
        stabilities = [sigma for _, sigma, _ in rows]
        expected_transitions = [
            (first + i, rows[i - 1][0], rows[i][0])
            for i in range(1, len(rows))
            if rows[i][0] != rows[i - 1][0]
        ]
        for trace in (memory, lazy, reopened):
            assert trace.mean_stability() == engine_mean(stabilities)
            assert trace.min_stability() == min(stabilities)
            assert trace.final_phase() == rows[-1][0]
            assert [
                (p.tick, p.from_phase, p.to_phase) for p in trace.phase_transitions()
            ] == expected_transitions
            assert [g.tick for g in trace.ghost_branches()] == [
                first + i for i, row in enumerate(rows) if row[2]
            ]
            middle = len(rows) // 2
            assert trace[middle] == steps[middle]
            assert trace.step_at(first + middle) == steps[middle]
            assert trace[middle:].steps == steps[middle:]
            assert trace.sha256() == memory.sha256()


def test_mean_stability_has_no_accumulated_rounding() -> None:
    # sum(0.1 for 10 steps) is 0.9999999999999999 in naive float arithmetic.
    steps = [TraceStep.model_validate(wire_step(t, 0.1, "resonant")) for t in range(1, 11)]
    assert sum(s.stability for s in steps) / 10 != 0.1
    assert Trace(steps, metadata()).mean_stability() == 0.1


# -- construction checks ---------------------------------------------------------------------


def test_steps_must_be_consecutive() -> None:
    steps = known_steps()
    with pytest.raises(
        ValueError, match=r"consecutive ticks: step t=5 follows t=3 \(expected t=4\)"
    ):
        Trace(steps[:3] + steps[4:], metadata())
    with pytest.raises(ValueError, match="step t=1 follows t=2"):
        Trace([steps[1], steps[0]], metadata())


def test_a_window_may_start_after_tick_one() -> None:
    trace = Trace(known_steps()[4:], metadata())
    assert trace.first_tick == 5 and not trace.is_complete
    assert trace.agent_trace("Model_A").state_at(5) == known_steps()[4].agents["Model_A"]
    with pytest.raises(IndexError, match=r"valid ticks: 5\.\.10"):
        trace.step_at(4)


def test_every_step_has_the_same_agents() -> None:
    steps = [
        TraceStep.model_validate(wire_step(1, 0.5, "resonant")),
        TraceStep.model_validate(wire_step(2, 0.5, "resonant", agents=("Model_A",))),
    ]
    with pytest.raises(ValueError, match=r"step t=2 has agents \['Model_A'\], but the trace's"):
        Trace(steps, metadata())


def test_losses_and_ghosts_belong_to_their_step() -> None:
    bad_loss = wire_step(1, 0.5, "resonant", losses=("Model_A",))
    bad_loss["losses"][0]["tick"] = 2
    with pytest.raises(ValueError, match="step t=1 carries a basin loss for tick 2"):
        Trace.from_steps([bad_loss], metadata())
    bad_ghost = wire_step(1, 0.5, "resonant", ghost=True)
    bad_ghost["ghost"]["tick"] = 3
    with pytest.raises(ValueError, match="step t=1 carries a ghost branch for tick 3"):
        Trace.from_steps([bad_ghost], metadata())


def test_steps_past_the_run_length_are_refused() -> None:
    with pytest.raises(ValueError, match="step for tick 10 but its metadata says the run has 5"):
        Trace(known_steps(), metadata(ticks=5))


def test_constructor_types() -> None:
    with pytest.raises(TypeError, match=r"use Trace\.from_steps for wire dicts"):
        Trace([wire_step(1, 0.5, "resonant")], metadata())  # type: ignore[list-item]
    with pytest.raises(TypeError, match="metadata must be a TraceMetadata"):
        Trace([], {"seed": 1})  # type: ignore[arg-type]


def test_metadata_is_checked() -> None:
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer.*ticks must be"):
        TraceMetadata(engine_version="1.4.4", seed=-1, scenario_name="x", ticks=0)
    md = metadata()
    assert TraceMetadata.from_wire(md.to_wire()) == md
    with pytest.raises(ValueError, match="unknown trace metadata fields: colour"):
        TraceMetadata.from_wire({**md.to_wire(), "colour": "red"})
    with pytest.raises(AttributeError):
        md.seed = 3  # type: ignore[misc]


def test_trace_equality_and_repr() -> None:
    a = Trace(known_steps(), metadata())
    assert a == Trace(known_steps(), metadata())
    assert a != Trace(known_steps()[:9], metadata())
    assert a != Trace(known_steps(), TraceMetadata("1.5.0", 1024, "Deceptive Alignment Spikes", 10))
    assert repr(a) == (
        "Trace('Deceptive Alignment Spikes', t=1..10, engine_version='1.4.4', seed=1024)"
    )


# -- the file format -------------------------------------------------------------------------


def _canonical_line(step: TraceStep) -> bytes:
    data = step.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.setdefault("ghost", None)
    return (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n").encode()


def test_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    Trace(known_steps(), metadata()).to_jsonl(path)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line, the last included, ends with a line feed
    assert json.loads(lines[0]) == {
        "format": "kairos.trace",
        "formatVersion": 1,
        "metadata": {
            "engineVersion": "1.4.4",
            "seed": 1024,
            "scenarioName": "Deceptive Alignment Spikes",
            "ticks": 10,
            "simulationId": "sim_abc123",
        },
    }
    assert len(lines) == 12
    # Step lines are the engine's canonical step form: sorted keys, compact, ghost always present.
    engine_like = wire_step(
        4, 0.3, "volatile", events=[{"tick": 4, "type": "containment", "magnitude": 0.5}]
    )
    canonical = json.dumps(engine_like, sort_keys=True, separators=(",", ":")).encode()
    assert _canonical_line(TraceStep.model_validate(engine_like)) == canonical + b"\n"
    assert lines[1] == _canonical_line(known_steps()[0])[:-1]
    # So the hash of the bytes after the header is the trace hash.
    body = path.read_bytes()[len(lines[0]) + 1 :]
    assert hashlib.sha256(body).hexdigest() == LazyTrace.open(path).sha256()


def test_existing_files_are_not_overwritten_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    Trace(known_steps(), metadata()).to_jsonl(path)
    with pytest.raises(FileExistsError):
        Trace(known_steps(), metadata()).to_jsonl(path)
    with pytest.raises(FileExistsError):
        LazyTrace.writer(path, metadata())
    Trace(known_steps()[:2], metadata()).to_jsonl(path, overwrite=True)
    assert len(LazyTrace.open(path)) == 2


def _truncate(path: Path, drop: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-drop])


def test_truncated_last_line_is_an_error_unless_recovering(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    Trace(known_steps(), metadata()).to_jsonl(path)
    _truncate(path, 40)
    with pytest.raises(TruncatedTraceError, match=r"line 11: the last line is incomplete") as info:
        LazyTrace.open(path)
    assert info.value.complete_steps == 9 and info.value.last_complete_tick == 9
    assert "recover=True" in str(info.value)
    with pytest.raises(TruncatedTraceError):
        Trace.from_jsonl(path)
    recovered = LazyTrace.open(path, recover=True)
    assert recovered.steps == known_steps()[:9]
    assert not recovered.is_complete
    assert Trace.from_jsonl(path, recover=True).steps == known_steps()[:9]
    # A cut exactly at a line boundary loses nothing that was complete: no error.
    _truncate(path, len(path.read_bytes().split(b"\n")[-1]))
    assert len(LazyTrace.open(path)) == 9


def test_a_writer_killed_mid_line_leaves_a_recoverable_file(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    out = LazyTrace.writer(path, metadata())
    out.extend(known_steps()[:6])
    out.flush()
    # Simulate the process dying halfway through writing step 7: its partial bytes hit disk.
    with open(path, "ab") as raw:
        raw.write(_canonical_line(known_steps()[6])[:25])
    with pytest.raises(TruncatedTraceError, match="6 complete steps up to tick 6"):
        LazyTrace.open(path)
    assert [s.t for s in LazyTrace.open(path, recover=True)] == [1, 2, 3, 4, 5, 6]


def test_corrupt_files_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.jsonl"
    Trace(known_steps(), metadata()).to_jsonl(path)
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b'"stability":0.3', b'"stability":1.3', 1)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceFileError, match=r"line 5: not a valid trace step \(stability"):
        LazyTrace.open(path, recover=True)
    lines = path.read_bytes().split(b"\n")
    del lines[4]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceFileError, match=r"line 5: .*step t=5 follows t=3"):
        LazyTrace.open(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "header line is incomplete or the file is empty"),
        (b"not json\n", "the header is not JSON"),
        (b'{"format":"something.else"}\n', "not a KAIROS trace file"),
        (b'{"format":"kairos.trace","formatVersion":2,"metadata":{}}\n', "version 2 is not sup"),
        (b'{"format":"kairos.trace","formatVersion":1}\n', "no metadata object"),
        (b'{"format":"kairos.trace","formatVersion":1,"metadata":{"seed":1}}\n', "missing"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(TraceFileError, match=message):
        LazyTrace.open(path)
    with pytest.raises(TraceFileError, match=message):
        Trace.from_jsonl(path)


def test_writer_rules(tmp_path: Path) -> None:
    steps = known_steps()
    with LazyTrace.writer(tmp_path / "w.jsonl", metadata()) as out:
        out.append(steps[0])
        with pytest.raises(ValueError, match="step t=3 follows t=1"):
            out.append(steps[2])
        with pytest.raises(TypeError, match="append\\(\\) takes a TraceStep"):
            out.append(wire_step(2, 0.5, "resonant"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="available once the writer is closed"):
            out.trace  # noqa: B018
        out.append(steps[1])
        assert len(out) == 2
    # The refused step left no trace in the file.
    assert LazyTrace.open(tmp_path / "w.jsonl").steps == steps[:2]
    assert out.trace.steps == steps[:2]
    with pytest.raises(ValueError, match="is closed"):
        out.append(steps[2])
    with (
        LazyTrace.writer(tmp_path / "short.jsonl", metadata(ticks=1)) as short,
        pytest.raises(ValueError, match="step t=2 is past the run's 1 ticks"),
    ):
        short.extend(steps[:2])


def test_writer_closed_by_an_exception_keeps_the_steps_written(tmp_path: Path) -> None:
    path = tmp_path / "aborted.jsonl"
    with pytest.raises(RuntimeError), LazyTrace.writer(path, metadata()) as out:
        out.extend(known_steps()[:3])
        raise RuntimeError("connection lost")
    assert out.trace.steps == known_steps()[:3]
    assert LazyTrace.open(path).steps == known_steps()[:3]


def test_resume_writer_continues_after_the_last_complete_step(tmp_path: Path) -> None:
    steps = known_steps()
    path = tmp_path / "resumed.jsonl"
    out = LazyTrace.writer(path, metadata())
    out.extend(steps[:4])
    out.flush()
    with open(path, "ab") as raw:  # killed mid-way through step 5
        raw.write(_canonical_line(steps[4])[:30])
    with LazyTrace.resume_writer(path) as resumed:
        assert resumed.next_tick == 5 and len(resumed) == 4
        with pytest.raises(ValueError, match="step t=6 follows t=4"):
            resumed.append(steps[5])
        resumed.extend(steps[4:])
    assert resumed.trace.steps == steps
    assert resumed.trace.phase_transitions() == Trace(steps, metadata()).phase_transitions()
    reopened = LazyTrace.open(path)
    assert reopened.sha256() == Trace(steps, metadata()).sha256()
    assert list(reopened._index) == list(resumed.trace._index)
    with LazyTrace.resume_writer(path) as finished:
        assert finished.next_tick == 11
    assert LazyTrace.open(path).is_complete


def test_a_file_changed_under_a_lazy_trace_is_detected(tmp_path: Path) -> None:
    trace = build_opened(known_steps(), metadata(), tmp_path)
    Trace(known_steps()[:5], metadata()).to_jsonl(trace.path, overwrite=True)
    with pytest.raises(TraceFileError, match="changed since it was opened: tick 6"):
        list(trace)
    with pytest.raises(TraceFileError, match="changed since it was opened"):
        trace[8]
    Trace(known_steps()[1:], metadata()).to_jsonl(trace.path, overwrite=True)
    with pytest.raises(TraceFileError, match="changed since it was opened: tick 1 is no longer"):
        trace[0]


def test_lazy_trace_repr(tmp_path: Path) -> None:
    trace = build_written(known_steps(), metadata(), tmp_path)
    assert repr(trace) == (
        f"LazyTrace({trace.path!r}, 'Deceptive Alignment Spikes', t=1..10, "
        "engine_version='1.4.4', seed=1024)"
    )


# -- memory independence --------------------------------------------------------------------

BIG = 200_000


def _write_big_file(path: Path) -> None:
    """200k steps written directly in the file format (as another producer would), formatted
    by hand because that is several times faster than building and dumping dicts."""
    header = {
        "format": "kairos.trace",
        "formatVersion": 1,
        "metadata": {
            "engineVersion": "1.4.4",
            "seed": 7,
            "scenarioName": "big",
            "ticks": BIG,
            "simulationId": None,
        },
    }
    with open(path, "w", encoding="ascii") as handle:
        handle.write(json.dumps(header) + "\n")
        for t in range(1, BIG + 1):
            phase = ("resonant", "volatile", "stagnant")[(t // 50_000) % 3]
            sigma = (t % 1000) / 1000
            loss = f'{{"agent":"m","magnitude":0.5,"tick":{t}}}' if t == 123_456 else ""
            ghost = (
                f'{{"agents":["m"],"decree":"m yields","score":0.1,"tick":{t}}}'
                if t % 40_000 == 0
                else "null"
            )
            lost = "true" if t >= 123_456 else "false"
            handle.write(
                f'{{"agents":{{"m":{{"alignmentScore":70.0,"basinLost":{lost},'
                f'"capabilityIndex":100.0,"cumulativeStability":{t}.0,"gamma":2.0,'
                f'"lambda":{t / BIG!r},"load":0.5,"stability":{sigma!r}}}}},"events":[],'
                f'"ghost":{ghost},"losses":[{loss}],"oversight":{{}},"phase":"{phase}",'
                f'"stability":{sigma!r},"t":{t}}}\n'
            )


MEMORY_PROBE = """
import resource, sys
from kairos.trace import LazyTrace

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def exercise(path):
    trace = LazyTrace.open(path)
    answers = (len(trace), trace.final_phase(), trace.mean_stability(), trace.min_stability(),
               len(trace.phase_transitions()), len(trace.basin_losses()),
               len(trace.ghost_branches()), trace[len(trace) * 3 // 4].t,
               trace.agent_trace("m").state_at(len(trace) - 1).cumulative_stability,
               sum(1 for step in trace if step.agents["m"].basin_lost))
    return answers

exercise(sys.argv[1])  # warm up imports, caches and the allocator on a small file
before = peak_kib()
print(exercise(sys.argv[2]))
print(peak_kib() - before)
"""


def test_lazy_trace_memory_does_not_grow_with_the_steps(tmp_path: Path) -> None:
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    _write_big_file(big)
    with open(big, "rb") as src, open(small, "wb") as dst:
        for _ in range(1001):  # the header and the first 1000 steps
            dst.write(src.readline())
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(small), str(big)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers, growth_kib = result.stdout.splitlines()
    expected_mean = engine_mean([(t % 1000) / 1000 for t in range(1, BIG + 1)])
    assert answers == repr(
        (BIG, "volatile", expected_mean, 0.0, 4, 1, 5, 150_001, 199_999.0, BIG - 123_456 + 1)
    )
    # The file is ~65 MB of JSON; its steps as objects would take hundreds of MB. Opening it,
    # answering every query and streaming it must not raise the peak by more than a few MB.
    assert big.stat().st_size > 50_000_000
    assert int(growth_kib) < 16 * 1024, f"peak RSS grew by {growth_kib} KiB"


def test_lazy_trace_keeps_only_a_sparse_index(tmp_path: Path) -> None:
    steps = [
        TraceStep.model_validate(wire_step(t, 0.5, "resonant", agents=("m",)))
        for t in range(1, 3 * INDEX_STRIDE + 2)
    ]
    trace = build_written(steps, metadata(ticks=len(steps)), tmp_path)
    assert len(trace._index) == 4  # one offset per INDEX_STRIDE steps
    reopened = LazyTrace.open(trace.path)
    assert list(reopened._index) == list(trace._index)
    for position in (0, INDEX_STRIDE - 1, INDEX_STRIDE, 2 * INDEX_STRIDE + 7, len(steps) - 1):
        assert reopened[position] == steps[position]


# -- agreement with the engine ---------------------------------------------------------------


@pytest.mark.parametrize("capability", [100, 550, 1000])
def test_engine_runs_read_back_identically(tmp_path: Path, capability: int) -> None:
    from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
    from kairos.engine import (
        basin_losses,
        canonical_trace_bytes,
        ghost_branches,
        phase_transitions,
        run,
        summarize,
        trace_sha256,
    )

    scenario = (
        AISafetyScenario(f"sweep_{capability}", seed=capability)
        .add_model(name="model", capability_index=capability, alignment_score=70)
        .add_model(name="rival", capability_index=300, alignment_score=40, autonomy_level=9)
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )
    wire_steps = run(scenario.to_wire(), ticks=400)
    md = TraceMetadata("1.4.4", capability, scenario.name, 400)
    trace = Trace.from_steps(wire_steps, md)
    path = tmp_path / "engine.jsonl"
    trace.to_jsonl(path)
    # The file's step lines are the engine's canonical bytes; the hashes agree.
    header_length = len(path.read_bytes().split(b"\n", 1)[0]) + 1
    assert path.read_bytes()[header_length:] == canonical_trace_bytes(wire_steps)
    assert trace.sha256() == LazyTrace.open(path).sha256() == trace_sha256(wire_steps)
    # The records agree with the engine's own helpers.
    for ours in (trace, LazyTrace.open(path)):
        assert [p.model_dump(by_alias=True) for p in ours.phase_transitions()] == (
            phase_transitions(wire_steps)
        )
        assert [b.model_dump(by_alias=True) for b in ours.basin_losses()] == basin_losses(
            wire_steps
        )
        assert [g.model_dump(by_alias=True) for g in ours.ghost_branches()] == ghost_branches(
            wire_steps
        )
        summary = summarize(wire_steps)
        assert ours.final_phase() == summary["finalPhase"]
        assert ours.min_stability() == summary["minStability"]
        assert ours.mean_stability() == summary["meanStability"]
