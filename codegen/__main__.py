"""``python -m codegen [--check] [--schema PATH] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen._generate import default_paths, generate, write_or_check
from codegen._schema import SchemaError


def main(argv: list[str] | None = None) -> int:
    schema_default, out_default = default_paths()
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Generate the kairos_api package (models, procedure stubs, registry) "
        "from the JSON Schema.",
    )
    parser.add_argument("--schema", type=Path, default=schema_default, help="the schema file")
    parser.add_argument("--out", type=Path, default=out_default, help="the package directory")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the files when the package is stale",
    )
    args = parser.parse_args(argv)
    try:
        files = generate(args.schema)
    except SchemaError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    report = write_or_check(files, args.out, check=args.check)
    if args.check:
        if report:
            print("codegen: generated code is stale; run scripts/generate:", file=sys.stderr)
            for line in report:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"codegen: {args.out} is up to date ({len(files)} files)")
        return 0
    for line in report:
        print(f"wrote {line}")
    print(f"codegen: {args.out} is up to date ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
