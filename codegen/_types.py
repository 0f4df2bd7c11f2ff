"""Python annotations for procedure parameters, written from the schema.

The models themselves come from datamodel-code-generator; this module only spells the types of
the keyword arguments of the generated stubs, which refer to those models by name.
"""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from codegen._schema import SchemaError, def_name, snake_case

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@dataclass(frozen=True)
class Param:
    """One keyword argument of a generated stub: one field of the procedure's input model."""

    name: str
    wire_name: str
    annotation: str
    required: bool
    default: str | None
    description: str

    @property
    def signature(self) -> str:
        if self.required:
            return f"{self.name}: {self.annotation}"
        return f"{self.name}: {self.annotation} = {self.default}"


def params_of(model_name: str, defs: dict[str, Any], shadowed: Set[str]) -> list[Param]:
    """The stub parameters for the fields of input model ``model_name``.

    ``shadowed`` holds names that a method of the namespace class hides inside its body (such as
    ``list``); annotations refer to those builtins through ``builtins.``.
    """
    definition = defs[model_name]
    required = set(definition.get("required", []))
    params = []
    for wire_name, prop in definition["properties"].items():
        where = f"$defs/{model_name}.{wire_name}"
        annotation = annotation_of(prop, shadowed, where)
        is_required = wire_name in required
        if is_required:
            default = None
        elif "default" in prop:
            default = _python_literal(prop["default"], where)
        else:
            annotation = f"{annotation} | None"
            default = "None"
        params.append(
            Param(
                name=snake_case(wire_name),
                wire_name=wire_name,
                annotation=annotation,
                required=is_required,
                default=default,
                description=prop["description"],
            )
        )
    return params


def annotation_of(prop: dict[str, Any], shadowed: Set[str], where: str) -> str:
    """The annotation for a property schema, referring to generated models as ``models.X``."""
    if "$ref" in prop:
        return f"models.{def_name(prop['$ref'], where)}"
    if "const" in prop:
        return f"Literal[{_literal(prop['const'], where)}]"
    if "enum" in prop:
        return f"Literal[{', '.join(_literal(v, where) for v in prop['enum'])}]"
    for combinator in ("oneOf", "anyOf"):
        if combinator in prop:
            branches = [annotation_of(b, shadowed, where) for b in prop[combinator]]
            return " | ".join(dict.fromkeys(branches))
    kind = prop.get("type")
    if kind in _SCALARS:
        return _builtin(_SCALARS[kind], shadowed)
    if kind == "array":
        item = annotation_of(prop.get("items", {}), shadowed, where) if "items" in prop else "Any"
        return f"{_builtin('list', shadowed)}[{item}]"
    if kind == "object":
        if "properties" in prop:
            raise SchemaError(f"{where}: inline objects are not supported; move it to $defs")
        values = prop.get("additionalProperties")
        value = annotation_of(values, shadowed, where) if isinstance(values, dict) else "Any"
        return f"{_builtin('dict', shadowed)}[str, {value}]"
    if not prop:
        return "Any"
    raise SchemaError(f"{where}: cannot express {json.dumps(prop)} as a parameter type")


def _builtin(name: str, shadowed: Set[str]) -> str:
    return f"builtins.{name}" if name in shadowed else name


def _literal(value: Any, where: str) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int)):
        raise SchemaError(f"{where}: enum values must be strings or integers, got {value!r}")
    return json.dumps(value)


def _python_literal(value: Any, where: str) -> str:
    if isinstance(value, (list, dict)):
        raise SchemaError(f"{where}: input defaults must be scalars, not {type(value).__name__}")
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise SchemaError(f"{where}: unsupported default {value!r}")
