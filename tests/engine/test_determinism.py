"""Determinism: golden hashes, cross-process identity, the PRNG, and the arithmetic rules."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kairos.engine
from kairos.engine import canonical_trace_bytes, run, trace_sha256
from kairos.engine._prng import (
    GOLDEN_GAMMA,
    counter,
    draw,
    draw_array,
    kick_of,
    kick_of_array,
    node_of,
    node_of_array,
    seed_key,
)

from .golden import GOLDEN_PATH, REFERENCES, compute
from .scenarios import REPO, paradox_scenario, rich_scenario

ENGINE_DIR = Path(kairos.engine.__file__).parent


def test_golden_hashes() -> None:
    """A released version's numbers never change (checked on the pure-Python reference engine;
    test_kernel.py checks the compiled kernel against the same hashes). If this fails, the
    change is a new engine version, not a new hash."""
    committed = json.loads(GOLDEN_PATH.read_text())
    assert set(committed) == set(kairos.engine.active_versions())
    for version_hashes in committed.values():
        assert set(version_hashes) == set(REFERENCES)
    assert compute() == committed


def test_trace_hash_streams_the_canonical_bytes() -> None:
    steps = run(rich_scenario(), 20)
    data = canonical_trace_bytes(steps)
    assert data.count(b"\n") == 20 and data.endswith(b"\n")
    first = data.split(b"\n", 1)[0]
    assert first.startswith(b'{"agents":{"Model_A":{"alignmentScore":')
    assert b" " not in data.replace(b"Deceptive Alignment Spikes", b"")
    assert json.loads(first) == steps[0]
    assert trace_sha256(steps) == hashlib.sha256(data).hexdigest()


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from engine.scenarios import rich_scenario, paradox_scenario
from kairos.engine import trace_sha256, iter_steps, run_batch
print(trace_sha256(iter_steps(rich_scenario(), 300, {version!r})))
print(trace_sha256(iter_steps(paradox_scenario(), 300, {version!r})))
print(trace_sha256(run_batch([rich_scenario()], 300, {version!r})[0]))
"""


@pytest.mark.parametrize("version", ["1.4.4", "1.5.0", "1.6.0"])  # 1.6.0: prophecies too
def test_identical_bytes_in_another_process(version: str) -> None:
    expected = [
        trace_sha256(run(rich_scenario(), 300, version)),
        trace_sha256(run(paradox_scenario(), 300, version)),
    ]
    path = os.pathsep.join(str(REPO / part) for part in ("src", "generated"))
    env = dict(os.environ, PYTHONHASHSEED="4242", PYTHONPATH=path)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=str(REPO / "tests"), version=version)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=str(REPO),
    ).stdout.split()
    assert out == [expected[0], expected[1], expected[0]]


# --- The PRNG ------------------------------------------------------------------------------


def test_splitmix64_known_answers() -> None:
    # SplitMix64 seeded with 0: the first outputs of the reference implementation.
    assert draw(0, 0) == 0xE220A8397B1DCDAF
    assert draw(0, 1) == 0x6E789E6AA1B965F4
    assert draw(0, 2) == 0x06C45D188009454F
    assert GOLDEN_GAMMA == 0x9E3779B97F4A7C15


def test_numpy_prng_equals_integer_prng() -> None:
    seeds = [0, 1, 42, 2**53 - 1, 123456789]
    keys = np.array([seed_key(s) for s in seeds], dtype=np.uint64)
    ctrs = [counter(t, i, s) for t in (1, 2, 999, 10_000_000) for i in (0, 5, 63) for s in (0, 1)]
    bits = draw_array(keys[:, None], np.array(ctrs, dtype=np.uint64)[None, :])
    nodes, kicks = node_of_array(bits), kick_of_array(bits)
    for b, seed in enumerate(seeds):
        for c, ctr in enumerate(ctrs):
            value = draw(seed_key(seed), ctr)
            assert int(bits[b, c]) == value
            assert int(nodes[b, c]) == node_of(value)
            assert float(kicks[b, c]) == kick_of(value)


def test_kicks_have_zero_mean_and_unit_variance() -> None:
    key = seed_key(7)
    values = [kick_of(draw(key, n)) for n in range(20000)]
    mean = sum(values) / len(values)
    var = sum(v * v for v in values) / len(values) - mean * mean
    assert abs(mean) < 0.03 and abs(var - 1.0) < 0.05
    assert max(abs(v) for v in values) <= 6**0.5
    nodes = [node_of(draw(key, n)) for n in range(16000)]
    assert {nodes.count(k) for k in range(16)} <= set(range(850, 1150))


def test_counters_do_not_collide() -> None:
    seen = {counter(t, i, s) for t in range(1, 50) for i in range(64) for s in range(16)}
    assert len(seen) == 49 * 64 * 16


# --- Source scan of the arithmetic rules -----------------------------------------------------

