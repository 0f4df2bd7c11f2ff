"""Single runs: the :class:`Simulation` object, checkpoints and convenience runners."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from ._adapter import CompiledScenario, compile_scenario
from ._canonical import canonical_json, canonical_step_bytes
from ._dynamics import BODY_FLOAT_COLUMNS, MODEL_FLOAT_COLUMNS, EngineState, advance
from ._exceptions import CheckpointError, Issue, ScenarioError
from ._foresight import Foresight
from ._kernel import (
    INTEGRATORS,
    Chunk,
    KernelState,
    ScenarioArrays,
    backend_for,
    run_chunk,
    use_kernel,
)
from ._materialize import LineBuilder
from ._phases import PHASE_CODES, PHASE_NAMES
from ._prng import seed_key
from ._versions import resolve_version

CHECKPOINT_FORMAT = "kairos.engine.checkpoint"
CHECKPOINT_FORMAT_VERSION = 1

ScenarioLike = Mapping[str, Any] | CompiledScenario

_FLOAT_COLUMNS = MODEL_FLOAT_COLUMNS + BODY_FLOAT_COLUMNS


class Simulation:
    """One scenario advancing tick by tick under one engine version.

    Pure and I/O-free: :meth:`step` returns the next ``TraceStep`` wire dict. A run is fully
    determined by (scenario, engine version); the scenario carries the seed. :meth:`checkpoint`
    captures the state between two ticks as bytes and :meth:`from_checkpoint` resumes it, giving
    exactly the steps an uninterrupted run would have given.

    ``backend`` chooses the implementation: ``"auto"`` (default; the compiled kernel when
    ``kairos-sdk[fast]`` is installed, else the pure-Python reference), ``"kernel"`` or
    ``"reference"``; ``KAIROS_ENGINE_BACKEND`` sets the default. Both give the same bytes. The
    kernel computes ticks ahead in chunks and builds each step when it is asked for;
    :meth:`checkpoint` still captures the state right after the last step returned.
    """

    def __init__(
        self,
        scenario: ScenarioLike,
        engine_version: str | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        self.scenario = compile_scenario(scenario)
        self.params = resolve_version(engine_version)
        self._key = seed_key(self.scenario.seed)
        self._state = EngineState.initial(self.scenario)
        self._fast: _FastPath | None = None
        self._foresight: Foresight | None = None
        heun = INTEGRATORS.get(self.params.integrator.name)
        if self.params.foresight:
            # Prophecies exist only in the pure-Python engine: any backend runs it (same bytes
            # by definition), and ``backend`` says "reference".
            self._foresight = Foresight(self.scenario, self.params.integrator, self._key)
        elif heun is not None and use_kernel(backend):
            self._fast = _FastPath(self.scenario, heun)

    @property
    def engine_version(self) -> str:
        return self.params.version

    @property
    def backend(self) -> str:
        """``"kernel"`` or ``"reference"``: the implementation this run uses."""
        return "reference" if self._fast is None else "kernel"

    @property
    def tick(self) -> int:
        """The last tick computed (0 before the first step)."""
        return self._state.tick if self._fast is None else self._fast.tick(self._state)

    def step(self) -> dict[str, Any]:
        """Compute the next tick and return its step."""
        if self._fast is None:
            step = advance(self._state, self.scenario, self.params.integrator, self._key)
            if self._foresight is not None:
                self._foresight.annotate(step, self._state)
            return step
        return self._fast.step(self._state, None)

    def steps(self, until: int) -> Iterator[dict[str, Any]]:
        """Yield the steps after the current tick up to and including tick ``until``."""
        if self._fast is None:
            while self._state.tick < until:
                yield self.step()
            return
        fast, state = self._fast, self._state
        while fast.tick(state) < until:
            yield fast.step(state, until)

    def lines(self, until: int) -> Iterator[bytes]:
        """Like :meth:`steps`, but yield each step's canonical line (``canonical_step_bytes``:
        canonical JSON plus ``\\n``), what a trace file or the server stores. With the kernel
        the lines are written straight from its arrays, without building step dicts."""
        if self._fast is None:
            while self._state.tick < until:
                yield canonical_step_bytes(self.step())
            return
        fast, state = self._fast, self._state
        while fast.tick(state) < until:
            yield fast.line(state, until)

    def advance_to(self, until: int) -> None:
        """Compute up to tick ``until`` without building steps (the compute-only path: with the
        kernel, no per-tick Python work at all)."""
        if self._fast is None:
            while self._state.tick < until:
                self.step()
            return
        self._fast.advance_to(self._state, until)

    def amend(self, scenario: ScenarioLike) -> None:
        """Continue under an amended scenario: the same seed, models and bodies, and the same
        events up to the current tick; only events after it may differ (a decree is an event
        added at the next tick). The run then continues exactly as a run of the amended
        scenario from tick 1 would (its events up to now are the ones applied), and later
        checkpoints carry the amended scenario's fingerprint. Raises :class:`ScenarioError`
        if the amendment would rewrite the past."""
        new = compile_scenario(scenario)
        self._sync()
        tick = self._state.tick
        old = self.scenario
        issues = []
        if (new.seed, new.models, new.bodies) != (old.seed, old.models, old.bodies):
            issues.append(Issue("$", "an amendment keeps the seed, the models and the bodies"))
        if [e for e in new.events if e.tick <= tick] != [e for e in old.events if e.tick <= tick]:
            issues.append(
                Issue("events", f"an amendment may change only the events after tick {tick}")
            )
        if issues:
            raise ScenarioError(issues)
        self.scenario = new
        if self._foresight is not None:
            self._foresight = Foresight(new, self.params.integrator, self._key)
        if self._fast is not None:
            fast = _FastPath(new, self._fast.heun)
            fast.max_chunk = self._fast.max_chunk
            fast.size = min(fast.size, fast.max_chunk)
            self._fast = fast

    def _limit_look_ahead(self, ticks: int) -> None:
        """Compute at most ``ticks`` ahead (bounds the memory of many kernel runs at once)."""
        if self._fast is not None:
            self._fast.max_chunk = max(1, ticks)
            self._fast.size = min(self._fast.size, self._fast.max_chunk)

    def _sync(self) -> None:
        if self._fast is not None:
            self._fast.sync(self._state)

    def checkpoint(self) -> bytes:
        """The state after the current tick as canonical JSON bytes (floats round-trip
        exactly through their shortest repr), with the engine version, the scenario
        fingerprint and the checkpoint format version."""
        self._sync()
        st = self._state
        body: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "formatVersion": CHECKPOINT_FORMAT_VERSION,
            "engineVersion": self.engine_version,
            "scenarioFingerprint": self.scenario.fingerprint,
            "tick": st.tick,
            "phase": PHASE_NAMES[st.phase],
            "lost": list(st.lost),
        }
        for name in _FLOAT_COLUMNS:
            body[name] = list(getattr(st, name))
        if self._foresight is not None:
            body["warningArmed"] = list(st.armed) or [True] * (1 + len(st.lost))
        return canonical_json(body).encode("ascii")

    @classmethod
    def from_checkpoint(
        cls, scenario: ScenarioLike, data: bytes | str, *, backend: str | None = None
    ) -> Simulation:
        """Resume from :meth:`checkpoint` bytes. The scenario must be the one checkpointed
        (same fingerprint); the run continues under the checkpoint's engine version, which must
        still be active (else :class:`EngineVersionError`)."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"checkpoint is not JSON: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("not a kairos engine checkpoint")
        if raw.get("formatVersion") != CHECKPOINT_FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint format version {raw.get('formatVersion')!r} is not supported "
                f"(this engine reads {CHECKPOINT_FORMAT_VERSION})"
            )
        sim = cls(scenario, raw.get("engineVersion"), backend=backend)
        if raw.get("scenarioFingerprint") != sim.scenario.fingerprint:
            raise CheckpointError("checkpoint belongs to another scenario (fingerprint differs)")
        n, nb = len(sim.scenario.models), len(sim.scenario.bodies)
        try:
            state = sim._state
            tick = raw["tick"]
            if not isinstance(tick, int) or isinstance(tick, bool) or tick < 0:
                raise CheckpointError(f"bad tick {tick!r}")
            state.tick = tick
            state.phase = PHASE_CODES[raw["phase"]]
            state.lost = [bool(v) for v in raw["lost"]]
            for name in _FLOAT_COLUMNS:
                values = [float(v) for v in raw[name]]
                if not all(math.isfinite(v) for v in values):
                    raise CheckpointError(f"checkpoint column {name!r} has a non-finite number")
                setattr(state, name, values)
            if sim._foresight is not None:
                state.armed = [bool(v) for v in raw["warningArmed"]]
                if len(state.armed) != n + 1:
                    raise CheckpointError("checkpoint warning state does not match the models")
            sizes = {len(state.lost), *(len(getattr(state, c)) for c in MODEL_FLOAT_COLUMNS)}
            body_sizes = {len(getattr(state, c)) for c in BODY_FLOAT_COLUMNS}
            if sizes != {n} or not body_sizes <= {nb}:
                raise CheckpointError("checkpoint columns do not match the scenario's entities")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(f"malformed checkpoint: {exc!r}") from exc
        return sim


