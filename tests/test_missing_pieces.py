"""Files and extras a user does not have are KairosErrors too: a trace path that cannot be read
or written, and a feature whose optional package is not installed (also from the CLI, as one
line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kairos import KairosClient
from kairos.errors import KairosError, MissingDependencyError
from kairos.trace import LazyTrace, Trace, TraceFileAccessError

from .test_cli import SCENARIO


@pytest.fixture(scope="module")
def trace() -> Trace:
    with KairosClient() as client:
        return client.run(SCENARIO, ticks=25)


def test_reading_a_missing_trace_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    for read in (Trace.from_jsonl, LazyTrace.open):
        with pytest.raises(FileNotFoundError) as info:
            read(missing)
        assert isinstance(info.value, TraceFileAccessError) and isinstance(info.value, KairosError)
        assert str(missing) in str(info.value) and "No such file" in str(info.value)


def test_reading_a_directory_as_a_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceFileAccessError, match="directory"):
        Trace.from_jsonl(tmp_path)


def test_writing_into_a_missing_directory_or_over_a_file(trace: Trace, tmp_path: Path) -> None:
    with pytest.raises(TraceFileAccessError, match="No such file"):
        trace.to_jsonl(tmp_path / "missing" / "t.jsonl")
    target = tmp_path / "t.jsonl"
    trace.to_jsonl(target)
    with pytest.raises(TraceFileAccessError, match="overwrite=True"):
        trace.to_jsonl(target)
    trace.to_jsonl(target, overwrite=True)
    assert Trace.from_jsonl(target).sha256() == trace.sha256()


def test_parquet_paths(trace: Trace, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    with pytest.raises(TraceFileAccessError, match="No such file"):
        Trace.from_parquet(tmp_path / "nope.parquet")
    with pytest.raises(TraceFileAccessError, match="No such file"):
        trace.to_parquet(tmp_path / "missing" / "t.parquet")
    target = tmp_path / "t.parquet"
    trace.to_parquet(target)
    with pytest.raises(TraceFileAccessError, match="overwrite=True"):
        trace.to_parquet(target)


def _without(package: str, code: str) -> subprocess.CompletedProcess[str]:
    # A None entry in sys.modules makes `import package` fail as if it were not installed.
    prelude = f"import sys; sys.modules[{package!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120
    )


def test_plotting_without_matplotlib_names_the_extra() -> None:
    result = _without(
        "matplotlib",
        "from kairos.errors import MissingDependencyError\n"
        "from kairos.engine import run\n"
        "import kairos.plotting as p\n"
        "try:\n"
        "    p._pyplot()\n"
        "except MissingDependencyError as e:\n"
        "    assert isinstance(e, ImportError)\n"
        "    print(e, e.extra)\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        'plotting needs matplotlib: pip install "kairos-sdk[plotting]" plotting'
    )


def test_the_cli_says_one_line_when_an_extra_is_missing(tmp_path: Path) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    result = _without(
        "matplotlib",
        "import sys\nfrom kairos.cli import main\n"
        f"sys.exit(main(['run', {str(scenario)!r}, '--ticks', '25', '--plot', "
        f"{str(tmp_path / 'p.png')!r}]))\n",
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert 'pip install "kairos-sdk[plotting]"' in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_dependency_error_is_importable_from_errors() -> None:
    assert issubclass(MissingDependencyError, KairosError)
    assert issubclass(MissingDependencyError, ImportError)
