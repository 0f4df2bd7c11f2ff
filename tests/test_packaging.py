"""The distribution: a wheel with both packages and their py.typed, nothing else; a bare
install (no extras) imports both packages."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("kairos_sdk-*.whl")
    return built


def test_wheel_holds_both_packages_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.startswith("kairos_sdk-")}
    assert top == {"kairos", "kairos_api"}
    assert "kairos/py.typed" in names
    assert "kairos_api/py.typed" in names
    assert "kairos_api/namespaces.py" in names and "kairos_api/models.py" in names
    for name in names:
        assert not name.startswith(("tests/", "codegen/", "schema/", "scripts/")), name
        assert "__snapshots__" not in name and "/test_" not in name, name


def test_wheel_metadata_declares_the_extras(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    assert "Name: kairos-sdk" in metadata
    for extra in ("plotting", "dataframe", "distributed", "server", "fast", "dev", "all"):
        assert f"Provides-Extra: {extra}" in metadata


def test_bare_install_imports_both_packages(wheel: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import kairos, kairos_api, importlib.util as u;"
        "assert kairos_api.PROCEDURES['simulation.create'].kind == 'mutation';"
        "assert u.find_spec('matplotlib') is None and u.find_spec('pandas') is None;"
        "assert u.find_spec('numba') is None;"  # the compiled engine kernel is the [fast] extra
        "import kairos.engine as e;"
        "sim = e.Simulation({'name': 'x', 'seed': 1, 'models': [{'name': 'm', "
        "'capabilityIndex': 100, 'alignmentScore': 50}]});"
        "assert sim.backend == 'reference' and sim.step()['t'] == 1;"
        "print(kairos.__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.stdout.strip() == "0.1.0"
