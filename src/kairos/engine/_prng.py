"""Counter-based pseudo-random numbers in integer arithmetic (SplitMix64 at a counter).

Why not ``random`` or ``numpy.random``: their algorithms and seeding are implementation details
that may change between releases, and a published trace must reproduce years later. SplitMix64
(Steele, Lea and Flood, 2014) is a fixed 64-bit integer recipe: draw number ``n`` of a stream with
key ``k`` is ``mix64(k + (n + 1) * GOLDEN_GAMMA mod 2**64)``. Being counter-based, any draw can be
computed without its predecessors, which is what lets a checkpoint resume and a batch advance many
scenarios in lock-step with the same numbers as a lone run.

Counters: ``(tick << 10) | (model_index << 4) | stream``; model indices stay below 64 and streams
below 16, so distinct (tick, model, stream) triples never share a counter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._constants import NODE_BITS, SQRT6, UNIT32

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
MIX_MUL_1 = 0xBF58476D1CE4E5B9
MIX_MUL_2 = 0x94D049BB133111EB
SEED_SALT = 0x4B4149524F53  # "KAIROS": keeps key(seed) away from SplitMix64's own outputs

STREAM_NODE = 0
"""Stream of the action node a model targets this tick."""
STREAM_NOISE = 1
"""Stream of the random kick of a model's reserve this tick."""

MODEL_SHIFT = 4
TICK_SHIFT = 10

U64 = npt.NDArray[np.uint64]


def mix64(z: int) -> int:
    """SplitMix64's finalizer on a Python int in [0, 2**64)."""
    z = ((z ^ (z >> 30)) * MIX_MUL_1) & MASK64
    z = ((z ^ (z >> 27)) * MIX_MUL_2) & MASK64
    return z ^ (z >> 31)


def seed_key(seed: int) -> int:
    """The stream key of a scenario seed (seeds are 0 .. 2**53 - 1)."""
    return mix64((seed ^ SEED_SALT) & MASK64)


def counter(tick: int, model: int, stream: int) -> int:
    """The counter of one draw."""
    return (tick << TICK_SHIFT) | (model << MODEL_SHIFT) | stream


def draw(key: int, ctr: int) -> int:
    """Draw number ``ctr`` of the stream with ``key``: a uniform 64-bit integer."""
    return mix64((key + (ctr + 1) * GOLDEN_GAMMA) & MASK64)


def node_of(bits: int) -> int:
    """The action node (0 .. 15) encoded in the top bits of a draw."""
    return bits >> (64 - NODE_BITS)


def kick_of(bits: int) -> float:
    """A zero-mean, unit-variance triangular variate from one draw: the two 32-bit halves give
    uniforms u1, u2 exactly, and (u1 + u2 - 1) * sqrt(6) has mean 0 and variance 1."""
    u1 = float(bits >> 32) * UNIT32
    u2 = float(bits & 0xFFFFFFFF) * UNIT32
    return (u1 + u2 - 1.0) * SQRT6


# --- numpy twins (uint64 arithmetic wraps modulo 2**64, exactly like the masked ints) ---------

_GOLDEN = np.uint64(GOLDEN_GAMMA)
_MUL1 = np.uint64(MIX_MUL_1)
_MUL2 = np.uint64(MIX_MUL_2)
_ONE = np.uint64(1)
_LOW32 = np.uint64(0xFFFFFFFF)


def mix64_array(z: U64) -> U64:
    """:func:`mix64` element-wise on uint64 arrays."""
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    out: U64 = z ^ (z >> np.uint64(31))
    return out


def draw_array(key: U64, ctr: U64) -> U64:
    """:func:`draw` element-wise (``key`` and ``ctr`` broadcast)."""
    return mix64_array(key + (ctr + _ONE) * _GOLDEN)


def node_of_array(bits: U64) -> npt.NDArray[np.int64]:
    """:func:`node_of` element-wise."""
    out: npt.NDArray[np.int64] = (bits >> np.uint64(64 - NODE_BITS)).astype(np.int64)
    return out


def kick_of_array(bits: U64) -> npt.NDArray[np.float64]:
    """:func:`kick_of` element-wise."""
    u1 = (bits >> np.uint64(32)).astype(np.float64) * UNIT32
    u2 = (bits & _LOW32).astype(np.float64) * UNIT32
    out: npt.NDArray[np.float64] = (u1 + u2 - 1.0) * SQRT6
    return out
