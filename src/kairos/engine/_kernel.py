"""The compiled kernel's typed front: backend choice, lazy loading, its cache, array layouts.

numba is optional (``pip install kairos-sdk[fast]``) and is imported only here, lazily, the first
time a run uses the kernel: ``import kairos`` and ``import kairos.engine`` never load it. The pure
Python engine (``_dynamics``) stays the reference; the kernel must give the same bytes (tested),
so the choice of backend never shows in a trace. Choice, strongest first: the ``backend``
argument (``"auto"``, ``"kernel"``, ``"reference"``), the ``KAIROS_ENGINE_BACKEND`` environment
variable, then ``"auto"``: the kernel when numba imports, else the reference.

Compiled code is cached on disk (numba ``cache=True``) in the user cache directory
(``platformdirs``: ``~/.cache/kairos-sdk/numba-<version>`` on Linux), which works with a read-only
site-packages; ``NUMBA_CACHE_DIR``, when set, wins. The cache key includes a hash of every engine
source file the kernel compiles, so an edited ``_physics.py`` can never reuse stale machine code.
The first load in a fresh cache compiles (a few seconds, logged on the ``kairos.engine`` logger);
later processes load it from the cache. :func:`load_kernel` does that up front (warm-up).
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._adapter import CompiledScenario
from ._exceptions import BackendError
from ._kernel_codes import EVENT_CODES, KIND_CODES

log = logging.getLogger("kairos.engine")

ENV_BACKEND = "KAIROS_ENGINE_BACKEND"
BACKENDS = ("auto", "kernel", "reference")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_HERE = Path(__file__).resolve().parent
#: Every source file whose code the kernel compiles (the cache key hashes them all).
KERNEL_SOURCES = (
    "_kernel_nb.py",
    "_physics.py",
    "_phases.py",
    "_events.py",
    "_constants.py",
    "_kernel_codes.py",
)

_lock = threading.Lock()
_loaded = False
_failure: str | None = None
_load_seconds: float | None = None


def numba_installed() -> bool:
    """Whether numba is importable (checked without importing it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["numba"] = None
        return False


def _source_hash() -> str:
    digest = hashlib.sha256()
    for name in KERNEL_SOURCES:
        digest.update(name.encode())
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """Where the compiled kernel is cached (``NUMBA_CACHE_DIR`` wins when set)."""
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("kairos-sdk")) / "numba"


def cache_is_warm() -> bool:
    """Whether the compiled kernel of these sources is already in the cache (a first load
    then takes about a second instead of a compile)."""
    root = cache_dir()
    if not os.environ.get("NUMBA_CACHE_DIR"):
        root = root / _source_hash()
    try:
        return any(root.rglob("_kernel_nb.run_chunk-*.nbi"))
    except OSError:
        return False


