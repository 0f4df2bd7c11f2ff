"""Bad command lines: every mistake in flags, values and files is one line on stderr (``kairos:
error: ...``) and exit status 1, never a traceback. Most run ``main()`` in this process (an
escaping exception fails the test just as a traceback would); the issue's own examples run as
the real program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kairos.cli import main

from .test_cli import SCENARIO

LATE = {**SCENARIO, "events": [{"tick": 100, "type": "capability_jump", "target": "model"}]}


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    return path


@pytest.fixture(autouse=True)
def no_server_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIROS_URL", raising=False)
    monkeypatch.delenv("KAIROS_API_KEY", raising=False)


def one_line(capsys: pytest.CaptureFixture[str], status: int, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert status == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kairos: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["run", "{file}", "--ticks", "99999999999"], ["ticks", "between 1 and 10000000"]),
        (["run", "{file}", "--ticks", "10", "--engine-version", "1.4"], ["engine_version"]),
        (["run", "{file}", "--ticks", "10", "--url", "ftp://example.org"], ["url"]),
        (["run", "{file}", "--ticks", "10", "--out", "{tmp}/no/such/dir/t.jsonl"], ["--out"]),
        (["run", "{file}", "--ticks", "10", "--out", "{tmp}"], ["--out", "directory"]),
        (["run", "{file}", "--ticks", "10", "--plot", "{tmp}/no/dir/p.png"], ["--plot"]),
        (["run", "{tmp}/missing.json", "--ticks", "10"], ["no such scenario file"]),
        (["run", "{tmp}", "--ticks", "10"], ["cannot read"]),
        (["stream", "{file}", "--ticks", "99999999999"], ["ticks"]),
        (["sweep", "{file}", "--vary", "x", "--ticks", "10"], ["expected FIELD=VALUES"]),
        (
            ["sweep", "{file}", "--vary", "models[9].capabilityIndex=1,2", "--ticks", "10"],
            ["does not exist"],
        ),
        (["sweep", "{file}", "--vary", "seed=1:3:0", "--ticks", "10"], ["bad range"]),
        (
            ["sweep", "{file}", "--vary", "models[0].capabilityIndex=100,200", "--ticks", "10"],
            ["after the run's last tick"],
        ),
        (
            ["sweep", "{file}", "--vary", "models[0].capabilityIndex=1,5000", "--ticks", "30"],
            ["capabilityIndex"],
        ),
        (
            ["sweep", "{file}", "--vary", "models[0].capabilityIndex=1", "--ticks", "9999999"],
            ["--max-ticks"],
        ),
        (
            [
                "sweep",
                "{file}",
                "--vary",
                "models[0].capabilityIndex=1",
                "--ticks",
                "30",
                "--out",
                "{tmp}/no/dir/rows.csv",
            ],
            ["--out"],
        ),
        (
            [
                "sweep",
                "{file}",
                "--vary",
                "models[0].capabilityIndex=1",
                "--ticks",
                "30",
                "--engine-version",
                "0.0.1",
            ],
            ["0.0.1"],
        ),
    ],
)
def test_bad_values_are_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    scenario_file: Path,
    argv: list[str],
    fragments: list[str],
) -> None:
    args = [a.format(file=scenario_file, tmp=tmp_path) for a in argv]
    one_line(capsys, main(args), *fragments)


def test_an_event_after_the_last_tick_is_refused_with_the_way_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "late.json"
    path.write_text(json.dumps(LATE))
    line = one_line(capsys, main(["run", str(path), "--ticks", "50"]), "events[0].tick")
    assert "drop_late_events" in line
    assert main(["run", str(path), "--ticks", "50", "--drop-late-events"]) == 0
    assert "final phase" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "s.json", "--ticks", "abc"],
        ["run", "s.json", "--ticks", "-5"],
        ["run", "s.json"],
        ["run", "s.json", "--ticks", "5", "--bogus"],
        ["sweep", "s.json", "--ticks", "5"],
        ["sweep", "s.json", "--vary", "seed=1", "--ticks", "5", "--seeds", "0"],
        ["nonsense"],
    ],
)
def test_bad_flags_are_usage_errors_without_a_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("kairos")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "kairos", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_issues_examples_as_the_real_program(tmp_path: Path, scenario_file: Path) -> None:
    too_long = run("run", str(scenario_file), "--ticks", "99999999999", cwd=tmp_path)
    assert too_long.returncode == 1
    assert "Traceback" not in too_long.stderr
    assert too_long.stderr.strip().startswith("kairos: error: ")
    assert len(too_long.stderr.strip().splitlines()) == 1

    seeds = run(
        "sweep",
        str(scenario_file),
        "--vary",
        "models[0].capabilityIndex=100:1000:100",
        "--seeds",
        "3",
        "--ticks",
        "100",
        cwd=tmp_path,
    )
    assert seeds.returncode == 0, seeds.stderr
    out: Any = seeds.stdout
    for seed in range(3):
        assert f"seed {seed}: " in out
    assert "+/-" in out and "of 3 seeds" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit", "inf"],
        ["--rate-limit", "nan"],  # was rate limiting silently off
        ["--rate-limit", "-1"],
        ["--rate-limit", "5", "--rate-burst", "1", "--api-key", "org="],
        ["--executor", "dask"],
    ],
)
def test_bad_server_options_are_one_line_before_serving(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    db = tmp_path / "k.db"
    one_line(capsys, main(["serve", "--port", "0", "--db", str(db), *argv]))
    assert not db.exists()