FORBIDDEN_MODULES = {"random", "secrets", "statistics", "numpy.random", "decimal", "fractions"}
FORBIDDEN_MATH = {
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "pow",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "erf",
    "erfc",
    "gamma",
    "lgamma",
    "hypot",
    "cbrt",
    "fsum",
    "prod",
    "sumprod",
    "fma",
    "dist",
}
FORBIDDEN_NUMPY = FORBIDDEN_MATH | {
    "power",
    "float_power",
    "logaddexp",
    "sum",
    "mean",
    "nansum",
    "cumsum",
    "cumprod",
    "dot",
    "matmul",
    "einsum",
    "inner",
    "tensordot",
    "average",
    "std",
    "var",
    "random",
    "linalg",
    "exp",
    "expm1",
    "square",
    "reciprocal",
    "polyval",
    "trapezoid",
}
FORBIDDEN_BUILTINS = {"pow", "sum", "hash"}
FORBIDDEN_METHODS = {"sum", "mean", "prod", "cumsum", "cumprod", "dot", "std", "var"}


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Calls and operators the determinism rules forbid in engine code."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module in FORBIDDEN_MODULES:
                found.append(f"{where} from {module} import")
            for alias in node.names:
                if module == "math" and alias.name in FORBIDDEN_MATH:
                    found.append(f"{where} from math import {alias.name}")
                if module == "numpy" and alias.name in FORBIDDEN_NUMPY:
                    found.append(f"{where} from numpy import {alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner == "math" and attr in FORBIDDEN_MATH:
                found.append(f"{where} math.{attr}")
            if owner in ("np", "numpy") and attr in FORBIDDEN_NUMPY:
                found.append(f"{where} {owner}.{attr}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub):
                exponent = exponent.operand
            if not (isinstance(exponent, ast.Constant) and type(exponent.value) is int):
                found.append(f"{where} ** with non-integer exponent")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append(f"{where} @ (matmul reduces in an unspecified order)")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Pow):
            found.append(f"{where} **=")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
                found.append(f"{where} {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and func.attr in FORBIDDEN_METHODS
                and not (
                    isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy", "math")
                )
            ):
                found.append(f"{where} .{func.attr}()")
    return found


def test_engine_source_follows_the_arithmetic_rules() -> None:
    files = sorted(ENGINE_DIR.glob("*.py"))
    assert len(files) >= 10
    problems = [p for f in files for p in violations(f.read_text(), f.name)]
    assert problems == []


def kernel_violations(source: str, filename: str = "<src>") -> list[str]:
    """The compiled kernel's extra rules: numba is imported only by the kernel modules, every
    compilation goes through the one option set (``njit(**JIT_OPTIONS)``), and no code turns on
    fast-math (FMA contraction, reassociation, approximate functions) or parallel reductions."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    kernel_file = filename in ("_kernel_nb.py", "_kernel.py")
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not kernel_file:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if any(n.split(".")[0] == "numba" for n in [*names, module or ""]):
                found.append(f"{where} imports numba outside the kernel modules")
        if (
            isinstance(node, ast.keyword)
            and node.arg in ("fastmath", "parallel")
            and not (isinstance(node.value, ast.Constant) and node.value.value is False)
        ):
            found.append(f"{where} {node.arg}= must be False")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in ("fastmath", "parallel")
                    and not (isinstance(value, ast.Constant) and value.value is False)
                ):
                    found.append(f"{where} {key.value!r}: must be False")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in ("njit", "jit", "vectorize", "guvectorize", "cfunc"):
                ok = (
                    name == "njit"
                    and not node.args
                    and len(node.keywords) == 1
                    and node.keywords[0].arg is None
                    and isinstance(node.keywords[0].value, ast.Name)
                    and node.keywords[0].value.id == "JIT_OPTIONS"
                )
                if not ok:
                    found.append(f"{where} compile only with njit(**JIT_OPTIONS)")
    return found


def test_kernel_source_follows_the_compilation_rules() -> None:
    problems = [
        p for f in sorted(ENGINE_DIR.glob("*.py")) for p in kernel_violations(f.read_text(), f.name)
    ]
    assert problems == []
    kernel_source = (ENGINE_DIR / "_kernel_nb.py").read_text()
    assert '"fastmath": False' in kernel_source


@pytest.mark.parametrize(
    "snippet",
    [
        "from numba import njit\n",
        "f = njit(fastmath=True)(g)",
        "f = njit(cache=True)(g)",
        "OPTIONS = {'fastmath': True}",
        "OPTIONS = {'parallel': True}",
        "f = vectorize(g)",
    ],
)
def test_kernel_scanner_catches_violations(snippet: str) -> None:
    assert kernel_violations(snippet, "_dynamics.py")


@pytest.mark.parametrize(
    "snippet",
    [
        "import math\nx = math.exp(1.0)",
        "from math import log\n",
        "import random\n",
        "import numpy as np\nnp.random.default_rng(1)",
        "import numpy as np\ny = np.tanh(x)",
        "y = x ** 0.5",
        "y = x ** n",
        "y = pow(x, 2)",
        "y = sum(values)",
        "y = arr.sum(axis=1)",
        "y = np.sum(arr)",
        "y = a @ b",
        "from numpy.random import default_rng",
    ],
)
def test_scanner_catches_violations(snippet: str) -> None:
    assert violations(snippet)


def test_scanner_allows_the_permitted_operations() -> None:
    allowed = "import math\nx = math.sqrt(6.0)\ny = a * b + c / d - e\nz = x ** 2\nw = 2 ** -32\n"
    assert violations(allowed) == []


def test_engine_imports_no_client_server_or_network_code() -> None:
    banned = (
        "kairos.client",
        "kairos.server",
        "kairos._trpc",
        "httpx",
        "websockets",
        "starlette",
        "uvicorn",
        "pydantic",
        "socket",
        "asyncio",
        "sqlite3",
        "kairos_api",
    )
    for path in ENGINE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(banned), (path.name, name)