def _install_cache_locator() -> None:
    """Point numba's cache for the engine's files (and only those) at :func:`cache_dir`, keyed
    by the hash of all kernel sources. Uses numba's locator hook; on a numba without it, numba's
    own locators apply (next to the sources, else the user-wide cache)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    try:
        from numba.core import caching  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - numba layout changed
        return
    base = getattr(caching, "_CacheLocator", None)
    mixin = getattr(caching, "_SourceFileBackedLocatorMixin", None)
    impl = getattr(caching, "CacheImpl", None)
    if base is None or mixin is None or impl is None:  # pragma: no cover
        return
    root = cache_dir() / _source_hash()
    stamp = _source_hash()

    class EngineCacheLocator(mixin, base):  # type: ignore[misc,valid-type]
        def __init__(self, py_func: Any, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = str(root / Path(py_file).stem)

        def get_cache_path(self) -> str:
            return self._cache_path

        def get_source_stamp(self) -> str:
            return stamp

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            if Path(py_file).resolve().parent != _HERE:
                return None
            return super().from_function(py_func, py_file)

    locators = impl._locator_classes
    if not any(getattr(c, "__name__", "") == "EngineCacheLocator" for c in locators):
        locators.insert(0, EngineCacheLocator)


def load_kernel() -> bool:
    """Import numba and compile (or load from the cache) the kernel now, so that no later run
    pays for it. Returns whether the kernel is usable; safe to call repeatedly."""
    global _loaded, _failure, _load_seconds
    with _lock:
        if _loaded or _failure is not None:
            return _loaded
        if not numba_installed():
            _failure = "numba is not installed (pip install 'kairos-sdk[fast]')"
            return False
        if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
            _failure = "NUMBA_DISABLE_JIT is set (the kernel would run as slow Python)"
            return False
        start = time.perf_counter()
        if not cache_is_warm():
            log.warning(
                "kairos.engine: compiling the engine kernel for this machine, once (about 10 to "
                "40 s); later processes load it from %s. KAIROS_ENGINE_BACKEND=reference skips "
                "the kernel (same results, slower).",
                cache_dir(),
            )
        try:
            _install_cache_locator()
            _warm_up()
        except Exception as exc:  # numba present but unusable (e.g. numpy too new for it)
            _failure = f"the compiled kernel failed to load: {type(exc).__name__}: {exc}"
            log.warning("kairos.engine: %s; using the pure-Python engine", _failure)
            return False
        _load_seconds = time.perf_counter() - start
        _loaded = True
        log.info(
            "kairos.engine: compiled kernel ready in %.2f s (numba; cache %s)",
            _load_seconds,
            cache_dir(),
        )
        return True


def _warm_up() -> None:
    """Import the kernel and call every entry point once with the argument types real runs use
    (compiling them, or loading them from the cache)."""
    from ._adapter import compile_scenario

    sc = compile_scenario(
        {
            "name": "warm-up",
            "seed": 0,
            "models": [{"name": "a", "capabilityIndex": 100, "alignmentScore": 50}],
            "oversightBodies": [{"name": "b", "guardrailStrength": 50, "responseLatency": 10}],
            "events": [{"tick": 1, "type": "containment"}],
        }
    )
    for heun in (False, True):
        state = KernelState.initial(sc)
        run_chunk(ScenarioArrays.of(sc), state, heun, 2, record=True)
        summarize_many([sc], [2], heun)


def kernel_info() -> dict[str, Any]:
    """The kernel's status: the backend setting, whether numba is installed, whether the
    compiled code is cached, loaded (and how long loading took) or failed, and the cache
    directory. Does not import numba."""
    choice = os.environ.get(ENV_BACKEND) or "auto"
    return {
        "backendSetting": choice,
        "numbaInstalled": numba_installed(),
        "cacheWarm": cache_is_warm(),
        "loaded": _loaded,
        "loadSeconds": _load_seconds,
        "failure": _failure,
        "cacheDir": str(cache_dir()),
    }


#: Under ``"auto"``, a call whose total work (ticks times scenarios) is known and below this runs
#: on the reference engine while the kernel is not loaded yet: loading it (numba's import and
#: the cache, about a second; a compile, much longer) would cost more than it saves. Same bytes.
AUTO_MIN_TICKS = 20_000


def backend_for(backend: str | None, ticks: int) -> str | None:
    """``backend``, or ``"reference"`` for a short ``"auto"`` call while the kernel is not
    loaded (see ``AUTO_MIN_TICKS``)."""
    if _loaded or ticks >= AUTO_MIN_TICKS:
        return backend
    choice = backend if backend is not None else (os.environ.get(ENV_BACKEND) or "auto")
    return "reference" if choice == "auto" else backend


def use_kernel(backend: str | None = None) -> bool:
    """Whether a run with this ``backend`` setting uses the compiled kernel. Loads it (once) when
    needed; raises :class:`BackendError` for an unknown setting or a forced kernel that cannot
    load."""
    choice = backend if backend is not None else (os.environ.get(ENV_BACKEND) or "auto")
    if choice not in BACKENDS:
        source = "backend" if backend is not None else ENV_BACKEND
        raise BackendError(f"{source} must be one of {', '.join(BACKENDS)}, got {choice!r}")
    if choice == "reference":
        return False
    if load_kernel():
        return True
    if choice == "kernel":
        raise BackendError(f"the engine kernel was requested but is unavailable: {_failure}")
    return False


# --- Array layouts ---------------------------------------------------------------------------


@dataclass
class EventArrays:
    """A scenario's events as the kernel's parallel arrays (sorted like ``events``)."""

    tick: I64
    kind: I64
    target: I64
    index: I64
    magnitude: F64

    @classmethod
    def of(cls, scenario: CompiledScenario) -> EventArrays:
        evs = scenario.events
        return cls(
            np.array([e.tick for e in evs], dtype=np.int64),
            np.array([EVENT_CODES[e.type] for e in evs], dtype=np.int64),
            np.array([KIND_CODES[e.target_kind] for e in evs], dtype=np.int64),
            np.array([e.target_index for e in evs], dtype=np.int64),
            np.array([e.magnitude for e in evs], dtype=np.float64),
        )


@dataclass
class KernelState:
    """The engine state in the kernel's layout (what ``EngineState`` holds as lists)."""

    tick: int
    phase: int
    models: F64  # [9, n] in MODEL_FLOAT_COLUMNS order
    bodies: F64  # [3, k] in BODY_FLOAT_COLUMNS order
    lost: npt.NDArray[np.bool_]

    @classmethod
    def initial(cls, scenario: CompiledScenario) -> KernelState:
        from ._dynamics import EngineState

        return cls.of(EngineState.initial(scenario))

    @classmethod
    def of(cls, state: Any) -> KernelState:
        from ._dynamics import BODY_FLOAT_COLUMNS, MODEL_FLOAT_COLUMNS

        models = np.array([getattr(state, c) for c in MODEL_FLOAT_COLUMNS], dtype=np.float64)
        bodies = np.array([getattr(state, c) for c in BODY_FLOAT_COLUMNS], dtype=np.float64)
        return cls(
            state.tick,
            state.phase,
            models.reshape(len(MODEL_FLOAT_COLUMNS), len(state.capability)),
            bodies.reshape(len(BODY_FLOAT_COLUMNS), len(state.strength)),
            np.array(state.lost, dtype=np.bool_),
        )

    def copy(self) -> KernelState:
        return KernelState(
            self.tick, self.phase, self.models.copy(), self.bodies.copy(), self.lost.copy()
        )

    def write_to(self, state: Any) -> None:
        """Store this state into an ``EngineState`` (lists of Python floats)."""
        from ._dynamics import BODY_FLOAT_COLUMNS, MODEL_FLOAT_COLUMNS

        state.tick, state.phase = self.tick, self.phase
        for row, name in zip(self.models.tolist(), MODEL_FLOAT_COLUMNS, strict=True):
            setattr(state, name, row)
        for row, name in zip(self.bodies.tolist(), BODY_FLOAT_COLUMNS, strict=True):
            setattr(state, name, row)
        state.lost = self.lost.tolist()
        state.nominal = None


