"""The OpenAPI target (generated/openapi.json): the HTTP procedures as they are on the wire, the
document ``kairos serve`` serves at /openapi.json, a standard linter's verdict, and a client
made from it by standard generators calling a real server."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest

from codegen import load_schema
from codegen._openapi import error_statuses, generate_openapi
from tests._node import KairosServe
from tests.generator._node_targets import (
    GENERATED,
    OPENAPI,
    ROOT,
    bin_path,
    node_project,
    run_node,
    target_tools,
    tsc,
)

SCHEMA = load_schema(ROOT / "schema" / "kairos.schema.json")
DOCUMENT: dict[str, Any] = json.loads(OPENAPI.read_text())
PROGRAM = ROOT / "tests" / "node" / "openapi"


def test_the_document_is_generated_and_shipped_byte_for_byte() -> None:
    text = generate_openapi(SCHEMA)
    assert OPENAPI.read_text(encoding="utf-8") == text
    assert (GENERATED / "kairos_api" / "openapi.json").read_text(encoding="utf-8") == text
    assert generate_openapi(load_schema(ROOT / "schema" / "kairos.schema.json")) == text


def test_queries_are_gets_with_a_json_input_and_mutations_are_posts() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    assert DOCUMENT["info"]["version"] == SCHEMA.api_version
    http_procedures = [p for p in SCHEMA.procedures if p.kind != "subscription"]
    assert sorted(DOCUMENT["paths"]) == sorted(f"/trpc/{p.path}" for p in http_procedures)
    for procedure in http_procedures:
        item = DOCUMENT["paths"][f"/trpc/{procedure.path}"]
        method = "get" if procedure.kind == "query" else "post"
        assert list(item) == [method], procedure.path
        operation = item[method]
        ref = {"$ref": f"#/components/schemas/{procedure.input_def}"}
        if procedure.input_def is None:
            assert "parameters" not in operation and "requestBody" not in operation
        elif procedure.kind == "query":
            (parameter,) = operation["parameters"]
            assert parameter["name"] == "input" and parameter["in"] == "query"
            assert parameter["content"] == {"application/json": {"schema": ref}}
        else:
            assert operation["requestBody"]["content"] == {"application/json": {"schema": ref}}
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["properties"]["result"]["properties"]["data"] == {
            "$ref": f"#/components/schemas/{procedure.output_def}"
        }
        errors = {k: v for k, v in operation["responses"].items() if k != "200"}
        assert errors == {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in
                          error_statuses()}  # fmt: skip


def test_each_error_status_names_its_codes_from_the_table() -> None:
    statuses = error_statuses()
    assert statuses[400] == ["PARSE_ERROR", "BAD_REQUEST"]
    assert statuses[404] == ["NOT_FOUND"]
    assert statuses[499] == ["CLIENT_CLOSED_REQUEST"]
    assert sum(len(keys) for keys in statuses.values()) == len(SCHEMA.defs["TRPCErrorCode"]["enum"])
    responses = DOCUMENT["components"]["responses"]
    assert responses["Error400"]["description"] == (
        "HTTP 400: tRPC error code PARSE_ERROR or BAD_REQUEST."
    )
    envelope = DOCUMENT["components"]["schemas"]["TRPCErrorResponse"]
    assert envelope["properties"]["error"] == {"$ref": "#/components/schemas/ErrorShape"}


def test_components_are_the_defs_with_references_rewritten() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert list(schemas) == [*SCHEMA.defs, "TRPCErrorResponse"]
    assert "#/$defs/" not in OPENAPI.read_text()
    kairos = schemas["ErrorData"]["properties"]["kairos"]
    assert kairos["discriminator"]["mapping"]["validation"] == (
        "#/components/schemas/ValidationErrorDetail"
    )


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def _get(server: KairosServe, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    serve = KairosServe(tmp_path_factory.mktemp("openapi-serve"), "--rate-limit", "0")
    try:
        yield serve
    finally:
        serve.stop()


def test_kairos_serve_serves_the_document_and_answers_as_it_says(server: KairosServe) -> None:
    status, body = _get(server, "/openapi.json")
    assert status == 200
    assert body == OPENAPI.read_bytes()

    get = DOCUMENT["paths"]["/trpc/engine.versions"]["get"]
    status, body = _get(server, "/trpc/engine.versions")
    ok = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert status == 200
    _validator(ok).validate(json.loads(body))

    item = DOCUMENT["paths"]["/trpc/simulation.get"]["get"]
    status, body = _get(server, "/trpc/simulation.get?input=" + quote('{"id":"sim_nope0000"}'))
    assert status == 404
    error = {"$ref": "#/components/schemas/TRPCErrorResponse"}
    _validator(error).validate(json.loads(body))
    assert item["responses"]["404"] == {"$ref": "#/components/responses/Error404"}


def test_the_document_passes_redocly_lint(tmp_path: Path) -> None:
    node_dir = target_tools()
    result = subprocess.run(
        [bin_path("redocly"), "lint", "--config", str(node_dir / "redocly.yaml"),
         "--format", "json", str(OPENAPI)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads(result.stdout)
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, report["problems"]


def test_a_generated_client_calls_kairos_serve(server: KairosServe, tmp_path: Path) -> None:
    target_tools()
    project = node_project(tmp_path / "project")
    shutil.copy(PROGRAM / "client.ts", project)
    shutil.copy(PROGRAM / "tsconfig.json", project)
    types = subprocess.run(
        [bin_path("openapi-typescript"), str(OPENAPI), "--default-non-nullable", "false",
         "-o", str(project / "kairos-openapi.d.ts")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert types.returncode == 0, types.stdout + types.stderr
    assert '"/trpc/simulation.create"' in (project / "kairos-openapi.d.ts").read_text()
    compiled = tsc("-p", "tsconfig.json", cwd=project)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    run = run_node(project / "client.js", "--url", server.url, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr + server.log()[-2000:]
    report = json.loads(run.stdout)
    assert report["created"]["id"].startswith("sim_")
    assert report["error"] == "NOT_FOUND"
