"""The TypeScript target (generated/typescript, the kairos-api package): what it exports, that
@trpc/client 11.25.2 types every call from KairosRouter under tsc --strict, that wrong uses fail
to compile, and that a program on it runs against a real ``kairos serve``."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen import load_schema
from codegen._typescript import generate_typescript
from tests._node import KairosServe, NodeFixtureServer
from tests.generator._edits import add_pause_procedure
from tests.generator._node_targets import (
    ROOT,
    TS_PACKAGE,
    node_project,
    run_node,
    server_streams_over_http,
    target_tools,
    tsc,
)

SCHEMA = load_schema(ROOT / "schema" / "kairos.schema.json")
PROGRAMS = ROOT / "tests" / "node" / "typescript"
STREAMING_CHECKS = ["stream (httpSubscriptionLink)", "batch (httpBatchStreamLink)"]
_DIAGNOSTIC = re.compile(r"^(?P<file>[^(\s]+)\((?P<line>\d+),\d+\): error (?P<code>TS\d+):", re.M)


@pytest.fixture(scope="module")
def node_dir() -> Path:
    return target_tools()


def test_package_json_points_at_typescript_sources() -> None:
    package = json.loads((TS_PACKAGE / "package.json").read_text())
    assert package["name"] == "kairos-api"
    assert package["version"] == SCHEMA.api_version
    assert package["types"] == "./index.ts"
    assert package["exports"] == {".": {"types": "./index.ts"}}
    assert "@trpc/server" in package["peerDependencies"]
    assert sorted(p.name for p in TS_PACKAGE.iterdir()) == ["README.md", "index.ts", "package.json"]


def test_every_model_is_exported_under_its_defs_name() -> None:
    index = (TS_PACKAGE / "index.ts").read_text()
    exported = re.findall(r"^export type (\w+)", index, re.M)
    assert exported == [*SCHEMA.defs, "KairosRootTypes", "TrackedEvent", "KairosRouter"]


def test_the_typescript_types_follow_the_schema() -> None:
    index = (TS_PACKAGE / "index.ts").read_text()
    # required, optional with a default, nullable, enum, const discriminator, open object
    assert "  scenario: Scenario;\n  /**" in index  # CreateSimulationInput.scenario: required
    assert "  completedAt?: string | null;" in index
    assert "  organizationId: string | null;" in index
    assert 'export type Phase = "resonant" | "volatile" | "stagnant";' in index
    assert '  kind: "validation";' in index
    assert "  agents: { [key: string]: AgentState };" in index
    error_data = index[index.index("export type ErrorData") :]
    assert error_data.index("[key: string]: unknown;") < error_data.index("};")
    assert "  /** The error code key. */\n  code: TRPCErrorCode;" in index  # TSDoc
    assert "   * @default 50\n" in index
    assert (
        "      create: TRPCMutationProcedure<{ input: CreateSimulationInput; output: Simulation;"
        in index
    )
    assert "output: AsyncIterable<TrackedEvent<TraceChunk>, void, unknown>;" in index
    assert "errorShape: ErrorShape;\n  transformer: false;" in index


def test_generation_is_byte_reproducible() -> None:
    first = generate_typescript(SCHEMA)
    assert first == generate_typescript(load_schema(ROOT / "schema" / "kairos.schema.json"))
    assert {f.path: f.content for f in first} == {
        p.name: p.read_text(encoding="utf-8") for p in TS_PACKAGE.iterdir()
    }


def test_the_program_type_checks_under_strict(node_dir: Path) -> None:
    config = json.loads((PROGRAMS / "tsconfig.json").read_text())
    assert config["compilerOptions"]["strict"] is True
    result = tsc("-p", "tsconfig.json", cwd=PROGRAMS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_inputs_fields_and_outputs_fail_to_compile_where_marked(node_dir: Path) -> None:
    source = (PROGRAMS / "negative.ts").read_text().splitlines()
    expected = {
        (number, match.group(1))
        for number, line in enumerate(source, start=1)
        if (match := re.search(r"// expect (TS\d+)$", line))
    }
    assert len(expected) >= 12
    result = tsc("-p", "tsconfig.negative.json", cwd=PROGRAMS)
    assert result.returncode == 2, result.stdout + result.stderr
    found = {(int(m.group("line")), m.group("code")) for m in _DIAGNOSTIC.finditer(result.stdout)}
    assert {m.group("file") for m in _DIAGNOSTIC.finditer(result.stdout)} == {"negative.ts"}
    assert found == expected, result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    serve = KairosServe(tmp_path_factory.mktemp("ts-serve"), "--workers", "2", "--rate-limit", "0")
    try:
        yield serve
    finally:
        serve.stop()


def _compiled_program(project: Path) -> Path:
    node_project(project)
    result = tsc("-p", str(PROGRAMS / "tsconfig.json"), "--noEmit", "false", "--outDir",
                 str(project), cwd=PROGRAMS)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "tests" / "node" / "typescript" / "client.js"


def _report(run: subprocess.CompletedProcess[str], log: str) -> list[dict[str, Any]]:
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"client.js printed no report (exit {run.returncode}):\n{run.stdout}\n"
            f"{run.stderr}\n{log[-2000:]}"
        )
    failed = [c for c in report["checks"] if not c["ok"]]
    assert not failed, json.dumps(failed, indent=2)
    assert run.returncode == 0, run.stderr
    return list(report["checks"])


def test_the_program_runs_against_kairos_serve(
    node_dir: Path, server: KairosServe, tmp_path: Path
) -> None:
    script = _compiled_program(tmp_path / "project")
    # The links that need JSONL batches and SSE subscriptions (issue 13, item 1) run when the
    # server speaks them: the wire is asked, so they switch on with the server work.
    streaming = server_streams_over_http(server.url)
    args = ["--url", server.url, *(["--sse"] if streaming else [])]
    names = [c["name"] for c in _report(run_node(script, *args), server.log())]
    assert names[:5] == [
        "create (httpBatchLink)",
        "get (httpLink)",
        "stream (wsLink)",
        "typed error NOT_FOUND (TRPCClientError<KairosRouter>)",
        "typed error BAD_REQUEST with validation details",
    ]
    assert names[5:] == (STREAMING_CHECKS if streaming else [])


def test_the_streaming_links_work_against_official_trpc(node_dir: Path, tmp_path: Path) -> None:
    """The calls over httpSubscriptionLink and httpBatchStreamLink, and the probe that switches
    them on, against the official @trpc/server 11.25.2 in the API's shape (the fixture server):
    what kairos serve must match once it speaks SSE and JSONL."""
    script = _compiled_program(tmp_path / "project")
    fixture = NodeFixtureServer(tmp_path / "fixture")
    try:
        assert server_streams_over_http(fixture.url)
        only = "^create|httpSubscriptionLink|httpBatchStreamLink"
        run = run_node(script, "--url", fixture.url, "--sse", "--only", only)
        names = [c["name"] for c in _report(run, fixture.log())]
    finally:
        fixture.stop()
    assert names == ["create (httpBatchLink)", *STREAMING_CHECKS]


def test_a_regenerated_package_types_a_new_procedure_and_field(
    node_dir: Path, tmp_path: Path
) -> None:
    document = json.loads((ROOT / "schema" / "kairos.schema.json").read_text())
    add_pause_procedure(document)
    schema_path = tmp_path / "kairos.schema.json"
    schema_path.write_text(json.dumps(document, indent=2))
    package = tmp_path / "typescript"
    package.mkdir()
    for generated in generate_typescript(load_schema(schema_path)):
        (package / generated.path).write_text(generated.content, encoding="utf-8")
    (tmp_path / "use.ts").write_text(
        'import { createTRPCClient, httpLink } from "@trpc/client";\n'
        'import type { KairosRouter } from "kairos-api";\n'
        "const client = createTRPCClient<KairosRouter>({\n"
        '  links: [httpLink({ url: "http://127.0.0.1:1/trpc" })],\n'
        "});\n"
        "export async function pause(): Promise<number> {\n"
        '  const record = await client.simulation.pause.mutate({ id: "sim_1", untilTick: 3 });\n'
        '  await client.simulation.pause.mutate({ id: "sim_1", untilTick: "3" });\n'
        "  return record.tick;\n"
        "}\n"
    )
    config = json.loads((PROGRAMS / "tsconfig.json").read_text())
    config["compilerOptions"]["paths"] = {
        "kairos-api": [str(package / "index.ts")],
        "@trpc/server": [str(node_dir / "node_modules/@trpc/server/dist/index.d.mts")],
    }
    config["compilerOptions"]["typeRoots"] = [str(node_dir / "node_modules" / "@types")]
    config["files"] = ["use.ts"]
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    (tmp_path / "node_modules").symlink_to(node_dir / "node_modules", target_is_directory=True)
    result = tsc("-p", "tsconfig.json", cwd=tmp_path)
    found = [(int(m.group("line")), m.group("code")) for m in _DIAGNOSTIC.finditer(result.stdout)]
    assert found == [(8, "TS2322")], result.stdout


def test_the_readme_quickstart_type_checks(node_dir: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Using the API from other languages") :]
    quickstart = section[
        section.index("```ts\n") + 6 : section.index("```\n", section.index("```ts"))
    ]
    assert "createTRPCClient<KairosRouter>" in quickstart
    (tmp_path / "quickstart.ts").write_text(quickstart)
    config = json.loads((PROGRAMS / "tsconfig.json").read_text())
    config["compilerOptions"]["paths"] = {
        "kairos-api": [str(TS_PACKAGE / "index.ts")],
        "@trpc/server": [str(node_dir / "node_modules/@trpc/server/dist/index.d.mts")],
    }
    config["compilerOptions"]["typeRoots"] = [str(node_dir / "node_modules" / "@types")]
    config["files"] = ["quickstart.ts"]
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    node_project(tmp_path)
    result = tsc("-p", "tsconfig.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
