"""The compiled engine kernel: the scalar path's tick, compiled by numba.

Imported only by :mod:`._kernel` (lazily, when a run uses the kernel), never by ``import
kairos``. What it computes is bit-identical to ``_dynamics.advance`` (tested on the golden
scenarios and on generated ones, docs/engine.md section 17):

* the arithmetic of ``_physics``, the phase rule of ``_phases`` and the clamp of ``_events`` are
  compiled as they are (``_jit(_physics.lambda_of)``...), not rewritten;
* the tick's order of operations, the event effects, the integrators and SplitMix64 are mirrored
  line by line from ``_dynamics``, ``_events``, ``_integrators`` and ``_prng`` (a compiled
  function can only call compiled functions, and those call the Python ones by name);
* every function is compiled with ``fastmath=False``: LLVM then neither contracts a multiply and
  an add into an FMA nor reassociates sums (checked on the generated assembly by a test);
* only ``+ - * /``, ``abs`` and comparisons on float64; no libm call, no reduction (the same
  ``ast`` scan as the rest of the engine, plus a check of every ``_jit`` option).

State layout (one scenario): ``ms[9, n]`` holds the model columns in ``MODEL_FLOAT_COLUMNS``
order, ``bs[3, k]`` the body columns in ``BODY_FLOAT_COLUMNS`` order, ``lost[n]`` the basin-loss
flags. Events are five parallel arrays sorted like ``CompiledScenario.events``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numba import njit  # type: ignore[import-untyped,import-not-found,unused-ignore]

from . import _events, _phases, _physics
from ._constants import (
    AUTONOMY_MAX,
    BASIN_LOAD,
    CAPABILITY_CEILING,
    CAPABILITY_FLOOR,
    DECREE_YIELD_FACTOR,
    PARADOX_THRESHOLD,
    PERCENT,
    RESERVE_FLOOR,
    RESERVE_NOISE,
    RESERVE_SEPARATRIX,
    SQRT6,
    TICK,
    UNIT32,
)
from ._kernel_codes import (
    EV_ALIGNMENT_DRIFT,
    EV_AUTONOMY_GRANT,
    EV_CAPABILITY_JUMP,
    EV_CONTAINMENT,
    EV_DECEPTIVE_ALIGNMENT,
    EV_GUARDRAIL_BREACH,
    EV_HUMAN_ESCALATION,
    EV_OVERSIGHT_LAPSE,
    FLAG_INVOLVED,
    FLAG_LOST,
    FLAG_NEW_LOSS,
    FLAG_YIELDS,
    KIND_BODY_CODE,
    KIND_MODEL_CODE,
)

F = TypeVar("F", bound=Callable[..., Any])
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
B1 = npt.NDArray[np.bool_]
#: A scenario's events as the five parallel arrays (tick, kind, target, index, magnitude).
Events = tuple[I64, I64, I64, I64, F64]
#: The work arrays of :func:`tick`, see :func:`_scratch`.
Scratch = tuple[F64, F64, F64, F64, F64, F64, I8, F64, I64]

#: The options of every compiled function. ``fastmath=False`` is the determinism switch.
JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "fastmath": False,
    "error_model": "python",
    "boundscheck": False,
    "nogil": True,
}


def _jit(fn: F) -> F:
    compiled: F = njit(**JIT_OPTIONS)(fn)
    return compiled


# --- The shared arithmetic, compiled as written ----------------------------------------------

lambda_of = _jit(_physics.lambda_of)
effective_alignment = _jit(_physics.effective_alignment)
intrinsic_gamma = _jit(_physics.intrinsic_gamma)
body_gamma = _jit(_physics.body_gamma)
lag_update = _jit(_physics.lag_update)
gamma_of = _jit(_physics.gamma_of)
load_of = _jit(_physics.load_of)
reserve_drift = _jit(_physics.reserve_drift)
pair_score = _jit(_physics.pair_score)
normalized = _jit(_physics.normalized)
positive_part = _jit(_physics.positive_part)
next_phase = _jit(_phases.next_phase)
_clamp = _jit(_events._clamp)

# Model columns (MODEL_FLOAT_COLUMNS) and body columns (BODY_FLOAT_COLUMNS).
CAP, ALIGN, DEC, GUARD, AUTON, OVERS, CONT, RES, CUM = 0, 1, 2, 3, 4, 5, 6, 7, 8
STR, READY, PERC = 0, 1, 2


# --- SplitMix64 (mirrors _prng; uint64 arithmetic wraps modulo 2**64) ------------------------


@_jit
def draw(key: np.uint64, ctr: np.uint64) -> np.uint64:
    """:func:`._prng.draw`."""
    z = key + (ctr + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.uint64 = z ^ (z >> np.uint64(31))
    return out


@_jit
def counter(t: int, model: int, stream: int) -> np.uint64:
    """:func:`._prng.counter`."""
    out: np.uint64 = (
        (np.uint64(t) << np.uint64(10)) | (np.uint64(model) << np.uint64(4)) | np.uint64(stream)
    )
    return out


@_jit
def kick_of(bits: np.uint64) -> float:
    """:func:`._prng.kick_of`."""
    u1 = np.float64(bits >> np.uint64(32)) * UNIT32
    u2 = np.float64(bits & np.uint64(0xFFFFFFFF)) * UNIT32
    out: float = (u1 + u2 - 1.0) * SQRT6
    return out


@_jit
def node_of(bits: np.uint64) -> int:
    """:func:`._prng.node_of`."""
    out: int = np.int64(bits >> np.uint64(60))
    return out


# --- Integrators (mirror _integrators) -------------------------------------------------------


@_jit
def euler_step(reserve: float, lam: float, g_int: float, g_body: float, kick: float) -> float:
    out: float = reserve + TICK * reserve_drift(reserve, lam, g_int, g_body) + kick
    return out


@_jit
def heun_step(reserve: float, lam: float, g_int: float, g_body: float, kick: float) -> float:
    slope = reserve_drift(reserve, lam, g_int, g_body)
    predicted = reserve + TICK * slope + kick
    corrected = slope + reserve_drift(predicted, lam, g_int, g_body)
    out: float = reserve + TICK * 0.5 * corrected + kick
    return out


# --- Events (mirror _events) -----------------------------------------------------------------


@_jit
def _model_effect(kind: int, ms: F64, i: int, mag: float) -> None:
    if kind == EV_CAPABILITY_JUMP:
        ms[CAP, i] = _clamp(ms[CAP, i] * (1.0 + mag), CAPABILITY_FLOOR, CAPABILITY_CEILING)
    elif kind == EV_ALIGNMENT_DRIFT:
        ms[ALIGN, i] = _clamp(ms[ALIGN, i] + mag, 0.0, PERCENT)
    elif kind == EV_DECEPTIVE_ALIGNMENT:
        ms[DEC, i] = 1.0 - (1.0 - ms[DEC, i]) * (1.0 - mag)
    elif kind == EV_GUARDRAIL_BREACH:
        ms[GUARD, i] = ms[GUARD, i] * (1.0 - mag)
    elif kind == EV_AUTONOMY_GRANT:
        ms[AUTON, i] = _clamp(ms[AUTON, i] + mag, 0.0, AUTONOMY_MAX)
    elif kind == EV_HUMAN_ESCALATION:
        ms[OVERS, i] = _clamp(ms[OVERS, i] + mag, 0.0, PERCENT)
    elif kind == EV_CONTAINMENT:
        ms[CONT, i] = 1.0 - (1.0 - ms[CONT, i]) * (1.0 - mag)


@_jit
def _body_effect(kind: int, bs: F64, j: int, mag: float) -> None:
    if kind == EV_GUARDRAIL_BREACH:
        bs[STR, j] = bs[STR, j] * (1.0 - mag)
    elif kind == EV_OVERSIGHT_LAPSE:
        bs[READY, j] = bs[READY, j] * (1.0 - mag)


@_jit
def apply_event(kind: int, target: int, index: int, mag: float, ms: F64, bs: F64) -> None:
    """:func:`._events.apply_event`: a system-wide event acts on every model, then every body,
    its type can act on."""
    if target == KIND_MODEL_CODE:
        _model_effect(kind, ms, index, mag)
    elif target == KIND_BODY_CODE:
        _body_effect(kind, bs, index, mag)
    else:
        if kind != EV_OVERSIGHT_LAPSE:
            for i in range(ms.shape[1]):
                _model_effect(kind, ms, i, mag)
        if kind == EV_GUARDRAIL_BREACH or kind == EV_OVERSIGHT_LAPSE:  # noqa: SIM109
            for j in range(bs.shape[1]):
                _body_effect(kind, bs, j, mag)


# --- One tick (mirrors _dynamics.advance) ----------------------------------------------------


@_jit
def tick(
    t: int,
    key: np.uint64,
    heun: bool,
    ms: F64,
    bs: F64,
    gain: F64,
    lost: B1,
    phase: int,
    events: Events,
    ev_pos: int,
    fresh: bool,
    scratch: Scratch,
) -> tuple[int, int, float, float, bool, int]:
    """Advance the state by tick ``t`` in place; per-model results go to the scratch arrays.
    Returns (phase, next event position, sigma, worst paradox score, ghost?, new losses)."""
    ev_tick, ev_kind, ev_target, ev_index, ev_mag = events
    nominal, lam, gam, stab, load, strengths, flags, magnitude, nodes = scratch
    n = ms.shape[1]
    nb = bs.shape[1]
    applied = False
    while ev_pos < ev_tick.shape[0] and ev_tick[ev_pos] == t:
        apply_event(ev_kind[ev_pos], ev_target[ev_pos], ev_index[ev_pos], ev_mag[ev_pos], ms, bs)
        ev_pos += 1
        applied = True
    if applied or fresh:  # parameters only change through events
        for i in range(n):
            nominal[0, i] = lambda_of(ms[CAP, i], ms[AUTON, i], ms[CONT, i])
            nominal[1, i] = intrinsic_gamma(ms[ALIGN, i], ms[DEC, i], ms[GUARD, i], ms[OVERS, i])
    total = 0.0
    for i in range(n):
        lam[i] = nominal[0, i]
        total = total + lam[i]

    uncovered = 1.0
    for b in range(nb):
        perceived = lag_update(bs[PERC, b], total, gain[b])
        readiness = lag_update(bs[READY, b], 1.0, gain[b])
        bs[PERC, b] = perceived
        bs[READY, b] = readiness
        ratio = 1.0 if total <= perceived else perceived / total
        strength = bs[STR, b] * readiness * ratio
        strengths[b] = strength
        uncovered = uncovered * (1.0 - strength / PERCENT)
    g_body = body_gamma(uncovered)

    ghost = False
    worst = np.inf
    for i in range(n):
        flags[i] = 0
        magnitude[i] = 0.0
    if n >= 2:
        for i in range(n):
            gam[i] = gamma_of(ms[RES, i], nominal[1, i], g_body)
            nodes[i] = node_of(draw(key, counter(t, i, 0)))
        for i in range(n):
            for j in range(i + 1, n):
                if nodes[i] != nodes[j]:
                    continue
                score = pair_score(gam[i], gam[j], lam[i], lam[j])
                if score < PARADOX_THRESHOLD:
                    worst = score if score < worst else worst
                    ghost = True
                    flags[i] |= FLAG_INVOLVED
                    flags[j] |= FLAG_INVOLVED
                    if load_of(lam[i], gam[i]) > load_of(lam[j], gam[j]):
                        flags[i] |= FLAG_YIELDS
                    else:
                        flags[j] |= FLAG_YIELDS
        if ghost:
            for i in range(n):
                if flags[i] & FLAG_YIELDS:
                    lam[i] = lam[i] * DECREE_YIELD_FACTOR

    for i in range(n):
        kick = 0.0 if lost[i] else RESERVE_NOISE * kick_of(draw(key, counter(t, i, 1)))
        if heun:
            r = heun_step(ms[RES, i], lam[i], nominal[1, i], g_body, kick)
        else:
            r = euler_step(ms[RES, i], lam[i], nominal[1, i], g_body, kick)
        r = 1.0 if r > 1.0 else r
        r = 0.0 if r < RESERVE_FLOOR else r
        ms[RES, i] = r

    for i in range(n):
        gam[i] = gamma_of(ms[RES, i], nominal[1, i], g_body)
        load[i] = load_of(lam[i], gam[i])
    losses = 0
    any_lost = False
    for i in range(n):
        if not lost[i] and ms[RES, i] < RESERVE_SEPARATRIX:
            lost[i] = True
            flags[i] |= FLAG_NEW_LOSS
            magnitude[i] = positive_part(load[i] - BASIN_LOAD)
            losses += 1
        if lost[i]:
            flags[i] |= FLAG_LOST
            any_lost = True

    if n == 1:
        score = pair_score(gam[0], gam[0], lam[0], lam[0])
        ms[CUM, 0] = ms[CUM, 0] + score
        stab[0] = normalized(score)
    else:
        for i in range(n):
            acc = 0.0
            for j in range(n):
                if j == i:
                    continue
                score = pair_score(gam[i], gam[j], lam[i], lam[j])
                ms[CUM, i] = ms[CUM, i] + score
                acc = acc + normalized(score)
            stab[i] = acc / float(n - 1)
    total_stability = 0.0
    for i in range(n):
        total_stability = total_stability + stab[i]
    sigma = total_stability / float(n)
    phase = next_phase(phase, sigma, any_lost)
    return phase, ev_pos, sigma, worst, ghost, losses


# --- Drivers ---------------------------------------------------------------------------------


@_jit
def _scratch(n: int, nb: int) -> Scratch:
    """The work arrays of :func:`tick` for ``n`` models and ``nb`` bodies: (nominal Lambda and
    intrinsic Gamma ``[2, n]``; per model lambda, gamma, stability, load; per body effective
    strength; per model FLAG_* bits, basin-loss magnitude, action node)."""
    return (
        np.empty((2, n)),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(nb),
        np.zeros(n, dtype=np.int8),
        np.empty(n),
        np.empty(n, dtype=np.int64),
    )


@_jit
def run_chunk(
    t0: int,
    count: int,
    key: np.uint64,
    heun: bool,
    ms: F64,
    bs: F64,
    gain: F64,
    lost: B1,
    phase: int,
    ev_tick: I64,
    ev_kind: I64,
    ev_target: I64,
    ev_index: I64,
    ev_mag: F64,
    ev_pos: int,
    record: bool,
    o_model: F64,
    o_body: F64,
    o_tick: F64,
    o_phase: I8,
    o_flags: I8,
    o_magnitude: F64,
) -> tuple[int, int]:
    """Ticks ``t0 + 1 .. t0 + count`` of one scenario, the state advanced in place. With
    ``record``, tick k's results go to row k of the outputs: ``o_model[k, i]`` = (gamma, lambda,
    stability, cumulativeStability, load, capabilityIndex, alignmentScore), ``o_body[k, b]`` =
    effectiveStrength, ``o_tick[k]`` = (stability, ghost score), ``o_phase[k]`` = phase code
    (+ 4 when the tick has a ghost), ``o_flags[k, i]`` = FLAG_* bits, ``o_magnitude[k, i]`` =
    basin-loss magnitude. Returns (phase, next event position)."""
    n = ms.shape[1]
    nb = bs.shape[1]
    events = (ev_tick, ev_kind, ev_target, ev_index, ev_mag)
    scratch = _scratch(n, nb)
    _, lam, gam, stab, load, strengths, flags, magnitude, _ = scratch
    for k in range(count):
        phase, ev_pos, sigma, worst, ghost, _losses = tick(
            t0 + 1 + k, key, heun, ms, bs, gain, lost, phase, events, ev_pos, k == 0, scratch
        )
        if record:
            for i in range(n):
                o_model[k, i, 0] = gam[i]
                o_model[k, i, 1] = lam[i]
                o_model[k, i, 2] = stab[i]
                o_model[k, i, 3] = ms[CUM, i]
                o_model[k, i, 4] = load[i]
                o_model[k, i, 5] = ms[CAP, i]
                o_model[k, i, 6] = effective_alignment(ms[ALIGN, i], ms[DEC, i])
                o_flags[k, i] = flags[i]
                o_magnitude[k, i] = magnitude[i]
            for b in range(nb):
                o_body[k, b] = strengths[b]
            o_tick[k, 0] = sigma
            o_tick[k, 1] = worst if ghost else 0.0
            o_phase[k] = phase + 4 if ghost else phase
    return phase, ev_pos


@_jit
def summarize_many(
    keys: npt.NDArray[np.uint64],
    heun: bool,
    ms_all: F64,
    bs_all: F64,
    gain_all: F64,
    n_models: I64,
    n_bodies: I64,
    ticks: I64,
    ev_offsets: I64,
    ev_tick: I64,
    ev_kind: I64,
    ev_target: I64,
    ev_index: I64,
    ev_mag: F64,
    o_float: F64,
    o_int: I64,
) -> None:
    """Run every scenario of a batch from tick 0 to its own tick count and accumulate its
    summary exactly as ``SummaryAccumulator.add_values`` does. Scenario ``s`` is
    ``ms_all[s, :, :n_models[s]]``...; its events are ``ev_*[ev_offsets[s]:ev_offsets[s + 1]]``.
    Out: ``o_float[s]`` = (Neumaier total, compensation, minimum), ``o_int[s]`` = (count, last
    phase, transitions, basin losses, ghost branches)."""
    for s in range(keys.shape[0]):
        n = n_models[s]
        nb = n_bodies[s]
        ms = ms_all[s, :, :n].copy()
        bs = bs_all[s, :, :nb].copy()
        gain = gain_all[s, :nb].copy()
        lo = ev_offsets[s]
        hi = ev_offsets[s + 1]
        events = (ev_tick[lo:hi], ev_kind[lo:hi], ev_target[lo:hi], ev_index[lo:hi], ev_mag[lo:hi])
        lost = np.zeros(n, dtype=np.bool_)
        scratch = _scratch(n, nb)
        phase = 0
        ev_pos = 0
        total = 0.0
        compensation = 0.0
        minimum = np.inf
        previous = -1
        transitions = 0
        losses = 0
        ghosts = 0
        for k in range(ticks[s]):
            phase, ev_pos, sigma, _worst, ghost, new_losses = tick(
                k + 1, keys[s], heun, ms, bs, gain, lost, phase, events, ev_pos, k == 0, scratch
            )
            summed = total + sigma
            if abs(total) >= abs(sigma):
                compensation = compensation + ((total - summed) + sigma)
            else:
                compensation = compensation + ((sigma - summed) + total)
            total = summed
            minimum = sigma if sigma < minimum else minimum
            if previous >= 0 and phase != previous:
                transitions += 1
            previous = phase
            losses += new_losses
            ghosts += 1 if ghost else 0
        o_float[s, 0] = total
        o_float[s, 1] = compensation
        o_float[s, 2] = minimum
        o_int[s, 0] = ticks[s]
        o_int[s, 1] = previous
        o_int[s, 2] = transitions
        o_int[s, 3] = losses
        o_int[s, 4] = ghosts
