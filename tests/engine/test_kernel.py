"""The compiled kernel gives the reference engine's bytes, everywhere a run can go through it.

The pure-Python engine is the reference; the kernel (numba, ``kairos-sdk[fast]``) must match it
byte for byte: golden scenarios, generated scenarios, batches, checkpoints taken at any tick,
canonical lines. Also: the backend switch, lazy import, the compile options and the machine code
(no fused multiply-add on a CPU that has FMA).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.engine import (
    BackendError,
    Simulation,
    _kernel,
    active_versions,
    canonical_step_bytes,
    canonical_trace_bytes,
    iter_lines,
    kernel_info,
    load_kernel,
    run,
    run_batch,
    summarize,
    summarize_batch,
)

from .golden import GOLDEN_PATH, REFERENCES, compute
from .scenarios import REPO, paradox_scenario, rich_scenario, scenario_strategy, sweep_scenario

if not _kernel.numba_installed():
    if os.environ.get("CI"):
        pytest.fail("CI installs kairos-sdk[all], which includes numba: the kernel must be tested")
    pytest.skip("numba is not installed (pip install 'kairos-sdk[fast]')", allow_module_level=True)

VERSIONS = active_versions()


@pytest.fixture(scope="module", autouse=True)
def kernel_loaded() -> None:
    assert load_kernel(), kernel_info()


def mixed() -> list[dict[str, Any]]:
    return [
        sweep_scenario(100),
        rich_scenario(),
        paradox_scenario(),
        sweep_scenario(604, body={"name": "b", "guardrailStrength": 40, "responseLatency": 70}),
        paradox_scenario(seed=99),
        sweep_scenario(334),
    ]


# --- Same bytes as the reference -------------------------------------------------------------


def test_golden_hashes_through_the_kernel() -> None:
    assert compute("kernel") == json.loads(GOLDEN_PATH.read_text())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_canonical_lines_are_the_canonical_bytes(name: str, version: str) -> None:
    scenario, ticks = REFERENCES[name]
    want = canonical_trace_bytes(run(scenario, ticks, version, backend="reference"))
    assert b"".join(iter_lines(scenario, ticks, version, backend="kernel")) == want
    assert b"".join(iter_lines(scenario, ticks, version, backend="reference")) == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_strategy(), st.integers(1, 60), st.sampled_from(VERSIONS))
def test_kernel_equals_reference_generated(
    scenario: dict[str, Any], ticks: int, version: str
) -> None:
    reference = run(scenario, ticks, version, backend="reference")
    kernel = run(scenario, ticks, version, backend="kernel")
    want = canonical_trace_bytes(reference)
    assert canonical_trace_bytes(kernel) == want
    assert b"".join(iter_lines(scenario, ticks, version, backend="kernel")) == want
    assert kernel == reference  # the dicts too (same keys, same types)


def test_a_long_run_with_losses_and_ghosts() -> None:
    scenario = paradox_scenario(seed=7)
    reference = run(scenario, 3000, "1.5.0", backend="reference")
    assert any(s["ghost"] for s in reference) and any(s["losses"] for s in reference)
    kernel = Simulation(scenario, "1.5.0", backend="kernel")
    assert canonical_trace_bytes(kernel.steps(3000)) == canonical_trace_bytes(reference)


# --- Batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_batch_on_the_kernel_equals_the_reference(version: str) -> None:
    scenarios = mixed()
    ticks = [150, 200, 120, 300, 90, 250]
    assert summarize_batch(scenarios, ticks, version, backend="kernel") == [
        summarize(run(s, n, version, backend="reference"))
        for s, n in zip(scenarios, ticks, strict=True)
    ]
    traces = run_batch(scenarios, ticks, version, backend="kernel")
    for scenario, n, trace in zip(scenarios, ticks, traces, strict=True):
        want = canonical_trace_bytes(run(scenario, n, version, backend="reference"))
        assert canonical_trace_bytes(trace) == want


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(scenario_strategy(), min_size=1, max_size=5),
    st.lists(st.integers(1, 50), min_size=5, max_size=5),
    st.sampled_from(VERSIONS),
)
def test_batch_summaries_generated(
    scenarios: list[dict[str, Any]], counts: list[int], version: str
) -> None:
    ticks = counts[: len(scenarios)]
    got = summarize_batch(scenarios, ticks, version, backend="kernel")
    assert got == summarize_batch(scenarios, ticks, version, backend="reference")
    assert got == [
        summarize(run(s, n, version, backend="reference"))
        for s, n in zip(scenarios, ticks, strict=True)
    ]


# --- Checkpoints: the kernel computes ahead, a checkpoint is still exact ----------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_checkpoint_at_every_tick_matches_the_reference(version: str) -> None:
    """Step by step (the server's pattern: ``step()`` then ``checkpoint()`` at any tick): the
    kernel's look-ahead chunk must never leak into a checkpoint."""
    scenario = rich_scenario()
    kernel = Simulation(scenario, version, backend="kernel")
    reference = Simulation(scenario, version, backend="reference")
    for t in range(1, 120):
        assert canonical_step_bytes(kernel.step()) == canonical_step_bytes(reference.step())
        assert kernel.tick == reference.tick == t
        if t % 7 == 0 or t in (1, 2, 31, 32, 33, 95, 96, 97):
            assert kernel.checkpoint() == reference.checkpoint()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario_strategy(),
    st.lists(st.integers(0, 80), min_size=1, max_size=4),
    st.sampled_from(VERSIONS),
    st.sampled_from(["kernel", "reference"]),
)
def test_resume_across_backends_generated(
    scenario: dict[str, Any], stops: list[int], version: str, resume_on: str
) -> None:
    """Checkpoints taken by the kernel resume on either backend (and the reverse), chained."""
    whole = canonical_trace_bytes(run(scenario, 80, version, backend="reference"))
    sim = Simulation(scenario, version, backend="kernel")
    got: list[bytes] = []
    backends = ["kernel", resume_on]
    for k, stop in enumerate(sorted(stops)):
        got += sim.lines(stop)
        data = sim.checkpoint()
        sim = Simulation.from_checkpoint(scenario, data, backend=backends[k % 2])
    got += sim.lines(80)
    assert b"".join(got) == whole


