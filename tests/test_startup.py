"""Start-up stays cheap: ``import kairos`` and ``kairos --version`` load no numpy, httpx,
websockets, pydantic or generated models (issue 14). Public names still resolve, lazily.

Correctness of the laziness only; how fast it is, ``scripts/bench startup`` measures.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos._deferred import StubError, read_stub

HEAVY = ("numpy", "httpx", "websockets", "pydantic", "pydantic_core", "kairos_api", "starlette")
LAZY_PACKAGES = [
    "kairos",
    "kairos.client",
    "kairos.domains",
    "kairos.engine",
    "kairos.server",
    "kairos.trace",
]


def modules_after(code: str, *args: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_import_kairos_loads_nothing_heavy() -> None:
    modules = modules_after("import kairos")
    assert heavy_in(modules) == []
    assert "kairos.client" not in modules and "kairos.engine" not in modules
    # reading the stub takes no ast, typing, importlib or re: nothing beyond the two modules
    assert modules - modules_after("pass") == {"kairos", "kairos._deferred"}


def test_version_loads_nothing_heavy() -> None:
    probe = (
        "import sys\nfrom kairos.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass"
    )
    assert heavy_in(modules_after(probe)) == []


def test_engine_constants_load_no_numpy() -> None:
    # kairos.errors and the CLI read constants and exceptions of the engine package
    modules = modules_after("from kairos.engine import DEFAULT_MAX_TICKS, Issue, canonical_json")
    assert heavy_in(modules) == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_lazy_names_are_the_defining_objects() -> None:
    import kairos
    from kairos.client._client import KairosClient
    from kairos.engine._simulator import Simulation
    from kairos.trace._memory import Trace

    assert kairos.KairosClient is KairosClient and kairos.Trace is Trace
    assert kairos.engine.Simulation is Simulation
    assert kairos.errors.KairosError.__module__ == "kairos.errors"
    assert callable(kairos.sweep) and kairos.domains.ai_safety.AISafetyScenario is not None


def test_star_import_gives_all() -> None:
    namespace: dict[str, object] = {}
    exec("from kairos import *", namespace)
    import kairos

    assert set(namespace) - {"__builtins__"} == set(kairos.__all__)
    assert sorted(kairos.__all__) == [
        *("AgentTrace", "BasinLoss", "GhostBranch", "KairosClient", "LazyTrace"),
        *("PhaseTransition", "Trace", "TraceMetadata", "TraceStep", "__version__", "errors"),
    ]


def test_fast_version_answers_as_the_parser_does(capsys: pytest.CaptureFixture[str]) -> None:
    from kairos.cli import build_parser, main

    assert main(["--version"]) == 0
    fast = capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr() == fast
    assert fast.out.startswith("kairos-sdk ")


def test_version_command_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kairos", "--version"], capture_output=True, text=True, check=True
    )
    import kairos

    assert out.stdout == f"kairos-sdk {kairos.__version__}\n" and out.stderr == ""


# Each lazy package lists its public names once, in its __init__.pyi; kairos._deferred reads the
# stub without ast (which costs more than `import kairos`), so its reading is checked against
# ast's here: on every real stub, on a stub of every form it accepts, and on malformed ones.


def stub_of(package: str) -> Path:
    return Path(str(importlib.import_module(package).__file__)).with_suffix(".pyi")


def ast_reading(text: str, package: str) -> list[tuple[str, str | None, int]]:
    """``(name, absolute module or None for a declaration, line)`` for each name of a stub, as ast
    and the import system read it; anything else than the stub form fails the test."""
    entries: list[tuple[str, str | None, int]] = []
    for statement in ast.parse(text).body:
        if isinstance(statement, ast.ImportFrom):
            source = "." * statement.level + (statement.module or "")
            where = importlib.util.resolve_name(source, package)
            for alias in statement.names:
                assert alias.asname == alias.name, ast.dump(alias)  # an explicit re-export
                entries.append((alias.name, where, statement.lineno))
        else:
            assert isinstance(statement, ast.AnnAssign), ast.dump(statement)
            assert isinstance(statement.target, ast.Name) and statement.value is None
            entries.append((statement.target.id, None, statement.lineno))
    return entries


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_each_stub_is_read_at_run_time_as_ast_reads_it(package: str) -> None:
    stub = stub_of(package)
    entries = ast_reading(stub.read_text(encoding="utf-8"), package)
    assert entries and read_stub(str(stub), package) == entries
    module = importlib.import_module(package)
    assert module.__all__ == [name for name, _, _ in entries]
    for name, where, _ in entries:
        if where == package:  # from kairos import errors as errors: a child module
            assert getattr(module, name) is importlib.import_module(f"{package}.{name}"), name
        elif where is not None:
            assert getattr(module, name) is getattr(importlib.import_module(where), name), name


EVERY_FORM = """\
# a comment, then a blank line

