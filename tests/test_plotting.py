"""kairos.plotting: figures of traces and sweeps render to real PNGs with the Agg backend."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from kairos import engine, plotting  # noqa: E402
from kairos.sweep import sweep  # noqa: E402
from kairos.trace import LazyTrace, Trace, TraceMetadata  # noqa: E402

from .test_export import SCENARIO, make_trace  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trace() -> Trace:
    return make_trace(300)


@pytest.fixture(autouse=True)
def close_figures() -> Any:
    yield
    plt.close("all")


def saved(ax: Any, path: Path) -> Path:
    ax.figure.savefig(path, dpi=80)
    return path


def assert_png(path: Path, min_colors: int = 6) -> None:
    """A real PNG with a picture in it: right magic, sensible size, many distinct colours."""
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    image = plt.imread(path)
    height, width = image.shape[:2]
    assert width >= 600 and height >= 300
    colors = {tuple(px) for px in image.reshape(-1, image.shape[2])[::7].round(2).tolist()}
    assert len(colors) >= min_colors


def legend_labels(ax: Any) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_stability_marks_phases_events_losses_and_danger(trace: Trace, tmp_path: Path) -> None:
    ax = trace.plot()
    labels = legend_labels(ax)
    assert "global stability S" in labels and "danger 0.1" in labels
    assert "basin loss" in labels and "volatile" in labels
    assert "ghost branch (paradox rolled back)" in labels
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_xlim() == (1.0, 300.0)
    texts = [t.get_text() for t in ax.texts]
    assert " oversight_lapse" in texts and " capability_jump → model.a" in texts
    assert {loss.agent for loss in trace.basin_losses()} <= set(texts)
    assert "export test" in ax.get_title() and "1.4.4" in ax.get_title()
    assert_png(saved(ax, tmp_path / "stability.png"))


def test_phase_bands_follow_the_phases() -> None:
    steps = engine.run(
        {
            "name": "calm then jump",
            "seed": 5,
            "models": [{"name": "m", "capabilityIndex": 330, "alignmentScore": 70,
                        "guardrailCoverage": 60}],
            "events": [{"tick": 100, "type": "capability_jump", "target": "m"}],
        },
        400,
        "1.4.4",
    )  # fmt: skip
    trace = Trace.from_steps(steps, TraceMetadata("1.4.4", 5, "calm then jump", 400))
    transitions = trace.phase_transitions()
    assert transitions  # resonant, then volatile after the basin loss
    ax = plotting.plot_stability(trace, danger=None)
    spans = [p for p in ax.patches if p.get_label() in plotting.PHASE_COLORS or
             p.get_label().startswith("_")]  # fmt: skip
    assert len(spans) == len(transitions) + 1
    assert "danger" not in " ".join(legend_labels(ax))


def test_plot_agents_draws_gamma_and_lambda_per_model(trace: Trace, tmp_path: Path) -> None:
    ax = trace.plot_agents()
    labels = legend_labels(ax)
    for name in ("b", "model.a"):
        assert f"{name} Γ (buffer)" in labels and f"{name} Λ (pressure)" in labels
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["b Λ (pressure)"].get_ydata()) == trace.agent_trace("b").lambda_()
    assert "basin loss" in labels
    assert_png(saved(ax, tmp_path / "agents.png"))
    with pytest.raises(KeyError, match="no agents"):
        plotting.plot_agents(trace, agents=["nobody"])


def test_lazy_trace_plots_like_a_trace(trace: Trace, tmp_path: Path) -> None:
    trace.to_jsonl(tmp_path / "run.jsonl")
    lazy = LazyTrace.open(tmp_path / "run.jsonl")
    _fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8))
    assert lazy.plot(ax=top) is top and lazy.plot_agents(ax=bottom) is bottom
    assert list(top.get_lines()[0].get_ydata()) == trace.stability()
    assert_png(saved(top, tmp_path / "lazy.png"))


def test_plot_sweep_colours_phases_and_marks_the_threshold(tmp_path: Path) -> None:
    def build(capability: int) -> dict[str, Any]:
        return {
            "name": f"c{capability}",
            "seed": capability,
            "models": [{"name": "model", "capabilityIndex": capability, "alignmentScore": 70,
                        "guardrailCoverage": 60}],
            "events": [{"tick": 100, "type": "capability_jump", "target": "model",
                        "magnitude": 0.3}],
        }  # fmt: skip

    result = sweep(build, {"capability": range(100, 1001, 18)}, ticks=500)
    ax = result.plot(threshold=True)
    labels = legend_labels(ax)
    assert "resonant" in labels and "volatile + basin loss" in labels
    assert any(label.startswith("threshold capability ≈ 325") for label in labels)
    assert ax.get_xlabel() == "capability" and ax.get_ylabel() == "mean stability"
    assert_png(saved(ax, tmp_path / "sweep.png"))
    ax2 = plotting.plot_sweep(result, "capability", threshold=400.0)
    assert any(label.startswith("threshold capability ≈ 400") for label in legend_labels(ax2))
    with pytest.raises(TypeError, match="threshold must be"):
        plotting.plot_sweep(result, threshold="high")


def test_plot_sweep_needs_a_parameter_when_several_vary() -> None:
    result = sweep(
        lambda capability, seed: {**SCENARIO, "seed": seed,
                                  "models": [SCENARIO["models"][0],
                                             {**SCENARIO["models"][1],
                                              "capabilityIndex": capability}]},
        {"capability": [100, 900], "seed": [1, 2]},
        ticks=120,
    )  # fmt: skip
    with pytest.raises(ValueError, match="say which one"):
        result.plot()
    assert result.plot("capability").get_xlabel() == "capability"


def test_missing_matplotlib_names_the_extra(trace: Trace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"kairos-sdk\[plotting\]"):
        trace.plot()