def test_advance_to_then_checkpoint() -> None:
    scenario = paradox_scenario()
    fast = Simulation(scenario, backend="kernel")
    fast.advance_to(500)
    slow = Simulation(scenario, backend="reference")
    slow.advance_to(500)
    assert fast.tick == 500 and fast.checkpoint() == slow.checkpoint()
    assert canonical_trace_bytes(fast.steps(520)) == canonical_trace_bytes(slow.steps(520))


# --- The switch ------------------------------------------------------------------------------


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Simulation(rich_scenario()).backend == "kernel"  # auto, numba installed
    assert Simulation(rich_scenario(), backend="reference").backend == "reference"
    monkeypatch.setenv("KAIROS_ENGINE_BACKEND", "reference")
    assert Simulation(rich_scenario()).backend == "reference"
    assert Simulation(rich_scenario(), backend="kernel").backend == "kernel"  # argument wins
    monkeypatch.setenv("KAIROS_ENGINE_BACKEND", "fastest")
    with pytest.raises(BackendError, match="KAIROS_ENGINE_BACKEND must be one of"):
        Simulation(rich_scenario())
    with pytest.raises(BackendError, match="backend must be one of"):
        run(rich_scenario(), 5, backend="gpu")


WITHOUT_NUMBA = """
import sys
sys.modules["numba"] = None  # as if it were not installed
sys.path.insert(0, {tests!r})
from engine.golden import REFERENCES
from kairos.engine import BackendError, Simulation, trace_sha256, iter_steps, kernel_info
scenario, ticks = REFERENCES["dual_administrator"]
print(Simulation(scenario).backend)
print(trace_sha256(iter_steps(scenario, ticks, "1.5.0")))
try:
    Simulation(scenario, backend="kernel")
except BackendError as exc:
    print("BackendError", "kairos-sdk[fast]" in str(exc))
print(kernel_info()["numbaInstalled"])
"""


def test_without_numba_the_reference_runs_and_a_forced_kernel_is_a_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_NUMBA.format(tests=str(REPO / "tests"))],
        env=dict(os.environ, PYTHONPATH=str(REPO / "src"), KAIROS_ENGINE_BACKEND="auto"),
        capture_output=True,
        text=True,
        check=True,
        cwd=str(REPO),
    ).stdout.split("\n")
    golden = json.loads(GOLDEN_PATH.read_text())["1.5.0"]["dual_administrator"]
    assert out[:4] == ["reference", golden, "BackendError True", "False"]


