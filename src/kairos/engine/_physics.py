"""The engine's arithmetic, written once for both paths.

Every function here uses only ``+ - * /`` and ``abs`` on its arguments, evaluated left to right
as written, so it computes bit-identical results on Python floats (the scalar path) and on
float64 numpy arrays (the batch path, where element-wise operations are IEEE-754 exact and never
fused). Branches (clamps, masks) are not here: each path writes its own, side by side in
``_dynamics.py`` and ``_batch.py``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ._constants import (
    AUTONOMY_BASE,
    AUTONOMY_GAIN,
    BASIN_LOAD,
    CAPABILITY_SCALE,
    EROSION_RATE,
    PARADOX_EPSILON,
    PERCENT,
    RESERVE_HEAL_RATE,
    RESERVE_SEPARATRIX,
    STABILITY_HALF,
    WEIGHT_ALIGNMENT,
    WEIGHT_GUARDRAIL,
    WEIGHT_HUMAN_OVERSIGHT,
    WEIGHT_OVERSIGHT_BODY,
)

FloatArray = npt.NDArray[np.float64]
Real = TypeVar("Real", float, FloatArray)


def positive_part(x: Real) -> Real:
    """max(x, 0) without a branch: (x + |x|) / 2 is exact in IEEE-754 (2x and the halving are
    exact) and maps -0.0 to +0.0."""
    return (x + abs(x)) * 0.5


def lambda_of(capability: Real, autonomy: Real, containment: Real) -> Real:
    """Lambda = capability / 100 * (0.5 + 0.1 * autonomy) * (1 - containment)."""
    return (
        capability
        / CAPABILITY_SCALE
        * (AUTONOMY_BASE + AUTONOMY_GAIN * autonomy)
        * (1.0 - containment)
    )


def effective_alignment(alignment: Real, deception: Real) -> Real:
    """The alignment that actually buffers: the score discounted by the hidden fraction."""
    return alignment * (1.0 - deception)


def intrinsic_gamma(alignment: Real, deception: Real, guardrail: Real, oversight: Real) -> Real:
    """Gamma a model's own properties provide at full reserve:
    4 * a_eff / 100 + 2 * guardrail / 100 + 1 * oversight * (1 - deception) / 100."""
    return (
        WEIGHT_ALIGNMENT * (alignment * (1.0 - deception)) / PERCENT
        + WEIGHT_GUARDRAIL * guardrail / PERCENT
        + WEIGHT_HUMAN_OVERSIGHT * (oversight * (1.0 - deception)) / PERCENT
    )


def body_gamma(uncovered: Real) -> Real:
    """Gamma every model receives from oversight bodies whose combined miss probability is
    ``uncovered`` = prod_b (1 - e_b / 100)."""
    return WEIGHT_OVERSIGHT_BODY * (1.0 - uncovered)


def lag_update(value: Real, target: Real, gain: Real) -> Real:
    """One backward-Euler step of a first-order lag: value + gain * (target - value)."""
    return value + gain * (target - value)


def gamma_of(reserve: Real, gamma_intrinsic: Real, gamma_body: Real) -> Real:
    """Effective Gamma: the model's own buffer scaled by its reserve, plus external oversight."""
    return reserve * gamma_intrinsic + gamma_body


def load_of(lam: Real, gamma: Real) -> Real:
    """Thermodynamic load Lambda / Gamma (epsilon keeps it finite for a buffer of 0)."""
    return lam / (gamma + PARADOX_EPSILON)


def reserve_drift(reserve: Real, lam: Real, gamma_intrinsic: Real, gamma_body: Real) -> Real:
    """dr/dt: bistable self-repair minus saturating erosion by excess load.

    k_h r (r - r_c)(1 - r)  -  k_e r q / (1 + q),  q = max(0, Lambda / Gamma(r) - L_b).
    """
    overload = lam / (reserve * gamma_intrinsic + gamma_body + PARADOX_EPSILON) - BASIN_LOAD
    excess = (overload + abs(overload)) * 0.5  # positive_part, inlined: the kernel compiles
    # these functions as they are, and a compiled function can only call compiled functions
    heal = RESERVE_HEAL_RATE * reserve * (reserve - RESERVE_SEPARATRIX) * (1.0 - reserve)
    erosion = EROSION_RATE * reserve * (excess / (1.0 + excess))
    return heal - erosion


def pair_score(gamma_a: Real, gamma_b: Real, lam_a: Real, lam_b: Real) -> Real:
    """The Stability Equation S = (Gamma_A + Gamma_B) / (Lambda_A + Lambda_B + eps)."""
    return (gamma_a + gamma_b) / (lam_a + lam_b + PARADOX_EPSILON)


def normalized(score: Real) -> Real:
    """S / (S + 1): a score in [0, inf) mapped monotonically into [0, 1)."""
    return score / (score + STABILITY_HALF)
