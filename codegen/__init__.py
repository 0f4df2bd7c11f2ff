"""The kairos-sdk code generator: schema/kairos.schema.json -> generated/kairos_api/.

Run it as ``python -m codegen`` (or ``scripts/generate``); ``--check`` reports stale files
instead of writing them. The generator never touches anything outside its output directory.
"""

from codegen._generate import GeneratedFile, generate, write_or_check
from codegen._schema import ApiSchema, ProcedureDef, SchemaError, load_schema

__all__ = [
    "ApiSchema",
    "GeneratedFile",
    "ProcedureDef",
    "SchemaError",
    "generate",
    "load_schema",
    "write_or_check",
]
