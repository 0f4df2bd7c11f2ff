"""Loading the API schema and reading its tRPC procedure table (``x-trpc-procedures``)."""

from __future__ import annotations

import hashlib
import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as MetaSchemaError

PROCEDURE_KINDS = ("query", "mutation", "subscription")
_DEF_PREFIX = "#/$defs/"
_IDENTIFIER = re.compile(r"^[a-z][a-zA-Z0-9]*$")


class SchemaError(Exception):
    """The schema cannot be turned into a package; the message says where and why."""


@dataclass(frozen=True)
class ProcedureDef:
    """One row of the procedure table."""

    path: str
    kind: str
    input_def: str | None
    output_def: str
    retry_safe: bool
    description: str
    idempotency_key_field: str | None = None
    tracked: bool = False

    @property
    def router(self) -> str:
        return self.path.split(".")[0]

    @property
    def name(self) -> str:
        return self.path.split(".")[1]

    @property
    def constant(self) -> str:
        """The registry constant's name: ``simulation.create`` -> ``SIMULATION_CREATE``."""
        return "_".join(snake_case(part).upper() for part in self.path.split("."))


@dataclass(frozen=True)
class ApiSchema:
    """A loaded, checked schema document."""

    path: Path
    document: dict[str, Any]
    raw: bytes
    procedures: tuple[ProcedureDef, ...]

    @property
    def defs(self) -> dict[str, Any]:
        defs: dict[str, Any] = self.document["$defs"]
        return defs

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def api_version(self) -> str:
        return str(self.document.get("x-api-version", "0.0.0"))

    def routers(self) -> dict[str, list[ProcedureDef]]:
        """Procedures grouped by router, in table order."""
        grouped: dict[str, list[ProcedureDef]] = {}
        for procedure in self.procedures:
            grouped.setdefault(procedure.router, []).append(procedure)
        return grouped


def snake_case(name: str) -> str:
    """``capabilityIndex`` -> ``capability_index``; Python keywords get a trailing ``_``."""
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    out = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", out).lower()
    return out + "_" if keyword.iskeyword(out) else out


def def_name(ref: str, where: str) -> str:
    if not isinstance(ref, str) or not ref.startswith(_DEF_PREFIX):
        raise SchemaError(f"{where}: expected a reference of the form '#/$defs/Name', got {ref!r}")
    return ref[len(_DEF_PREFIX) :]


