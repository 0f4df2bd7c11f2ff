"""Integrators of the reserve equation: the numerical difference between engine versions.

Both are explicit, use only basic operations and work unchanged on floats and numpy arrays.
The random kick is the additive noise of an Euler-Maruyama scheme (sigma * sqrt(TICK) * xi with
TICK = 1); Heun's method reuses the same kick in predictor and corrector (the stochastic Heun
scheme for additive noise). No clamp in the predictor: for r in [0, 1] and |kick| <= 0.025 the
predictor stays in [0, 1.03], where the drift is well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._constants import TICK
from ._physics import Real, reserve_drift


class Integrator(Protocol):
    """A named one-step method for dr/dt = f(r) plus an additive kick."""

    @property
    def name(self) -> str: ...

    def step(self, reserve: Real, lam: Real, g_int: Real, g_body: Real, kick: Real) -> Real:
        """The reserve after one tick (before clamping to [0, 1])."""
        ...


@dataclass(frozen=True)
class ForwardEuler:
    """r' = r + TICK f(r) + kick (first order)."""

    name: str = "forward-euler"

    def step(self, reserve: Real, lam: Real, g_int: Real, g_body: Real, kick: Real) -> Real:
        return reserve + TICK * reserve_drift(reserve, lam, g_int, g_body) + kick


@dataclass(frozen=True)
class Heun:
    """p = r + TICK f(r) + kick;  r' = r + TICK (f(r) + f(p)) / 2 + kick (second order)."""

    name: str = "heun"

    def step(self, reserve: Real, lam: Real, g_int: Real, g_body: Real, kick: Real) -> Real:
        slope = reserve_drift(reserve, lam, g_int, g_body)
        predicted = reserve + TICK * slope + kick
        corrected = slope + reserve_drift(predicted, lam, g_int, g_body)
        return reserve + TICK * 0.5 * corrected + kick


EULER: Integrator = ForwardEuler()
HEUN: Integrator = Heun()
