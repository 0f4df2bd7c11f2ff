"""What the commands share: loading scenario files, making a client, reporting errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # imported when a scenario is loaded: ``kairos --version`` stays fast
    from kairos.domains.ai_safety import AISafetyScenario


class CommandError(Exception):
    """A problem to report on one line (``kairos: error: ...``) before exiting with 1."""


def fail(message: str) -> NoReturn:
    raise CommandError(message)


def load_scenario(path: Path) -> AISafetyScenario:
    """A scenario file (the schema's JSON form), with every problem reported at once."""
    if str(path) == "-":
        text = sys.stdin.read()
        where = "<stdin>"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"no such scenario file: {path}")
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror}")
        where = str(path)
    import json

    try:
        wire = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    from kairos.domains.ai_safety import AISafetyScenario

    return AISafetyScenario.from_wire(wire)


def add_scenario_arguments(
    parser: argparse.ArgumentParser, *, ticks_help: str | None = None
) -> None:
    """The scenario file a command reads and, given its help text, the run length ``--ticks``."""
    parser.add_argument("scenario", type=Path, help="scenario JSON file (- for stdin)")
    if ticks_help is not None:
        parser.add_argument("--ticks", type=positive_int, required=True, help=ticks_help)


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help="server URL (default: KAIROS_URL, else an embedded server in this process)",
    )
    parser.add_argument(
        "--api-key", default=None, help="API key (default: KAIROS_API_KEY; never printed)"
    )
    parser.add_argument(
        "--engine-version", default=None, metavar="V", help="pin an engine version, e.g. 1.4.4"
    )


def make_client(args: argparse.Namespace) -> Any:
    from kairos.client import KairosClient

    return KairosClient(url=args.url, api_key=args.api_key, engine_version=args.engine_version)


def positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def check_output(path: Path | None, flag: str) -> None:
    """Fail now, before any work, if ``path`` cannot be written as a file later."""
    if path is None:
        return
    if path.is_dir():
        fail(f"{flag} {path}: is a directory, not a file")
    if not path.absolute().parent.is_dir():
        fail(f"{flag} {path}: the directory {path.absolute().parent} does not exist")


def check_outputs(args: argparse.Namespace) -> None:
    """Fail now, before any work, if ``--out`` or ``--plot`` cannot be written later."""
    check_output(args.out, "--out")
    check_output(args.plot, "--plot")
    if args.plot is not None and not plotting_installed():
        fail('--plot needs matplotlib: pip install "kairos-sdk[plotting]"')


def plotting_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def show_progress() -> bool:
    from kairos.sweep._progress import wanted

    return wanted(None)


Handler = Callable[[argparse.Namespace], int]


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    **options: Any,
) -> argparse.ArgumentParser:
    """Register ``kairos NAME``, run by ``handler``, and return its parser for the arguments.

    The handler's docstring is the command's help: its first paragraph is the line in
    ``kairos --help``, the rest the description in ``kairos NAME --help``. The docstring is
    plain text (a ``%`` is shown as it is). ``options`` go to the parser as they are, e.g.
    ``epilog``. A handler without a docstring is refused with a TypeError.
    """
    summary, description = command_help(name, handler)
    help_options: dict[str, Any] = {"help": summary.replace("%", "%%")}  # help is %-formatted
    if description is not None:
        # argparse %-formats a description only where it names %(prog)
        if "%(prog)" in description:
            description = description.replace("%", "%%")
        help_options["description"] = description
    parser: argparse.ArgumentParser = commands.add_parser(name, **help_options, **options)
    parser.set_defaults(handler=handler)
    return parser


def command_help(name: str, handler: Handler) -> tuple[str, str | None]:
    """The summary and the description in ``handler``'s docstring (None: no description).

    Paragraphs are separated by blank lines; the lines of a paragraph are joined with spaces.
    Under ``python -OO``, which removes docstrings, the summary is empty: the command is still
    listed in ``kairos --help``.
    """
    doc = handler.__doc__
    if doc is None and sys.flags.optimize >= 2:
        return "", None
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in [*(doc or "").splitlines(), ""]:
        if line.strip():
            lines.append(line.strip())
        elif lines:
            paragraphs.append(" ".join(lines))
            lines = []
    if not paragraphs:
        raise TypeError(
            f"kairos {name}: its handler {handler.__module__}.{handler.__qualname__} has no "
            "docstring (the docstring's first paragraph is the command's help, the rest its "
            "description)"
        )
    return paragraphs[0], "\n\n".join(paragraphs[1:]) or None


def save_plot(axes: Any, path: Path) -> None:
    """Write the figure holding ``axes`` as a PNG, and say where."""
    axes.figure.savefig(path, dpi=120, bbox_inches="tight")
    print(f"plot written to {path}")
