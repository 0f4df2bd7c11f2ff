"""A program that uses the embedded server writes nothing to stderr: no warning from how its
worker processes start, nothing at exit. Checked in subprocesses, where such output shows; also
with every warning turned into an error (``PYTHONWARNINGS=error`` reaches the workers too), so
that a ResourceWarning (a socket or a loop left open) is caught even though Python hides it by
default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCENARIO = {
    "name": "stderr scenario",
    "seed": 5,
    "models": [{"name": "model", "capabilityIndex": 420, "alignmentScore": 70}],
    "events": [{"tick": 20, "type": "capability_jump", "target": "model", "magnitude": 0.3}],
}

RUN = """
    from kairos.client import KairosClient
    from kairos.domains.ai_safety import AISafetyScenario

    scenario = AISafetyScenario("stderr", seed=1).add_model(
        name="m", capability_index=400, alignment_score=70, guardrail_coverage=60
    )
    print(len(KairosClient().run(scenario, ticks=300)))
"""

STREAM_WITHOUT_CLOSE = """
    import asyncio
    from kairos.client import KairosClient
    from kairos.domains.ai_safety import AISafetyScenario

    scenario = AISafetyScenario("stderr", seed=1).add_model(
        name="m", capability_index=400, alignment_score=70, guardrail_coverage=60
    )
    client = KairosClient()
    print(sum(1 for _ in client.stream_run(scenario, ticks=300)))

    async def main():
        print(len(await client.arun(scenario, ticks=300)))

    asyncio.run(main())
"""


def clean_env(warnings: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "KAIROS_API_KEY")}
    env.pop("PYTHONWARNINGS", None)
    if warnings is not None:
        env["PYTHONWARNINGS"] = warnings
    return env


def python(code: str, tmp_path: Path, warnings: str | None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=clean_env(warnings),
    )


@pytest.mark.parametrize("warnings", [None, "error"], ids=["default", "warnings-are-errors"])
def test_a_plain_run_on_the_embedded_server_writes_nothing_to_stderr(
    tmp_path: Path, warnings: str | None
) -> None:
    result = python(RUN, tmp_path, warnings)
    assert result.stderr == ""
    assert result.returncode == 0
    assert result.stdout.strip() == "300"


def test_a_client_never_closed_leaves_nothing_open_at_exit(tmp_path: Path) -> None:
    result = python(STREAM_WITHOUT_CLOSE, tmp_path, "error")
    assert result.stderr == ""
    assert result.returncode == 0
    assert result.stdout.split() == ["300", "300"]


def test_kairos_run_of_a_scenario_file_writes_nothing_to_stderr(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    result = subprocess.run(
        [sys.executable, "-m", "kairos", "run", str(path), "--ticks", "200"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=clean_env("error"),
    )
    assert result.stderr == ""
    assert result.returncode == 0
