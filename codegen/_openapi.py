"""The OpenAPI target: ``generated/openapi.json``, the HTTP procedures as they are on the wire.

tRPC v11 over HTTP without a data transformer: a query is ``GET /trpc/<path>?input=<JSON>``
(the input JSON-encoded in one query parameter), a mutation is ``POST /trpc/<path>`` with the
input as the JSON body; a result comes as ``{"result": {"data": ...}}`` and an error as
``{"error": <ErrorShape>}`` with the HTTP status of its code. Subscriptions are not plain HTTP
calls and are left out (the WebSocket and SSE transports are tRPC's, described in
docs/server.md). Components are the schema's ``$defs``, with references rewritten.

The status of each error code comes from ``src/kairos/_trpc/codes.py`` (the table of
@trpc/server 11.25.2), loaded as a file: the sans-I/O core is the one source of that table.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from codegen._schema import ApiSchema, ProcedureDef, SchemaError

OPENAPI_VERSION = "3.1.0"
CODES_FILE = Path(__file__).resolve().parent.parent / "src" / "kairos" / "_trpc" / "codes.py"
# Component names the document adds next to the models.
_ERROR_RESPONSE = "TRPCErrorResponse"
_SECURITY = "apiKey"


def error_statuses() -> dict[int, list[str]]:
    """The error code keys answering with each HTTP status, from ``_trpc/codes.py``."""
    spec = importlib.util.spec_from_file_location("_kairos_codegen_codes", CODES_FILE)
    if spec is None or spec.loader is None:
        raise SchemaError(f"cannot load the error code table {CODES_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    statuses: dict[int, list[str]] = {}
    for code in module.ERROR_CODES.values():
        statuses.setdefault(code.http_status, []).append(code.key)
    return dict(sorted(statuses.items()))


def generate_openapi(schema: ApiSchema) -> str:
    """The OpenAPI 3.1 document, as indented JSON with a final newline."""
    if _ERROR_RESPONSE in schema.defs:
        raise SchemaError(f"$defs/{_ERROR_RESPONSE}: the name is taken by the OpenAPI target")
    statuses = error_statuses()
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": str(schema.document.get("title", "KAIROS API")),
            "version": schema.api_version,
            "description": _info_description(schema),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:8787", "description": "kairos serve (default)"}],
        "security": [{}, {_SECURITY: []}],
        "tags": [
            {"name": router, "description": f"The {router} procedures."}
            for router in schema.routers()
        ],
        "paths": {
            f"/trpc/{p.path}": _path_item(p, statuses)
            for p in schema.procedures
            if p.kind != "subscription"
        },
        "components": {
            "schemas": {
                **{name: _rewrite(d, schema.defs) for name, d in schema.defs.items()},
                _ERROR_RESPONSE: {
                    "type": "object",
                    "description": "A failed call: the tRPC error shape under `error`.",
                    "properties": {"error": _error_shape(schema)},
                    "required": ["error"],
                    "additionalProperties": False,
                },
            },
            "responses": {
                f"Error{status}": {
                    "description": f"HTTP {status}: tRPC error code {' or '.join(keys)}.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{_ERROR_RESPONSE}"}
                        }
                    },
                }
                for status, keys in statuses.items()
            },
            "securitySchemes": {
                _SECURITY: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of the server (kairos serve --api-key), when it "
                    "has any; a server without keys takes calls without one.",
                }
            },
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _error_shape(schema: ApiSchema) -> dict[str, Any]:
    """The schema's ErrorShape model, or tRPC's default shape for a schema without one."""
    if "ErrorShape" in schema.defs:
        return {"$ref": "#/components/schemas/ErrorShape"}
    return {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "code": {"type": "integer"},
            "data": {"type": "object"},
        },
        "required": ["message", "code", "data"],
    }


def _info_description(schema: ApiSchema) -> str:
    subscriptions = [p.path for p in schema.procedures if p.kind == "subscription"]
    text = (
        f"{schema.document.get('description', '')}\n\n"
        "The tRPC v11 HTTP wire of `kairos serve`, without a data transformer: a query is "
        "`GET /trpc/<path>?input=<JSON>` (the input JSON-encoded in the `input` query "
        "parameter), a mutation is `POST /trpc/<path>` with the input as a JSON body. A "
        'result is `{"result": {"data": ...}}`; an error is `{"error": {...}}` (the tRPC '
        "error shape) with the HTTP status of its code."
    )
    if subscriptions:
        text += (
            f" Subscriptions ({', '.join(subscriptions)}) are not plain HTTP calls and are not "
            "described here: use a tRPC client (WebSocket at `/trpc`)."
        )
    return text


def _path_item(procedure: ProcedureDef, statuses: dict[int, list[str]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": procedure.path.replace(".", "_"),
        "summary": procedure.description.split(". ")[0].rstrip("."),
        "description": f"{procedure.description}\n\ntRPC {procedure.kind} `{procedure.path}`.",
        "tags": [procedure.router],
    }
    input_ref = (
        {"$ref": f"#/components/schemas/{procedure.input_def}"} if procedure.input_def else None
    )
    if procedure.kind == "query" and input_ref is not None:
        operation["parameters"] = [
            {
                "name": "input",
                "in": "query",
                "required": True,
                "description": f"The input ({procedure.input_def}), JSON-encoded.",
                "content": {"application/json": {"schema": input_ref}},
            }
        ]
    elif procedure.kind == "mutation" and input_ref is not None:
        operation["requestBody"] = {
            "required": True,
            "description": f"The input ({procedure.input_def}).",
            "content": {"application/json": {"schema": input_ref}},
        }
    result = {
        "type": "object",
        "properties": {
            "result": {
                "type": "object",
                "properties": {"data": {"$ref": f"#/components/schemas/{procedure.output_def}"}},
                "required": ["data"],
            }
        },
        "required": ["result"],
    }
    operation["responses"] = {
        "200": {
            "description": f"The result: {procedure.output_def} under result.data.",
            "content": {"application/json": {"schema": result}},
        },
        **{str(status): {"$ref": f"#/components/responses/Error{status}"} for status in statuses},
    }
    if not procedure.retry_safe:
        operation["x-trpc-retry-safe"] = False
    method = "get" if procedure.kind == "query" else "post"
    return {method: operation}


def _rewrite(node: Any, defs: dict[str, Any]) -> Any:
    """A copy of a schema node with ``#/$defs/X`` references as ``#/components/schemas/X``, and
    each discriminator's mapping spelled out (OpenAPI would otherwise take the component names
    for the discriminating values)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = "#/components/schemas/" + value.removeprefix("#/$defs/")
            elif key == "discriminator" and isinstance(value, dict):
                out[key] = _discriminator(value, node.get("oneOf", []), defs)
            else:
                out[key] = _rewrite(value, defs)
        return out
    if isinstance(node, list):
        return [_rewrite(item, defs) for item in node]
    return copy.deepcopy(node)


def _discriminator(
    discriminator: dict[str, Any], branches: list[Any], defs: dict[str, Any]
) -> dict[str, Any]:
    name = discriminator.get("propertyName")
    mapping = {}
    for branch in branches:
        ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        value = (target.get("properties", {}).get(name) or {}).get("const")
        if not isinstance(value, str):
            raise SchemaError(
                f"discriminator {name!r}: every branch must be a $ref to a model whose {name} "
                f"is a string const ({ref or branch!r} is not)"
            )
        mapping[value] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
    return {**discriminator, "mapping": mapping}


__all__ = ["OPENAPI_VERSION", "error_statuses", "generate_openapi"]