def load_schema(path: Path) -> ApiSchema:
    """Read, validate against the 2020-12 metaschema, and check the procedure table."""
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SchemaError(f"{path}: the schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(document)
    except MetaSchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise SchemaError(
            f"{path}: not a valid JSON Schema 2020-12 at {where}: {exc.message}"
        ) from exc
    defs = document.get("$defs")
    if not isinstance(defs, dict) or not defs:
        raise SchemaError(f"{path}: the schema has no $defs")
    for name, definition in defs.items():
        if not re.match(r"^[A-Z][A-Za-z0-9]*$", name):
            raise SchemaError(f"$defs/{name}: model names must be PascalCase identifiers")
        if not isinstance(definition, dict) or not definition.get("description"):
            raise SchemaError(
                f"$defs/{name}: every model needs a description (it becomes a docstring)"
            )
        for field, prop in (definition.get("properties") or {}).items():
            if not prop.get("description"):
                raise SchemaError(f"$defs/{name}.{field}: every field needs a description")
    procedures = tuple(_read_procedures(document, defs))
    _check_frozen(defs, procedures)
    return ApiSchema(path=path, document=document, raw=raw, procedures=procedures)


def frozen_models(defs: dict[str, Any]) -> list[str]:
    """The models marked ``"x-frozen": true``: immutable after validation (results)."""
    return [name for name, definition in defs.items() if definition.get("x-frozen") is True]


def _refs(node: Any) -> set[str]:
    """The names of the models a schema node refers to, at any depth."""
    if isinstance(node, dict):
        found = {def_name(node["$ref"], "$ref")} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _check_frozen(defs: dict[str, Any], procedures: tuple[ProcedureDef, ...]) -> None:
    """Results are immutable: every procedure output is frozen, and so is every model a frozen
    model holds (a frozen model with a mutable part would be immutable in name only)."""
    for name, definition in defs.items():
        if "x-frozen" in definition and not isinstance(definition["x-frozen"], bool):
            raise SchemaError(f"$defs/{name}: x-frozen must be true or false")
    frozen = set(frozen_models(defs))
    for procedure in procedures:
        if procedure.output_def not in frozen:
            raise SchemaError(
                f"x-trpc-procedures ({procedure.path}): the output model "
                f'{procedure.output_def} must be frozen ("x-frozen": true): results are immutable'
            )
    for name in sorted(frozen):
        for ref in sorted(_refs(defs[name])):
            if ref in defs and defs[ref].get("type") == "object" and ref not in frozen:
                raise SchemaError(
                    f"$defs/{name}: a frozen model holds {ref}, which must be frozen too "
                    '("x-frozen": true)'
                )


def _read_procedures(document: dict[str, Any], defs: dict[str, Any]) -> list[ProcedureDef]:
    table = document.get("x-trpc-procedures")
    if not isinstance(table, list) or not table:
        raise SchemaError("x-trpc-procedures: expected a non-empty list of procedures")
    seen: set[str] = set()
    procedures = []
    for index, row in enumerate(table):
        where = f"x-trpc-procedures[{index}]"
        if not isinstance(row, dict):
            raise SchemaError(f"{where}: expected an object")
        path = row.get("path")
        if not isinstance(path, str) or len(path.split(".")) != 2:
            raise SchemaError(f"{where}: path must be 'router.procedure', got {path!r}")
        where = f"{where} ({path})"
        if not all(_IDENTIFIER.match(part) for part in path.split(".")):
            raise SchemaError(f"{where}: path parts must be camelCase identifiers")
        if path in seen:
            raise SchemaError(f"{where}: duplicate procedure path")
        seen.add(path)
        kind = row.get("kind")
        if kind not in PROCEDURE_KINDS:
            raise SchemaError(f"{where}: kind must be one of {', '.join(PROCEDURE_KINDS)}")
        if not isinstance(row.get("retrySafe"), bool):
            raise SchemaError(f"{where}: retrySafe must be true or false")
        description = row.get("description")
        if not isinstance(description, str) or not description:
            raise SchemaError(f"{where}: a description is required (it becomes a docstring)")
        input_def = None
        if row.get("input") is not None:
            input_def = def_name(row["input"].get("$ref"), f"{where}.input")
            _check_input_model(input_def, defs, where)
        output = row.get("output")
        if not isinstance(output, dict):
            raise SchemaError(f"{where}: output must be a $ref")
        output_def = def_name(output.get("$ref"), f"{where}.output")
        if output_def not in defs:
            raise SchemaError(f"{where}.output: no model named {output_def!r} in $defs")
        key_field = row.get("idempotencyKeyField")
        if key_field is not None:
            props = defs[input_def]["properties"] if input_def else {}
            if key_field not in props:
                raise SchemaError(
                    f"{where}: idempotencyKeyField {key_field!r} is not an input field"
                )
        tracked = bool(row.get("tracked", False))
        if tracked and kind != "subscription":
            raise SchemaError(f"{where}: only subscriptions can be tracked")
        procedures.append(
            ProcedureDef(
                path=path,
                kind=kind,
                input_def=input_def,
                output_def=output_def,
                retry_safe=row["retrySafe"],
                description=description,
                idempotency_key_field=key_field,
                tracked=tracked,
            )
        )
    return procedures


def _check_input_model(name: str, defs: dict[str, Any], where: str) -> None:
    definition = defs.get(name)
    if definition is None:
        raise SchemaError(f"{where}.input: no model named {name!r} in $defs")
    if definition.get("type") != "object" or "properties" not in definition:
        raise SchemaError(f"{where}.input: {name} must be an object with properties")
    required = set(definition.get("required", []))
    for field, prop in definition["properties"].items():
        # The runtime drops None-valued input fields from the wire, so an input field may be
        # optional or required but never nullable: null and "absent" would be indistinguishable.
        if _is_nullable(prop):
            raise SchemaError(f"{where}.input: {name}.{field} must not be nullable")
        if field in required and "default" in prop:
            raise SchemaError(f"{where}.input: {name}.{field} is required and has a default")


def _is_nullable(prop: dict[str, Any]) -> bool:
    types = prop.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(_is_nullable(branch) for branch in prop.get("anyOf", []) + prop.get("oneOf", []))
