"""The documentation site (mkdocs.yml, docs/, the docstrings) builds in strict mode.

Strict mode turns every warning into a failure: a broken link or cross-reference, a page left
out of the navigation, an object mkdocstrings cannot collect, a docstring griffe cannot parse.
The second test shows that those failures are real by building a one-page site with each
mistake, with the project's own configuration.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kairos.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = _mkdocs(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return site


def test_the_api_reference_documents_the_public_surface(site: Path) -> None:
    expected = {
        "reference/client.html": [
            "kairos.KairosClient.run",
            "kairos.KairosClient.arun",
            "kairos.KairosClient.stream_run",
            "kairos.KairosClient.astream_run",
            "kairos.KairosClient.with_options",
        ],
        "reference/procedures.html": [
            "kairos_api.namespaces.SimulationNamespace.create",
            "kairos_api.namespaces.SimulationNamespace.astream",
            "kairos_api.models.Scenario",
            "kairos_api.models.Simulation",
        ],
        "reference/ai_safety.html": [
            "kairos.domains.ai_safety.AISafetyScenario.add_model",
            "kairos.domains.ai_safety.AISafetyScenario.add_event",
        ],
        "reference/trace.html": [
            "kairos.trace.Trace.final_phase",
            "kairos.trace.Trace.plot",
            "kairos.trace.LazyTrace.basin_losses",
            "kairos.trace.TraceStep",
        ],
        "reference/sweep.html": ["kairos.sweep.sweep", "kairos.sweep.find_threshold"],
        "reference/plotting.html": ["kairos.plotting.plot_stability"],
        "reference/errors.html": ["kairos.errors.KairosError", "kairos.errors.RateLimitError"],
        "reference/engine.html": ["kairos.engine.run", "kairos.engine.trace_sha256"],
        "reference/server.html": ["kairos.server.ServerThread"],
    }
    for page, anchors in expected.items():
        html = (site / page).read_text()
        for anchor in anchors:
            assert f'id="{anchor}"' in html, f"{page} lacks {anchor}"


def test_docstring_markup_is_rendered_not_shown(site: Path) -> None:
    for page in (site / "reference").glob("*.html"):
        text = _text(page)
        assert not re.search(r":(class|func|meth|mod|attr|exc|data):`", text), page.name


def test_the_cli_page_has_the_help_of_every_command(site: Path) -> None:
    text = _text(site / "reference" / "cli.html")
    commands = _hook("cli_help")._subcommands(build_parser())
    assert {"run", "stream", "sweep", "serve", "versions"} <= set(commands)
    for name in commands:
        assert f"usage: kairos {name}" in text, name


def test_the_guides_are_pages(site: Path) -> None:
    for page, heading in [
        ("index.html", "Quickstart"),
        ("concepts.html", "Basin loss"),
        ("client.html", "Retries"),
        ("server.html", "Endpoints"),
        ("engine.html", "Determinism rules"),
    ]:
        assert heading in _text(site / page), page


BROKEN_PAGE = """\
# Broken

A link to [a page that does not exist](missing.md) and a reference to
[an object that does not exist][kairos.NoSuchThing].

::: docs_broken_module
"""

BROKEN_MODULE = '''\
"""A module whose docstring does not match its function."""


def scale(value: float) -> float:
    """Scale a value.

    Args:
        factor: Not a parameter of this function.
    """
    return value
'''


def test_broken_references_and_docstrings_fail_the_build(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "base.yml")
    (tmp_path / "docs").mkdir()
    shutil.copytree(ROOT / "docs" / "_hooks", tmp_path / "docs" / "_hooks")
    (tmp_path / "docs" / "index.md").write_text(BROKEN_PAGE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "kairos").symlink_to(ROOT / "src" / "kairos")
    (tmp_path / "src" / "docs_broken_module.py").write_text(BROKEN_MODULE)
    (tmp_path / "generated").symlink_to(ROOT / "generated")
    config = tmp_path / "mkdocs.yml"
    config.write_text("INHERIT: base.yml\nnav:\n  - index.md\n")

    result = _mkdocs(config, tmp_path / "site")

    assert result.returncode != 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    for expected in (
        "contains a link 'missing.md', but the target is not found",
        "Could not find cross-reference target 'kairos.NoSuchThing'",
        "Parameter 'factor' does not appear in the function signature",
    ):
        assert any(expected in line for line in warnings), result.stderr


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "_hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("rest", "markdown"),
    [
        (
            "see :class:`Trace` and :func:`kairos.sweep.sweep`",
            "see `Trace` and `kairos.sweep.sweep`",
        ),
        (":meth:`~AISafetyScenario.to_wire`", "`to_wire`"),
        (":class:`~kairos._trpc.resume.StreamResume`", "`StreamResume`"),
        (":mod:`.ws_client`", "`ws_client`"),
        ("For example::\n\n    run()\n", "For example:\n\n    run()\n"),
        ("For example ::\n\n    run()\n", "For example\n\n    run()\n"),
        ("Text.\n\n::\n\n    run()\n", "Text.\n\n\n\n    run()\n"),
        ("a[::2] and ``x`` stay", "a[::2] and ``x`` stay"),
    ],
)
def test_rest_markup_becomes_markdown(rest: str, markdown: str) -> None:
    assert _hook("rst_roles").markdown_from_rest(rest) == markdown
