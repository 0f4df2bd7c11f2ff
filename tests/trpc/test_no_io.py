"""``kairos._trpc`` is the sans-I/O core: it imports nothing that does I/O or reads the clock.

Two checks: every import statement of the package (also those inside functions) names an
allowed module, and loading every module of the package, without the rest of ``kairos``, leaves
no I/O module in ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import kairos._trpc

PACKAGE_DIR = Path(kairos._trpc.__file__).parent
SRC_DIR = PACKAGE_DIR.parents[1]

ALLOWED = {
    "__future__",
    "collections",
    "collections.abc",
    "dataclasses",
    "datetime",
    "enum",
    "itertools",
    "json",
    "math",
    "re",
    "types",
    "typing",
    "typing_extensions",
    "urllib.parse",
}
IO_MODULES = (
    "asyncio",
    "socket",
    "ssl",
    "selectors",
    "select",
    "subprocess",
    "threading",
    "sqlite3",
    "httpx",
    "httpcore",
    "websockets",
    "starlette",
    "uvicorn",
    "anyio",
)


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_every_import_of_the_core_is_an_allowed_module() -> None:
    found = {
        f"{path.name}: {name}"
        for path in sorted(PACKAGE_DIR.glob("*.py"))
        for name in imports_of(path)
        if name not in ALLOWED
    }
    assert not found, "the sans-I/O core imports modules outside its allowlist"


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\n\ndef f():\n    import socket\n    from time import sleep\n")
    assert imports_of(sample) == ["json", "socket", "time"]


def test_loading_the_core_alone_brings_in_no_io_module() -> None:
    modules = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__")
    # A bare `kairos` package object, so that kairos/__init__ (the whole SDK) is not executed.
    script = f"""
import importlib, json, sys, types
root = types.ModuleType("kairos")
root.__path__ = [{str(PACKAGE_DIR.parent)!r}]
sys.modules["kairos"] = root
before = set(sys.modules)
for name in {modules!r}:
    importlib.import_module("kairos._trpc." + name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    out = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    assert any(name.startswith("kairos._trpc.") for name in loaded)
    bad = [name for name in loaded if name.split(".")[0] in IO_MODULES]
    assert bad == [], bad
