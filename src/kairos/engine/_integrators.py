"""Integrators of the reserve equation: the numerical difference between engine versions.

Both are explicit, use only basic operations and work unchanged on floats and numpy arrays.
The random kick is additive noise of an Euler-Maruyama scheme (sigma * sqrt(TICK) * xi); Heun's
method reuses the same kick in predictor and corrector (the stochastic Heun scheme for additive
noise). No clamp in the predictor: for r in [0, 1] and |kick| <= 0.025 the predictor stays in
[0, 1.03], where the drift is well defined.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._constants import TICK
from ._physics import Real, reserve_drift


@dataclass(frozen=True)
class Integrator:
    """A named one-step method for dr/dt = f(r) plus an additive kick."""

    name: str
    order: int

    def step(self, reserve: Real, lam: Real, g_int: Real, g_body: Real, kick: Real) -> Real:
        """The reserve after one tick (before clamping to [0, 1])."""
        if self.order == 1:
            return reserve + TICK * reserve_drift(reserve, lam, g_int, g_body) + kick
        slope = reserve_drift(reserve, lam, g_int, g_body)
        predicted = reserve + TICK * slope + kick
        corrected = slope + reserve_drift(predicted, lam, g_int, g_body)
        return reserve + TICK * 0.5 * corrected + kick


EULER = Integrator("forward-euler", 1)
HEUN = Integrator("heun", 2)
