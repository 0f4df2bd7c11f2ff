"""``python -m kairos``: the command line."""

from __future__ import annotations

import argparse
import sys

from kairos import __version__
from kairos._surface import api_surface


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kairos", description="KAIROS stability simulations.")
    parser.add_argument("--version", action="version", version=f"kairos-sdk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the demonstration job")
    commands.add_parser("api", help="list the API's procedures")
    args = parser.parse_args(argv)
    if args.command in ("demo", "api"):
        print(f"kairos-sdk {__version__}: the KAIROS API (sync calls; async twins prefixed 'a')\n")
        print(api_surface())
    return 0


if __name__ == "__main__":
    sys.exit(main())
