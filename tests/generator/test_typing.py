"""Typed autocompletion holds: mypy --strict accepts a user's script and rejects wrong calls."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPING = ROOT / "tests" / "typing"
_EXPECT = re.compile(r"#\s*expect:\s*([\w-]+)")
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[\w-]+)\]$")


def _mypy(*files: Path) -> list[tuple[str, int, str, str]]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = []
    for line in result.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            name = Path(match["file"]).name
            errors.append((name, int(match["line"]), match["code"], match["msg"]))
        elif ": error:" in line:
            raise AssertionError(f"unparsed mypy output: {line}")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return errors


def test_user_script_passes_and_wrong_calls_are_reported() -> None:
    usage, bad = TYPING / "usage.py", TYPING / "bad_calls.py"
    errors = _mypy(usage, bad)

    assert [e for e in errors if e[0] == "usage.py"] == []

    expected = {
        number: match[1]
        for number, line in enumerate(bad.read_text().splitlines(), start=1)
        if (match := _EXPECT.search(line))
    }
    reported: dict[int, set[str]] = {}
    for name, line, code, _msg in errors:
        if name == "bad_calls.py":
            reported.setdefault(line, set()).add(code)
    assert len(expected) >= 10
    assert sorted(reported) == sorted(expected), "lines with errors differ from the marked lines"
    for line, code in expected.items():
        assert code in reported[line], (
            f"bad_calls.py:{line}: expected [{code}], got {reported[line]}"
        )
