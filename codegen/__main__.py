"""``python -m codegen [--check] [--schema PATH] [--out DIR] [--typescript-out DIR]
[--openapi-out FILE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen._generate import (
    default_paths,
    generate,
    load_schema,
    write_or_check,
    write_or_check_file,
)
from codegen._openapi import generate_openapi
from codegen._schema import SchemaError
from codegen._typescript import generate_typescript


def main(argv: list[str] | None = None) -> int:
    schema_default, out_default = default_paths()
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Generate the kairos_api package (models, procedure stubs, registry), the "
        "kairos-api TypeScript package and the OpenAPI document from the JSON Schema.",
    )
    parser.add_argument("--schema", type=Path, default=schema_default, help="the schema file")
    parser.add_argument("--out", type=Path, default=out_default, help="the package directory")
    parser.add_argument(
        "--typescript-out",
        type=Path,
        default=None,
        help="the TypeScript package directory (default: typescript/ next to --out)",
    )
    parser.add_argument(
        "--openapi-out",
        type=Path,
        default=None,
        help="the OpenAPI document (default: openapi.json next to --out)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the files when the output is stale",
    )
    args = parser.parse_args(argv)
    typescript_out = args.typescript_out or args.out.parent / "typescript"
    openapi_out = args.openapi_out or args.out.parent / "openapi.json"
    try:
        files = generate(args.schema)
        schema = load_schema(args.schema)
        typescript = generate_typescript(schema)
        openapi = generate_openapi(schema)
    except SchemaError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    report = write_or_check(files, args.out, check=args.check)
    report += write_or_check(typescript, typescript_out, check=args.check)
    report += write_or_check_file(openapi, openapi_out, check=args.check)
    count = len(files) + len(typescript) + 1
    targets = f"{args.out}, {typescript_out} and {openapi_out}"
    if args.check:
        if report:
            print("codegen: generated code is stale; run scripts/generate:", file=sys.stderr)
            for line in report:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"codegen: {targets} are up to date ({count} files)")
        return 0
    for line in report:
        print(f"wrote {line}")
    print(f"codegen: {targets} are up to date ({count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
