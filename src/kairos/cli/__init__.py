"""The ``kairos`` command line: ``serve``, ``run``, ``stream``, ``validate``, ``versions``,
``sweep``, ``demo``, ``observe``, ``scenarios`` and ``api``. Errors print one line and exit
non-zero."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kairos import __version__

if TYPE_CHECKING:
    import argparse

VERSION = f"kairos-sdk {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The ``kairos`` argument parser with every command registered."""
    import argparse

    from kairos.cli import (
        _cmd_demo,
        _cmd_observe,
        _cmd_run,
        _cmd_scenarios,
        _cmd_serve,
        _cmd_sweep,
    )
    from kairos.cli._common import add_command

    parser = argparse.ArgumentParser(
        prog="kairos",
        description="KAIROS stability simulations: run scenarios, stream traces, sweep "
        "parameters, and serve the reference server.",
        epilog="Scenario files are JSON in the API's wire form (see schema/kairos.schema.json). "
        "Client commands use --url/KAIROS_URL and --api-key/KAIROS_API_KEY; with no URL they "
        "start an embedded server in-process.",
    )
    parser.add_argument("--version", action="version", version=VERSION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _cmd_serve.register(commands)
    _cmd_run.register(commands)
    _cmd_sweep.register(commands)
    _cmd_demo.register(commands)
    _cmd_observe.register(commands)
    _cmd_scenarios.register(commands)
    add_command(commands, "api", _api)
    return parser


def _api(args: argparse.Namespace) -> int:
    """list the API's procedures and their Python calls"""
    from kairos._surface import api_surface

    print(api_surface())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(VERSION)  # as the parser's version action prints it, without loading the commands
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)  # --help ends here, before the heavy imports
    import logging

    from kairos.cli._common import CommandError
    from kairos.errors import KairosError, ValidationError

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    try:
        status: int = args.handler(args)
        return status
    except ValidationError as exc:
        # One line: the problems follow the headline, separated by semicolons.
        text = str(exc).replace(":\n  - ", ": ", 1).replace("\n  - ", "; ")
        print(f"kairos: error: {text}", file=sys.stderr)
        return 1
    # OSError: a file named on the command line cannot be read or written.
    except (CommandError, KairosError, OSError) as exc:
        print(f"kairos: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kairos: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
