"""The pydantic models, produced by datamodel-code-generator from the schema's ``$defs``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from codegen._schema import ApiSchema, SchemaError, frozen_models

# The name datamodel-code-generator gives the document's root; the root describes no model
# (the API lives in $defs), so the generator drops it from the output.
_ROOT_NAME = "KairosSchemaDocument"
_ROOT_KEYS = ("title", "description", "$id", "x-api-version", "x-trpc-procedures")

# Every flag is explicit, so that a new datamodel-code-generator default cannot change the output
# silently (its version is pinned too).
DATAMODEL_CODEGEN_ARGS = (
    "--input-file-type=jsonschema",
    "--output-model-type=pydantic_v2.BaseModel",
    "--target-python-version=3.10",
    "--disable-timestamp",
    "--use-annotated",
    "--field-constraints",
    "--enum-field-as-literal=all",
    "--use-type-alias",
    "--strict-nullable",
    "--use-schema-description",
    "--use-field-description",
    "--snake-case-field",
    "--allow-population-by-field-name",
    "--use-standard-collections",
    "--use-union-operator",
    "--formatters=builtin",
    f"--class-name={_ROOT_NAME}",
    "--base-class=_kairos_generated_base.KairosModel",
)

# datamodel-code-generator only takes an absolute base-class path; the models import it from the
# package's own _base module (rendered from codegen/templates/_base.py.jinja), relatively, so
# that a package generated under another name stays self-contained.
_BASE_IMPORT = "from _kairos_generated_base import KairosModel"
_RELATIVE_BASE_IMPORT = "from ._base import KairosModel"


def generate_models(schema: ApiSchema, workdir: Path, header: str) -> str:
    """Run datamodel-code-generator on the schema's ``$defs`` and return the module's text."""
    if _ROOT_NAME in schema.defs:
        raise SchemaError(f"$defs/{_ROOT_NAME}: this name is reserved by the generator")
    document = {k: v for k, v in schema.document.items() if k not in _ROOT_KEYS}
    source = workdir / "kairos.schema.json"
    source.write_text(json.dumps(document, indent=2, sort_keys=False), encoding="utf-8")
    # Per-model template data: "x-frozen" models get ``ConfigDict(frozen=True)``.
    extra = workdir / "extra-template-data.json"
    extra.write_text(
        json.dumps({name: {"frozen": True} for name in frozen_models(schema.defs)}, indent=2),
        encoding="utf-8",
    )
    output = workdir / "models.py"
    command = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        f"--input={source.name}",
        f"--output={output.name}",
        f"--custom-file-header={header}",
        f"--extra-template-data={extra.name}",
        *DATAMODEL_CODEGEN_ARGS,
    ]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SchemaError(f"datamodel-code-generator failed:\n{result.stderr.strip()}")
    text = output.read_text(encoding="utf-8")
    if text.count(_BASE_IMPORT) != 1:
        raise SchemaError("datamodel-code-generator did not import the models' base class")
    text = text.replace(_BASE_IMPORT, _RELATIVE_BASE_IMPORT)
    text = _drop_root(text)
    _check_defs_present(text, schema)
    return text


def _drop_root(text: str) -> str:
    """Remove the root alias (and its docstring, if any) from the generated module."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    body = tree.body
    for index, node in enumerate(body):
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.ClassDef):
            targets = [node.name]
        if _ROOT_NAME not in targets:
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        following = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            end = following.end_lineno or end
        return "".join(lines[: start - 1] + lines[end:])
    return text


def _check_defs_present(text: str, schema: ApiSchema) -> None:
    tree = ast.parse(text)
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    missing = sorted(set(schema.defs) - names)
    if missing:
        raise SchemaError(
            "datamodel-code-generator renamed or dropped these models: " + ", ".join(missing)
        )