def iter_steps(
    scenario: ScenarioLike,
    ticks: int,
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the ``ticks`` steps of a run, t = 1..ticks, in constant memory."""
    return _simulation_for(scenario, ticks, engine_version, backend).steps(ticks)


def run(
    scenario: ScenarioLike,
    ticks: int,
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> list[dict[str, Any]]:
    """All ``ticks`` steps of a run as a list (eager)."""
    return list(iter_steps(scenario, ticks, engine_version, backend=backend))


def iter_lines(
    scenario: ScenarioLike,
    ticks: int,
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> Iterator[bytes]:
    """Yield the canonical lines of the ``ticks`` steps of a run (see :meth:`Simulation.lines`);
    their concatenation is ``canonical_trace_bytes`` of the run."""
    return _simulation_for(scenario, ticks, engine_version, backend).lines(ticks)


def _simulation_for(
    scenario: ScenarioLike, ticks: int, engine_version: str | None, backend: str | None
) -> Simulation:
    """A simulation to run for ``ticks`` (a positive int), on the backend that suits them."""
    if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 1:
        raise ValueError(f"ticks must be a positive integer, got {ticks!r}")
    return Simulation(scenario, engine_version, backend=backend_for(backend, ticks))


class _FastPath:
    """The kernel side of a :class:`Simulation`.

    ``state`` (the simulation's ``EngineState``) is authoritative at its own tick; ``_ahead`` is
    the kernel state at the end of the current chunk, whose recorded rows are handed out one
    step at a time. :meth:`sync` brings ``state`` to the last step handed out (re-running the
    kernel from ``state`` over the ticks consumed, when the chunk is only partly consumed).
    """

    FIRST_CHUNK = 32
    MAX_CHUNK = 2048

    def __init__(self, scenario: CompiledScenario, heun: bool) -> None:
        self.scenario = scenario
        self.heun = heun
        self.arrays = ScenarioArrays.of(scenario)
        self.builder = LineBuilder(scenario)
        self.size = self.FIRST_CHUNK
        self.max_chunk = self.MAX_CHUNK
        self._ahead: KernelState | None = None
        self._rows: Chunk | None = None
        self._pos = 0  # rows of the chunk handed out

    def tick(self, state: EngineState) -> int:
        return state.tick if self._rows is None else self._rows.start + self._pos

    def _next(self, state: EngineState, until: int | None) -> tuple[Chunk, int]:
        """The chunk row of the next tick (computing a new chunk when needed)."""
        rows = self._rows
        if rows is None or self._pos == rows.count:
            self.sync(state)
            count = self.size if until is None else min(until - state.tick, self.max_chunk)
            self.size = min(self.size * 2, self.max_chunk)
            ahead = KernelState.of(state)
            rows = run_chunk(self.arrays, ahead, self.heun, max(count, 1), record=True)
            assert rows is not None
            self._ahead, self._rows, self._pos = ahead, rows, 0
        self._pos += 1
        return rows, self._pos - 1

    def step(self, state: EngineState, until: int | None) -> dict[str, Any]:
        return self.builder.step(*self._next(state, until))

    def line(self, state: EngineState, until: int | None) -> bytes:
        return self.builder.line(*self._next(state, until))

    def advance_to(self, state: EngineState, until: int) -> None:
        self.sync(state)
        if until > state.tick:
            ahead = KernelState.of(state)
            run_chunk(self.arrays, ahead, self.heun, until - state.tick, record=False)
            ahead.write_to(state)

    def sync(self, state: EngineState) -> None:
        rows, ahead = self._rows, self._ahead
        if rows is None or ahead is None:
            return
        target = rows.start + self._pos
        if target == ahead.tick:
            ahead.write_to(state)
            self._rows = self._ahead = None
        elif target > state.tick:
            here = KernelState.of(state)
            run_chunk(self.arrays, here, self.heun, target - state.tick, record=False)
            here.write_to(state)