from a.b import C as C  # a trailing comment
from . import child as child
from .. import sibling as sibling
from ..x.y import (
    Z as Z,  # a comment inside the brackets
    w as w,
)
from .m import (P as P, q as q)
from .n import (
    r as r
)
from .o import  s  as  s ,  t as t
__version__: str
LIMIT: Final[dict[str, tuple[int, ...]]]
"""


def test_reader_agrees_with_ast_on_every_form_it_reads(tmp_path: Path) -> None:
    stub = tmp_path / "__init__.pyi"
    stub.write_text(EVERY_FORM, encoding="utf-8")
    entries = ast_reading(EVERY_FORM, "pkg.sub")
    assert len(entries) == 12
    assert read_stub(str(stub), "pkg.sub") == entries


NOT = "is not `from MODULE import NAME as NAME` or `NAME: TYPE`"
MALFORMED = [
    ("import os\n", 1, f"`import os` {NOT}"),
    ('"""A docstring."""\n', 1, f'`"""A docstring."""` {NOT}'),
    ("from a import B as B\nfrom a import C\n", 2, "C must be re-exported as itself: `C as C`"),
    ("from a import B as C\n", 1, "B must be re-exported as itself: `B as B`"),
    ("from a import *\n", 1, f"`from a import *` {NOT}"),
    ("from a import B as B,\n", 1, f"`from a import B as B,` {NOT}"),
    ("from a.b-c import B as B\n", 1, f"`from a.b-c import B as B` {NOT}"),
    ("\n\nfrom a import (\n    B as B,\n", 3, "'(' is never closed"),
    ("from a import B as B\n)\n", 2, "')' closes nothing"),
    ("from a import (B as B), (C as C)\n", 1, f"`from a import (B as B), (C as C)` {NOT}"),
    ("x = 1\n", 1, f"`x = 1` {NOT}"),
    ("x: int = 1\n", 1, f"`x: int = 1` {NOT}"),
    ("if TYPE_CHECKING:\n    from a import B as B\n", 1, f"`if TYPE_CHECKING:` {NOT}"),
    ("from a import B as B\nfrom c import B as B\n", 2, "B is listed twice (first on line 1)"),
    ("from ... import B as B\n", 1, "... is above the top-level package"),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_malformed_stub_is_one_line_naming_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    stub = tmp_path / "__init__.pyi"
    stub.write_text(text, encoding="utf-8")
    with pytest.raises(StubError) as error:
        read_stub(str(stub), "pkg.sub")
    assert str(error.value) == f"{stub}, line {line}: {message}"


def make_package(root: Path, init: str, stub: str, **modules: str) -> None:
    package = root / "stubbed"
    package.mkdir()
    (package / "__init__.py").write_text(init, encoding="utf-8")
    (package / "__init__.pyi").write_text(stub, encoding="utf-8")
    for name, text in modules.items():
        (package / f"{name}.py").write_text(text, encoding="utf-8")


@pytest.fixture
def package_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m == "stubbed" or m.startswith("stubbed.")]:
        del sys.modules[name]


INIT = "from kairos._deferred import exports_from_stub\n\n{}\n"
ATTACH = "__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)"


def test_a_stubbed_package_reaches_its_names_and_public_children(package_root: Path) -> None:
    make_package(
        package_root,
        INIT.format(f"LIMIT = 3\n{ATTACH}"),
        "from . import listed as listed\nfrom ._impl import thing as thing\nLIMIT: int\n",
        _impl="thing = object()\n",
        listed="",
        unlisted="",
        _private="",
    )
    import stubbed  # type: ignore[import-not-found]

    assert stubbed.__all__ == ["listed", "thing", "LIMIT"]
    assert "stubbed._impl" not in sys.modules and "stubbed.listed" not in sys.modules
    assert stubbed.thing is importlib.import_module("stubbed._impl").thing
    assert stubbed.listed is importlib.import_module("stubbed.listed")
    assert stubbed.unlisted is importlib.import_module("stubbed.unlisted")
    assert {"listed", "thing", "LIMIT", "unlisted"} <= set(dir(stubbed))
    assert "_private" not in dir(stubbed)
    for missing in ("_private", "absent", "__wrapped__"):
        with pytest.raises(AttributeError, match=f"module 'stubbed' has no attribute '{missing}'"):
            getattr(stubbed, missing)
    assert "stubbed._private" not in sys.modules


def test_a_declared_name_the_package_does_not_define_is_an_error(package_root: Path) -> None:
    make_package(package_root, INIT.format(ATTACH), "# names\nLIMIT: int\n")
    stub = package_root / "stubbed" / "__init__.pyi"
    with pytest.raises(StubError) as error:
        importlib.import_module("stubbed")
    assert str(error.value) == (
        f"{stub}, line 2: LIMIT is declared but stubbed does not define it before reading its stub"
    )


def test_a_malformed_stub_fails_the_import_naming_its_line(package_root: Path) -> None:
    make_package(package_root, INIT.format(ATTACH), "from ._impl import thing\n")
    with pytest.raises(StubError, match=r"__init__.pyi, line 1: thing must be re-exported as"):
        importlib.import_module("stubbed")


def test_type_checkers_see_every_name_of_the_stubs(tmp_path: Path) -> None:
    # mypy reads each stub (the modules the names come from are skipped: `mypy src` checks
    # their types); every name is visible, the declaration is typed, nothing else is exported.
    lines = ["import kairos.engine", "from kairos import __version__"]
    for package in LAZY_PACKAGES:
        names = [name for name, _, _ in read_stub(str(stub_of(package)), package)]
        lines.append(f"from {package} import {', '.join(names)}")
    lines += [
        "version: int = __version__  # error 1",
        "from kairos import Simulation  # error 2",
        "from kairos.engine import exports_from_stub  # error 3: imported, not exported",
        "kairos.engine.no_such_name  # error 4",
    ]
    (tmp_path / "uses.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lazy = ",".join(LAZY_PACKAGES)
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\nstrict = True\nfollow_imports = skip\n[mypy-{lazy}]\nfollow_imports = normal\n",
        encoding="utf-8",
    )
    import kairos_api

    paths = {
        str(Path(str(m.__file__)).parents[1])
        for m in (importlib.import_module("kairos"), kairos_api)
    }
    command = ["mypy", "--config-file", "mypy.ini", "--cache-dir", "cache", "--no-error-summary"]
    result = subprocess.run(
        [sys.executable, "-m", *command, "uses.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": os.pathsep.join(sorted(paths))},
        capture_output=True,
        text=True,
        check=False,
    )
    first = len(lines) - 3
    errors = [line.split(": ")[0] for line in result.stdout.splitlines()]
    assert errors == [f"uses.py:{n}" for n in range(first, first + 4)], result.stdout
