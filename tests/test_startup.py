"""Start-up stays cheap: ``import kairos`` and ``kairos --version`` load no numpy, httpx,
websockets, pydantic or generated models (issue 14). Public names still resolve, lazily.

Correctness of the laziness only; how fast it is, ``scripts/bench startup`` measures.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "httpx", "websockets", "pydantic", "pydantic_core", "kairos_api", "starlette")


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


@pytest.mark.parametrize(
    "package",
    ["kairos", "kairos.client", "kairos.domains", "kairos.engine", "kairos.server", "kairos.trace"],
)
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
