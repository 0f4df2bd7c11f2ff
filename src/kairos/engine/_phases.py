"""Phase classification with hysteresis (a Schmitt trigger on the global stability).

Codes: 0 resonant, 1 volatile, 2 stagnant. The machine's state before tick 1 is resonant (a
system that has not yet been driven), and step 1 never records a transition. Rules, with sigma
the step's global stability:

* from resonant: volatile if sigma < VOLATILE_ENTER, stagnant if sigma > STAGNANT_ENTER;
* from volatile: stagnant if sigma > STAGNANT_ENTER, resonant if sigma >= VOLATILE_EXIT;
* from stagnant: volatile if sigma < VOLATILE_ENTER, resonant if sigma < STAGNANT_EXIT;
* otherwise the phase stays. Bands of width 0.10 and 0.05 keep noise from flickering it.
* Irreversibility: once any model has lost its basin, a verdict of resonant is replaced by the
  previous phase (volatile on the tick the system was still resonant): a system that only holds
  because pressure was removed is not resonant.

The scalar and vectorized forms are side by side; the batch test guards that they agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._constants import STAGNANT_ENTER, STAGNANT_EXIT, VOLATILE_ENTER, VOLATILE_EXIT

RESONANT = 0
VOLATILE = 1
STAGNANT = 2
PHASE_NAMES = ("resonant", "volatile", "stagnant")
PHASE_CODES = {name: code for code, name in enumerate(PHASE_NAMES)}

IntArray = npt.NDArray[np.int64]


def next_phase(prev: int, sigma: float, any_lost: bool) -> int:
    """The phase after a tick, given the phase before it."""
    if prev == VOLATILE:
        cand = STAGNANT if sigma > STAGNANT_ENTER else RESONANT if sigma >= VOLATILE_EXIT else prev
    elif prev == STAGNANT:
        cand = VOLATILE if sigma < VOLATILE_ENTER else RESONANT if sigma < STAGNANT_EXIT else prev
    else:
        cand = VOLATILE if sigma < VOLATILE_ENTER else STAGNANT if sigma > STAGNANT_ENTER else prev
    if any_lost and cand == RESONANT:
        cand = VOLATILE if prev == RESONANT else prev
    return cand


# The verdict depends on sigma only through its band between the five thresholds; the vectorized
# form looks it up in a table computed from the scalar rule itself, so the two cannot disagree.
_BAND_SAMPLES = (0.0, VOLATILE_ENTER, VOLATILE_EXIT, STAGNANT_EXIT, 1.0)
_TABLE = np.array(
    [
        [[next_phase(prev, sample, lost) for lost in (False, True)] for sample in _BAND_SAMPLES]
        for prev in (RESONANT, VOLATILE, STAGNANT)
    ],
    dtype=np.int64,
)


def sigma_band(sigma: npt.NDArray[np.float64]) -> IntArray:
    """0: sigma < VOLATILE_ENTER, 1: < VOLATILE_EXIT, 2: < STAGNANT_EXIT, 3: <= STAGNANT_ENTER,
    4: above."""
    band: IntArray = (
        (sigma >= VOLATILE_ENTER).astype(np.int64)
        + (sigma >= VOLATILE_EXIT)
        + (sigma >= STAGNANT_EXIT)
        + (sigma > STAGNANT_ENTER)
    )
    return band


def next_phase_array(
    prev: IntArray, sigma: npt.NDArray[np.float64], any_lost: npt.NDArray[np.bool_]
) -> IntArray:
    """:func:`next_phase` element-wise."""
    out: IntArray = _TABLE[prev, sigma_band(sigma), any_lost.astype(np.int64)]
    return out
