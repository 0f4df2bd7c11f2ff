"""An MkDocs hook: the CLI reference page shows ``kairos --help`` as the installed CLI prints it.

A page line ``<!-- kairos-cli-help -->`` becomes the help of ``kairos`` and of every
subcommand, taken from :func:`kairos.cli.build_parser` at build time, so the page cannot drift
from the code. The width is fixed so that the page does not depend on the terminal.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- kairos-cli-help -->"
WIDTH = "96"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_help_markdown() -> str:
    """The help texts of ``kairos`` and its subcommands, one section each."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        from kairos.cli import build_parser

        parser = build_parser()
        sections = [f"```text\n{parser.format_help().rstrip()}\n```"]
        for name, sub in _subcommands(parser).items():
            sections.append(f"## `kairos {name}`\n\n```text\n{sub.format_help().rstrip()}\n```")
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n\n".join(sections)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_help_markdown())