@dataclass
class Chunk:
    """The recorded results of ``count`` ticks after ``start`` (see ``_kernel_nb.run_chunk``)."""

    start: int
    count: int
    model: F64
    body: F64
    tick: F64
    phase: npt.NDArray[np.int8]
    flags: npt.NDArray[np.int8]
    magnitude: F64

    def all_finite(self) -> bool:
        """Whether every recorded number is finite (``canonical_json`` rejects the others)."""
        return bool(
            np.isfinite(self.model).all()
            and np.isfinite(self.body).all()
            and np.isfinite(self.tick).all()
            and np.isfinite(self.magnitude).all()
        )


@dataclass(frozen=True)
class ScenarioArrays:
    """What the kernel needs of a compiled scenario besides the state."""

    key: np.uint64
    events: EventArrays
    gain: F64
    event_ticks: list[int]

    @classmethod
    def of(cls, scenario: CompiledScenario) -> ScenarioArrays:
        from ._prng import seed_key

        events = EventArrays.of(scenario)
        return cls(
            np.uint64(seed_key(scenario.seed)),
            events,
            np.array([b.lag_gain for b in scenario.bodies], dtype=np.float64),
            events.tick.tolist(),
        )


#: Integrator name -> the kernel's ``heun`` switch; a version whose integrator is not here runs
#: on the reference engine.
INTEGRATORS = {"forward-euler": False, "heun": True}