def test_numba_is_imported_only_when_a_run_uses_the_kernel() -> None:
    """``import kairos`` never loads numba, nor does a short run under ``auto`` (loading would
    cost more than the run); a forced reference run of any length does not either."""
    code = (
        "import sys, kairos, kairos.engine as e\n"
        "print('numba' in sys.modules)\n"
        "sc = {'name': 'x', 'seed': 1, 'models': [{'name': 'm', 'capabilityIndex': 100, "
        "'alignmentScore': 50}]}\n"
        "e.run(sc, 30000, backend='reference')\n"
        "e.run(sc, 300)\n"
        "e.summarize_batch([sc] * 3, 300)\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["False", "False"]


# --- Determinism of the compiled code --------------------------------------------------------


def test_every_kernel_function_is_compiled_without_fastmath() -> None:
    from kairos.engine import _kernel_nb

    assert _kernel_nb.JIT_OPTIONS["fastmath"] is False
    dispatchers = [
        value
        for value in vars(_kernel_nb).values()
        if hasattr(value, "targetoptions") and hasattr(value, "py_func")
    ]
    assert len(dispatchers) >= 20
    for dispatcher in dispatchers:
        assert dispatcher.targetoptions.get("fastmath") is False, dispatcher.py_func.__name__


FMA_MNEMONICS = ("vfmadd", "vfmsub", "vfnmadd", "vfnmsub", "fma.")


def cpu_has_fma() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(" fma " in line + " " for line in f if line.startswith("flags"))
    except OSError:
        return False


INSPECT = """
import json
from kairos.engine import load_kernel, _kernel_nb
assert load_kernel()
report = {}
for name in ("run_chunk", "summarize_many", "tick", "heun_step", "euler_step", "reserve_drift"):
    dispatcher = getattr(_kernel_nb, name)
    for signature in dispatcher.signatures:
        report[name + str(signature)] = [
            dispatcher.inspect_asm(signature), dispatcher.inspect_llvm(signature)
        ]
print(json.dumps(report))
"""


def test_machine_code_has_no_fused_multiply_add_and_no_fast_math_flags(tmp_path: Any) -> None:
    """The kernel compiled from scratch on this CPU (an empty cache: numba cannot show the code
    of a cached function): no FMA instruction (LLVM may not contract ``a * b + c`` without the
    ``contract`` flag, which ``fastmath=False`` never sets), and no fast-math flag on any
    floating-point instruction of the LLVM IR, so no reassociation either."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", INSPECT], env=env, capture_output=True, text=True, check=True
    )
    # A compile is announced (a first call must not stall unnoticed); a warm cache is silent.
    assert "compiling the engine kernel for this machine" in done.stderr
    again = subprocess.run(
        [sys.executable, "-c", "import kairos.engine as e; assert e.load_kernel()"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "compiling" not in again.stderr
    report = json.loads(done.stdout)
    assert len(report) >= 6
    for name, (asm, ir) in report.items():
        asm = asm.lower()
        assert "mulsd" in asm, name  # the float arithmetic really is in this listing
        assert [m for m in FMA_MNEMONICS if m in asm] == [], name
        for flag in (" fast ", " contract ", " reassoc ", " afn ", " arcp "):
            assert flag not in ir, (name, flag)
    if not cpu_has_fma():
        pytest.skip("this CPU has no FMA: the absence of vfmadd proves less here")


def test_kernel_cache_is_scoped_to_the_engine_sources(tmp_path: Any) -> None:
    from numba.core import caching

    from kairos.engine import _kernel_nb

    if os.environ.get("NUMBA_CACHE_DIR"):
        pytest.skip("NUMBA_CACHE_DIR is set: numba's own locator applies")
    locator = caching.CacheImpl._locator_classes[0]
    assert locator.__name__ == "EngineCacheLocator"
    mine = locator.from_function(_kernel_nb.tick.py_func, _kernel_nb.__file__)
    assert mine.get_cache_path().startswith(str(_kernel.cache_dir()))
    assert mine.get_source_stamp() == _kernel._source_hash()
    other = tmp_path / "user_code.py"
    other.write_text("def f():\n    return 1\n")
    namespace: dict[str, Any] = {}
    exec(compile(other.read_text(), str(other), "exec"), namespace)
    assert locator.from_function(namespace["f"], str(other)) is None  # users' code: untouched


def test_every_module_the_kernel_compiles_is_in_its_cache_key() -> None:
    """A change to any module whose code the kernel compiles must clear the compiled cache:
    each engine module that ``_kernel_nb`` imports is one of ``KERNEL_SOURCES``."""
    from kairos.engine import _kernel

    source = (Path(_kernel.__file__).parent / "_kernel_nb.py").read_text()
    imported = {"_kernel_nb.py"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                imported |= {f"{alias.name}.py" for alias in node.names}
            else:
                imported.add(f"{node.module}.py")
    assert imported == set(_kernel.KERNEL_SOURCES)
