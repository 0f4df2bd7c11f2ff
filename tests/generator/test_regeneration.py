"""Regenerating after a schema change is routine: precise diffs, new API in place, nothing
hand-written touched."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.generator._edits import add_pause_procedure
from tests.generator.conftest import RecordingRuntime

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "kairos.schema.json"
COMMITTED = ROOT / "generated" / "kairos_api"
COMMITTED_TARGETS = (ROOT / "generated" / "typescript", ROOT / "generated" / "openapi.json")


def _generate(schema: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "kairos.schema.json"
    path.write_text(json.dumps(schema, indent=2))
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "codegen", "--schema", str(path), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def _changed_lines(old_dir: Path, new_dir: Path) -> dict[str, tuple[list[str], list[str]]]:
    changes = {}
    for new in sorted(new_dir.rglob("*.py")):
        name = new.relative_to(new_dir).as_posix()
        old_lines = (old_dir / name).read_text().splitlines()
        new_lines = new.read_text().splitlines()
        removed, added = [], []
        for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            (removed if line.startswith("-") else added).append(line[1:].strip())
        if removed or added:
            changes[name] = (removed, added)
    return changes


def _tree_digest(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            skipped = {"__pycache__", "node_modules"}
            if path.is_file() and not skipped & set(path.parts):
                digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_editing_a_description_changes_exactly_the_affected_lines(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    limit = schema["$defs"]["TraceInput"]["properties"]["limit"]
    assert limit["description"] == "The most steps to return."
    limit["description"] = "The largest number of steps to return."
    out = _generate(schema, tmp_path)

    old_hash = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    new_hash = hashlib.sha256((tmp_path / "kairos.schema.json").read_bytes()).hexdigest()
    changes = _changed_lines(COMMITTED, out)
    # The field's docstring in models.py, the Args line of trace and atrace, and the schema hash.
    assert changes == {
        "models.py": (["The most steps to return."], ["The largest number of steps to return."]),
        "namespaces.py": (
            ["limit: The most steps to return."] * 2,
            ["limit: The largest number of steps to return."] * 2,
        ),
        "runtime.py": ([f'SCHEMA_SHA256 = "{old_hash}"'], [f'SCHEMA_SHA256 = "{new_hash}"']),
    }


def test_adding_a_procedure_and_a_field_is_routine(tmp_path: Path) -> None:
    hand_written = (
        ROOT / "src",
        ROOT / "codegen",
        ROOT / "schema",
        ROOT / "tests",
        COMMITTED,
        *COMMITTED_TARGETS,
    )
    before = _tree_digest(*hand_written)

    schema = json.loads(SCHEMA_PATH.read_text())
    schema["$defs"]["CreateSimulationInput"]["properties"]["priority"] = {
        "type": "integer",
        "minimum": 0,
        "maximum": 9,
        "description": "Scheduling priority; higher runs first.",
    }
    add_pause_procedure(schema)
    out = _generate(schema, tmp_path)

    namespaces = (out / "namespaces.py").read_text()
    assert (
        "def pause(self, *, id: str, until_tick: int | None = None) -> models.Simulation:"
        in namespaces
    )
    assert "async def apause(" in namespaces
    assert "priority: int | None = None," in namespaces
    assert (
        "priority: Annotated[int | None, Field(ge=0, le=9)] = None"
        in (out / "models.py").read_text()
    )

    # The other targets, next to --out: the TypeScript package and the OpenAPI document.
    index = (out.parent / "typescript" / "index.ts").read_text()
    assert "export type PauseInput = {" in index
    assert "  untilTick?: number;" in index
    assert "  priority?: number;" in index
    assert (
        "      pause: TRPCMutationProcedure<"
        "{ input: PauseInput; output: Simulation; meta: object }>;" in index
    )
    openapi = json.loads((out.parent / "openapi.json").read_text())
    assert openapi == json.loads((out / "openapi.json").read_text())
    pause = openapi["paths"]["/trpc/simulation.pause"]["post"]
    assert pause["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PauseInput"
    }
    create_input = openapi["components"]["schemas"]["CreateSimulationInput"]
    assert create_input["properties"]["priority"]["maximum"] == 9
    assert "priority" not in create_input.get("required", [])

    package = out.parent / "kairos_api_next"
    out.rename(package)
    sys.path.insert(0, str(package.parent))
    try:
        generated = importlib.import_module(package.name)
    finally:
        sys.path.remove(str(package.parent))
    try:
        assert generated.PROCEDURES["simulation.pause"].kind == "mutation"
        simulation = {
            "id": "sim_1",
            "status": "running",
            "scenarioName": "s",
            "domain": "ai_safety",
            "seed": 1,
            "ticks": 10,
            "tick": 4,
            "engineVersion": "1.5.0",
            "organizationId": None,
            "createdAt": "2026-11-24T10:00:00Z",
        }
        runtime = RecordingRuntime({"simulation.pause": simulation})
        paused = generated.KairosAPI(runtime).simulation.pause(id="sim_1", until_tick=5)
        assert paused.tick == 4
        wire = runtime.calls[0][1].model_dump(by_alias=True, exclude_none=True)
        assert wire == {"id": "sim_1", "untilTick": 5}
    finally:
        for key in [k for k in sys.modules if k.startswith(package.name)]:
            del sys.modules[key]

    assert _tree_digest(*hand_written) == before, "regenerating touched a file outside --out"