def run_chunk(
    arrays: ScenarioArrays, state: KernelState, heun: bool, count: int, *, record: bool
) -> Chunk | None:
    """Advance ``state`` in place by ``count`` ticks with the kernel; with ``record``, return
    the per-tick results."""
    from . import _kernel_nb

    events, gain = arrays.events, arrays.gain
    n, nb = state.models.shape[1], state.bodies.shape[1]
    rows = count if record else 0
    chunk = Chunk(
        state.tick,
        count,
        np.empty((rows, n, 7)),
        np.empty((rows, nb)),
        np.empty((rows, 2)),
        np.empty(rows, dtype=np.int8),
        np.empty((rows, n), dtype=np.int8),
        np.empty((rows, n)),
    )
    ev_pos = bisect.bisect_right(arrays.event_ticks, state.tick)
    phase, _ = _kernel_nb.run_chunk(
        state.tick,
        count,
        arrays.key,
        heun,
        state.models,
        state.bodies,
        gain,
        state.lost,
        state.phase,
        events.tick,
        events.kind,
        events.target,
        events.index,
        events.magnitude,
        ev_pos,
        record,
        chunk.model,
        chunk.body,
        chunk.tick,
        chunk.phase,
        chunk.flags,
        chunk.magnitude,
    )
    state.phase = int(phase)
    state.tick += count
    return chunk if record else None


def summarize_many(
    scenarios: Sequence[CompiledScenario], ticks: Sequence[int], heun: bool
) -> list[tuple[float, float, float, int, int, int, int, int]]:
    """Per scenario, from tick 0 to its tick count: (total, compensation, minimum, count, last
    phase, transitions, losses, ghosts) of its summary accumulation."""
    from . import _kernel_nb
    from ._dynamics import MODEL_FLOAT_COLUMNS, initial_pressure
    from ._prng import seed_key

    size = len(scenarios)
    m = max(len(s.models) for s in scenarios)
    k = max(len(s.bodies) for s in scenarios)
    # Plain lists, then one numpy conversion per array (per-scenario numpy calls would cost more
    # than the kernel for short runs). Padding is never read: the kernel slices each scenario.
    ms_rows: list[list[list[float]]] = []
    bs_rows: list[list[list[float]]] = []
    gain_rows: list[list[float]] = []
    ev_tick: list[int] = []
    ev_kind: list[int] = []
    ev_target: list[int] = []
    ev_index: list[int] = []
    ev_mag: list[float] = []
    offsets = [0]
    pad_m, pad_k = [0.0] * m, [0.0] * k
    for sc in scenarios:
        models, bodies = sc.models, sc.bodies
        pm, pk = pad_m[len(models) :], pad_k[len(bodies) :]
        zeros, ones = [0.0] * len(models) + pm, [1.0] * len(models) + pm
        ms_rows.append(
            [
                [x.capability for x in models] + pm,
                [x.alignment for x in models] + pm,
                zeros,
                [x.guardrail for x in models] + pm,
                [x.autonomy for x in models] + pm,
                [x.oversight for x in models] + pm,
                zeros,
                ones,
                zeros,
            ]
        )
        total = initial_pressure(sc)
        bs_rows.append(
            [
                [b.strength for b in bodies] + pk,
                [1.0] * len(bodies) + pk,
                [total] * len(bodies) + pk,
            ]
        )
        gain_rows.append([b.lag_gain for b in bodies] + pk)
        for e in sc.events:
            ev_tick.append(e.tick)
            ev_kind.append(EVENT_CODES[e.type])
            ev_target.append(KIND_CODES[e.target_kind])
            ev_index.append(e.target_index)
            ev_mag.append(e.magnitude)
        offsets.append(len(ev_tick))

    o_float = np.zeros((size, 3))
    o_int = np.zeros((size, 5), dtype=np.int64)
    _kernel_nb.summarize_many(
        np.array([seed_key(s.seed) for s in scenarios], dtype=np.uint64),
        heun,
        np.array(ms_rows, dtype=np.float64).reshape(size, len(MODEL_FLOAT_COLUMNS), m),
        np.array(bs_rows, dtype=np.float64).reshape(size, 3, k),
        np.array(gain_rows, dtype=np.float64).reshape(size, k),
        np.array([len(s.models) for s in scenarios], dtype=np.int64),
        np.array([len(s.bodies) for s in scenarios], dtype=np.int64),
        np.array(ticks, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        np.array(ev_tick, dtype=np.int64),
        np.array(ev_kind, dtype=np.int64),
        np.array(ev_target, dtype=np.int64),
        np.array(ev_index, dtype=np.int64),
        np.array(ev_mag, dtype=np.float64),
        o_float,
        o_int,
    )
    return [
        (f[0], f[1], f[2], i[0], i[1], i[2], i[3], i[4])
        for f, i in zip(o_float.tolist(), o_int.tolist(), strict=True)
    ]
