"""User mistakes outside the client: scenario files and the builder's wire form, sweep results,
and a property over ``sweep``'s arguments: each is a ``KairosError`` that names what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.domains.ai_safety import AISafetyScenario
from kairos.errors import EngineVersionError, KairosError, ValidationError
from kairos.sweep import sweep


def small() -> AISafetyScenario:
    return AISafetyScenario("small", seed=3).add_model(
        name="model", capability_index=300, alignment_score=70, guardrail_coverage=60
    )


def test_scenario_files_that_cannot_be_read_or_written(tmp_path: Path) -> None:
    for path, fragment in (
        (tmp_path / "missing.json", "No such file"),
        (tmp_path, "Is a directory"),
    ):
        with pytest.raises(ValidationError, match=fragment) as info:
            AISafetyScenario.from_json(path)
        assert [issue.path for issue in info.value.issues] == ["path"]
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValidationError, match="cannot read"):
        AISafetyScenario.from_json(binary)
    with pytest.raises(ValidationError, match="cannot write") as info:
        small().to_json(tmp_path / "no" / "dir" / "s.json")
    assert [issue.path for issue in info.value.issues] == ["path"]


def test_a_nameless_wire_form_is_not_called_none() -> None:
    with pytest.raises(ValidationError) as info:
        AISafetyScenario.from_wire([1])  # type: ignore[arg-type]
    assert "None" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        AISafetyScenario.from_wire({"seed": 1, "models": []})
    assert "None" not in str(info.value)


def test_plotting_a_sweep_along_an_unknown_parameter() -> None:
    result = sweep(lambda capability: small(), {"capability": [1, 2]}, ticks=10)
    with pytest.raises(ValidationError, match="not a swept parameter") as info:
        result.plot("alignment")
    assert [issue.path for issue in info.value.issues] == ["parameter"]


WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=120, deadline=None)
@given(
    argument=st.sampled_from(
        [
            "grid",
            "samples",
            "ticks",
            "engine_version",
            "client",
            "executor",
            "concurrency",
            "progress",
            "seed",
            "batch_size",
            "max_ticks",
        ]
    ),
    value=WRONG,
)
def test_any_sweep_argument_runs_or_is_a_kairos_error(argument: str, value: Any) -> None:
    """Whatever is passed, sweep() runs (for a small valid value) or raises a KairosError
    naming the argument; never a builtin exception."""
    kwargs: dict[str, Any] = {"grid": {"capability": [300]}, "ticks": 5, argument: value}
    if argument in ("ticks", "samples") and type(value) is int and value > 200:
        return  # valid, only long
    if argument == "max_ticks" and (value is None or (type(value) is int and value >= 5)):
        return  # valid
    try:
        sweep(lambda capability: small(), **kwargs)
    except ValidationError as exc:
        assert any(issue.path.startswith(argument) for issue in exc.issues), exc
    except KairosError as exc:  # a well-formed version this engine does not have
        assert isinstance(exc, EngineVersionError) and argument == "engine_version", exc


def test_a_grid_that_build_cannot_take() -> None:
    with pytest.raises(ValidationError, match="cannot be called with the parameters") as info:
        sweep(lambda capability: small(), {"alignment": [60]}, ticks=10)
    assert [issue.path for issue in info.value.issues] == ["grid"]
