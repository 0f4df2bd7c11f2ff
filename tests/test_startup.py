"""Start-up stays cheap: ``import kairos`` and ``kairos --version`` load no numpy, httpx,
websockets, pydantic or generated models (issue 14). Public names still resolve, lazily.

Correctness of the laziness only; how fast it is, ``scripts/bench startup`` measures.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys

import pytest

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

    assert set(kairos.__all__) <= set(namespace)


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


def declared_exports(package: str) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """What ``package``'s ``__init__`` states three times: the ``if TYPE_CHECKING:`` imports and
    the ``lazy_exports`` table (each name -> its absolute module), and the submodules it names."""
    import ast
    from pathlib import Path

    module = importlib.import_module(package)
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    imported: dict[str, str] = {}
    table: dict[str, str] = {}
    submodules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):  # if TYPE_CHECKING:
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    source = "." * statement.level + (statement.module or "")
                    where = importlib.util.resolve_name(source, package)
                    for alias in statement.names:
                        imported[alias.asname or alias.name] = where
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            modules = ast.literal_eval(node.args[1])
            for where, listed in modules.items():
                for name in listed.split():
                    table[name] = importlib.util.resolve_name(where, package)
            for keyword in node.keywords:
                if keyword.arg == "submodules":
                    submodules = set(ast.literal_eval(keyword.value))
    return imported, table, submodules


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_export_statements_agree(package: str) -> None:
    # Type checkers read the imports, star imports and ruff read __all__, the running program
    # reads the table: a name must stand in all three, and come from one module.
    imported, table, submodules = declared_exports(package)
    children = {name for name, where in imported.items() if where == package}
    assert table and children <= submodules, package
    assert {name: where for name, where in imported.items() if name not in children} == table
    module = importlib.import_module(package)
    assert set(module.__all__) - {"__version__"} == set(table) | children
    for name, where in table.items():
        assert getattr(module, name) is getattr(importlib.import_module(where), name), name
