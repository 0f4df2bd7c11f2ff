"""``kairos versions``: each version once, retired ones marked once (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kairos.engine import engine_versions


def test_versions_marks_retired_versions_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "kairos", "versions"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    retired = engine_versions()["retired"]
    assert retired
    for entry in retired:
        (line,) = [line for line in lines if f" {entry['version']} " in line]
        assert line.lower().count("retired") == 1, line
        assert "retired: " in line
        assert entry["notes"].removeprefix("Retired: ")[:40] in line
