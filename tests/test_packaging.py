"""The distribution: a wheel with both packages, their py.typed, the schema, the scenario
library's data and the license, nothing else; an sdist with the license; a bare install (no
extras) imports both packages and finds the schema and the library; the version is written in
one place."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "kairos.schema.json"
STUBS = sorted((ROOT / "src" / "kairos").rglob("__init__.pyi"))


def source_version() -> str:
    """``__version__`` as written in src/kairos/__init__.py, the one place the version lives."""
    text = (ROOT / "src" / "kairos" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert match, "src/kairos/__init__.py must set __version__ to a string literal"
    return match.group(1)


def build(kind: str, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            f"--{kind}",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("kairos_sdk-*.whl" if kind == "wheel" else "kairos_sdk-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("wheel", tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("sdist", tmp_path_factory.mktemp("sdist"))


def wheel_metadata(wheel: Path) -> str:
    archive = zipfile.ZipFile(wheel)
    return archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()


def test_wheel_holds_both_packages_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.startswith("kairos_sdk-")}
    assert top == {"kairos", "kairos_api"}
    assert "kairos/py.typed" in names
    assert "kairos_api/py.typed" in names
    assert "kairos_api/namespaces.py" in names and "kairos_api/models.py" in names
    # the lazy packages read their public names from their stubs at run time
    stubs = {f"kairos/{p.relative_to(ROOT / 'src' / 'kairos').as_posix()}" for p in STUBS}
    assert len(stubs) == 6 and stubs <= set(names)
    for name in names:
        assert not name.startswith(("tests/", "codegen/", "schema/", "scripts/")), name
        assert "__snapshots__" not in name and "/test_" not in name, name


def test_wheel_carries_the_observer_page(wheel: Path) -> None:
    # The page works offline: its files are package data, byte for byte, and load nothing else.
    archive = zipfile.ZipFile(wheel)
    source = Path(__file__).resolve().parents[1] / "src" / "kairos" / "server" / "observer"
    for name in ("index.html", "observer.js", "observer.css"):
        shipped = archive.read(f"kairos/server/observer/{name}")
        assert shipped == (source / name).read_bytes()
        assert b"http://" not in shipped.replace(b"http://www.w3.org/2000/svg", b"")
        assert b"https://" not in shipped


def test_wheel_carries_the_scenario_library(wheel: Path) -> None:
    # kairos.scenarios reads its curated scenarios from this package data file
    library = ROOT / "src" / "kairos" / "scenarios" / "library.json"
    assert zipfile.ZipFile(wheel).read("kairos/scenarios/library.json") == library.read_bytes()


def test_wheel_metadata_declares_the_extras(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    assert "Name: kairos-sdk" in metadata
    for extra in ("plotting", "dataframe", "distributed", "server", "fast", "dev", "all"):
        assert f"Provides-Extra: {extra}" in metadata


def test_wheel_metadata_has_urls_classifiers_license_and_the_version(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    assert f"Version: {source_version()}\n" in metadata
    assert f"kairos_sdk-{source_version()}-" in wheel.name
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    for label in ("Source", "Issues", "Documentation", "Changelog"):
        assert re.search(rf"^Project-URL: {label}, https://\S+$", metadata, re.MULTILINE), label
    for minor in (10, 11, 12, 13):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}\n" in metadata


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/kairos/__init__.py"
    import kairos

    assert kairos.__version__ == source_version()


def test_wheel_and_sdist_ship_the_license(wheel: Path, sdist: Path) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text
    archive = zipfile.ZipFile(wheel)
    (licensed,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert archive.read(licensed) == license_text
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        assert {"LICENSE", "CHANGELOG.md", "schema/kairos.schema.json"} <= names
        member = tar.extractfile(f"kairos_sdk-{source_version()}/LICENSE")
        assert member is not None and member.read() == license_text


def test_wheel_carries_the_schema_byte_for_byte(wheel: Path) -> None:
    assert zipfile.ZipFile(wheel).read("kairos_api/kairos.schema.json") == SCHEMA.read_bytes()


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
        "import hashlib, json, importlib.metadata as m, importlib.resources as r;"
        "import kairos, kairos_api, importlib.util as u;"
        "assert kairos_api.PROCEDURES['simulation.create'].kind == 'mutation';"
        "assert u.find_spec('matplotlib') is None and u.find_spec('pandas') is None;"
        "data = (r.files('kairos_api') / 'kairos.schema.json').read_bytes();"
        "assert hashlib.sha256(data).hexdigest() == kairos_api.SCHEMA_SHA256;"
        "assert kairos_api.schema_bytes() == data;"
        "assert kairos_api.schema() == json.loads(data);"
        "assert u.find_spec('numba') is None;"  # the compiled engine kernel is the [fast] extra
        "import kairos.engine as e;"
        "sim = e.Simulation({'name': 'x', 'seed': 1, 'models': [{'name': 'm', "
        "'capabilityIndex': 100, 'alignmentScore': 50}]});"
        "assert sim.backend == 'reference' and sim.step()['t'] == 1;"
        "from kairos import scenarios;"  # the library's data file, read as package data
        "assert scenarios.get('racing-labs').scenario().to_wire()['seed'] == 2024;"
        "print(kairos.__version__, m.version('kairos-sdk'));"
        "print(kairos_api.__file__);"
        "print(hashlib.sha256(data).hexdigest())"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    versions, location, digest = result.stdout.splitlines()
    assert versions == f"{source_version()} {source_version()}"
    assert str(env) in location, "the probe must use the installed wheel"
    assert digest == hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
