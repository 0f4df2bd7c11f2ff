"""Every ``kairos`` command, run as the real program (``kairos serve`` is exercised by
tests/server/test_conformance.py). Errors must be one line on stderr and a non-zero status."""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.cli import build_parser, main
from kairos.cli._common import add_command
from kairos.trace import LazyTrace
from tests.test_startup import heavy_in, modules_after

KAIROS = [sys.executable, "-m", "kairos"]
SCENARIO: dict[str, Any] = {
    "name": "cli scenario",
    "seed": 11,
    "models": [{"name": "model", "capabilityIndex": 420, "alignmentScore": 70}],
    "events": [{"tick": 20, "type": "capability_jump", "target": "model", "magnitude": 0.3}],
}


def kairos(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}
    result = subprocess.run(
        [*KAIROS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("kairos: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    return path


def test_help_reads_well(tmp_path: Path) -> None:
    text = kairos("--help", cwd=tmp_path).stdout
    for command in ("serve", "run", "stream", "validate", "versions", "sweep", "demo", "api"):
        assert command in text
    assert "--ticks" in kairos("run", "--help", cwd=tmp_path).stdout


COMMANDS = ("serve", "run", "stream", "validate", "versions", "sweep", "demo", "observe")
COMMANDS += ("scenarios", "api")


def registered() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def squeezed(text: str) -> str:
    """``text`` without whitespace: argparse rewraps (and may break at a hyphen)."""
    return "".join(text.split())


def help_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_every_command_takes_its_help_from_its_handlers_docstring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = registered()
    assert sorted(commands) == sorted(COMMANDS)
    overview = help_of(capsys)
    for name, parser in commands.items():
        doc = parser.get_default("handler").__doc__
        assert doc, name
        summary, _, description = inspect.cleandoc(doc).partition("\n\n")
        # the summary is the command's line in `kairos --help`
        assert f"{name}{squeezed(summary)}" in squeezed(overview), name
        text = help_of(capsys, name)
        if description:
            assert squeezed(description) in squeezed(text), name
        else:  # `kairos api`: usage and options only
            assert text.split("\n\n")[1].startswith("options:"), text
    demo = help_of(capsys, "demo")
    assert "+30% capability jump" in " ".join(demo.split()) and "%%" not in demo


def parser_with(handler: Any, **options: Any) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kairos")
    add_command(parser.add_subparsers(metavar="COMMAND"), "cmd", handler, **options)
    return parser


def test_a_docstring_is_shown_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    def cmd(args: argparse.Namespace) -> int:
        """raise the dose by 30%

        A +30% jump,
          then 100% (see %(prog)s).

        Second paragraph.
        """
        return 0

    parser = parser_with(cmd, epilog="the epilog")
    assert "cmd       raise the dose by 30%\n" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["cmd", "--help"])
    text = capsys.readouterr().out
    assert "A +30% jump, then 100% (see %(prog)s). Second paragraph.\n" in text
    assert "the epilog" in text
    assert parser.parse_args(["cmd"]).handler is cmd

    def one_line(args: argparse.Namespace) -> int:
        """only a 100% summary"""
        return 0

    with pytest.raises(SystemExit):
        parser_with(one_line).parse_args(["cmd", "--help"])
    assert "%" not in capsys.readouterr().out  # no description


@pytest.mark.parametrize("doc", [None, "", "  \n   "])
def test_a_handler_without_a_docstring_is_refused(doc: str | None) -> None:
    def undocumented(args: argparse.Namespace) -> int:
        return 0

    undocumented.__doc__ = doc
    with pytest.raises(TypeError, match=r"kairos cmd: its handler .*undocumented has no docstring"):
        parser_with(undocumented)


def test_commands_stay_listed_without_docstrings(tmp_path: Path) -> None:
    # python -OO removes every docstring: the commands are listed without their summary
    result = subprocess.run(
        [sys.executable, "-OO", "-m", "kairos", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("COMMAND\n")[1].split("\n\n")[0]
    assert [line.split()[0] for line in block.splitlines()] == list(COMMANDS)


def test_help_loads_nothing_heavy() -> None:
    probe = (
        "import sys\nfrom kairos.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert heavy_in(modules_after(probe)) == []


def test_validate(tmp_path: Path, scenario_file: Path) -> None:
    assert "valid (1 model(s)" in kairos("validate", str(scenario_file), cwd=tmp_path).stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SCENARIO, "models": [{"name": "m", "capabilityIndex": 0}]}))
    result = kairos("validate", str(bad), cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "models[0].capabilityIndex" in result.stdout
    assert "models[0].alignmentScore" in result.stdout
    one_line_error(
        kairos("validate", "missing.json", cwd=tmp_path, check=False), "no such scenario file"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    one_line_error(kairos("validate", str(broken), cwd=tmp_path, check=False), "is not JSON")


def test_versions(tmp_path: Path) -> None:
    text = kairos("versions", cwd=tmp_path).stdout
    for version in engine.active_versions():
        assert version in text
    assert "retired" in text


def test_run_writes_the_trace_and_a_plot(tmp_path: Path, scenario_file: Path) -> None:
    out, plot = tmp_path / "trace.jsonl", tmp_path / "stability.png"
    result = kairos(
        "run",
        str(scenario_file),
        "--ticks",
        "300",
        "--out",
        str(out),
        "--plot",
        str(plot),
        "--engine-version",
        "1.4.4",
        cwd=tmp_path,
    )
    assert "engine version     1.4.4" in result.stdout
    assert "final phase" in result.stdout and "first basin loss" in result.stdout
    trace = LazyTrace.open(out)
    assert trace.metadata.engine_version == "1.4.4" and len(trace) == 300
    assert trace.sha256() == engine.trace_sha256(engine.run(SCENARIO, 300, "1.4.4"))
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = kairos(
        "run", str(scenario_file), "--ticks", "5", "--out", str(out), cwd=tmp_path, check=False
    )
    one_line_error(again, "exists; pass --overwrite")


def test_run_with_a_retired_version_fails_in_one_line(tmp_path: Path, scenario_file: Path) -> None:
    result = kairos(
        "run",
        str(scenario_file),
        "--ticks",
        "30",
        "--engine-version",
        "1.3.2",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "1.3.2", "1.5.0")


def test_stream_writes_json_lines(tmp_path: Path, scenario_file: Path) -> None:
    lines = kairos(
        "stream", str(scenario_file), "--ticks", "50", "--every", "10", cwd=tmp_path
    ).stdout.splitlines()
    steps = [json.loads(line) for line in lines]
    assert [s["t"] for s in steps] == [10, 20, 30, 40, 50]
    expected = engine.run(SCENARIO, 50)
    assert lines[0] == engine.canonical_json(expected[9])


def test_sweep_tabulates_finds_the_threshold_and_writes_rows(
    tmp_path: Path, scenario_file: Path
) -> None:
    rows, plot = tmp_path / "rows.csv", tmp_path / "sweep.png"
    result = kairos(
        "sweep",
        str(scenario_file),
        "--vary",
        "models[0].capabilityIndex=100:1000:150",
        "--ticks",
        "200",
        "--out",
        str(rows),
        "--plot",
        str(plot),
        cwd=tmp_path,
    )
    assert "basin losses begin between models[0].capabilityIndex" in result.stdout
    with rows.open() as handle:
        table = list(csv.DictReader(handle))
    assert [float(r["models[0].capabilityIndex"]) for r in table] == [
        100,
        250,
        400,
        550,
        700,
        850,
        1000,
    ]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    bad = kairos(
        "sweep",
        str(scenario_file),
        "--vary",
        "models[3].capabilityIndex=1,2",
        "--ticks",
        "10",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(bad, "does not exist in the scenario")
    bad_range = kairos(
        "sweep",
        str(scenario_file),
        "--vary",
        "seed=5:1:1",
        "--ticks",
        "10",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(bad_range, "needs A <= B")


def test_demo_runs_the_documented_sweep(tmp_path: Path) -> None:
    result = kairos("demo", "--plot", str(tmp_path / "demo.png"), cwd=tmp_path)
    assert "51 simulations of 500 ticks" in result.stdout
    assert "threshold: basin losses begin between capability" in result.stdout
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_api_lists_the_procedures(tmp_path: Path) -> None:
    text = kairos("api", cwd=tmp_path).stdout
    assert "client.simulation.create(scenario, ticks" in text
    assert "client.simulation.stream(id" in text


def test_run_without_out_or_pin_reports_the_servers_version(
    tmp_path: Path, scenario_file: Path
) -> None:
    result = kairos("run", str(scenario_file), "--ticks", "40", cwd=tmp_path)
    assert f"engine version     {engine.DEFAULT_VERSION}" in result.stdout
    assert "simulation         sim_" in result.stdout
    assert "ticks              40" in result.stdout
