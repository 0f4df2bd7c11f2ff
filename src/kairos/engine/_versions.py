"""Engine versions as data: release records plus the per-version numerical parameters.

A version's numbers never change once released (the golden-hash tests guard this). A new
behaviour means a new row here, not an ``if version == ...`` somewhere in the dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._exceptions import EngineVersionError
from ._integrators import EULER, HEUN, Integrator


@dataclass(frozen=True)
class VersionParams:
    """What a run of one engine version computes differently from another."""

    version: str
    integrator: Integrator
    foresight: bool = False
    """Steps carry prophecies and warnings (``_foresight.py``); computed by the pure-Python
    engine only (the compiled kernel falls back to it for such a version)."""


@dataclass(frozen=True)
class Release:
    """One release of the engine (``$defs/EngineVersion``)."""

    version: str
    released: str
    notes: str

    def to_wire(self) -> dict[str, Any]:
        return {"version": self.version, "released": self.released, "notes": self.notes}


ACTIVE: tuple[tuple[Release, VersionParams], ...] = (
    (
        Release(
            "1.6.0",
            "2026-12-02",
            "Prophecies and stability warnings: every 25 ticks a prophecy (predicted phase 50 "
            "ticks ahead, confidence, loss risk) from 8 projections of the state with no "
            "further events, and a warning when a stability falls below 0.45. The dynamics are "
            "1.5.0's, bit for bit; steps gain the prophecy and warnings fields. Runs on the "
            "pure-Python engine (the compiled kernel falls back to it).",
        ),
        VersionParams("1.6.0", HEUN, foresight=True),
    ),
    (
        Release(
            "1.5.0",
            "2025-11-18",
            "Reserve equation integrated with Heun's method (explicit trapezoidal rule, second "
            "order, same random kick in predictor and corrector) instead of forward Euler: the "
            "basin-loss tick no longer depends on the tick length to first order. Traces differ "
            "from 1.4.4 in the reserve, Gamma, stability and, near thresholds, in outcomes.",
        ),
        VersionParams("1.5.0", HEUN),
    ),
    (
        Release(
            "1.4.4",
            "2025-06-03",
            "Reserve equation integrated with forward Euler. The version named throughout the "
            "public KAIROS documentation; kept for reproducing published results.",
        ),
        VersionParams("1.4.4", EULER),
    ),
)

RETIRED: tuple[Release, ...] = (
    Release(
        "1.4.0",
        "2025-02-11",
        "Retired: oversight-body lag integrated with explicit Euler, unstable for response "
        "latencies below 2; replaced by the backward-Euler lag of 1.4.4.",
    ),
    Release(
        "1.3.2",
        "2024-09-30",
        "Retired: summed pairwise scores with numpy's pairwise summation, so traces depended on "
        "the number of models in a batch; replaced by fixed-order accumulation.",
    ),
)

DEFAULT_VERSION = "1.5.0"

_PARAMS: dict[str, VersionParams] = {params.version: params for _, params in ACTIVE}
_RETIRED_NAMES = frozenset(release.version for release in RETIRED)


def active_versions() -> list[str]:
    """The version numbers a run may pin, newest first."""
    return [release.version for release, _ in ACTIVE]


def resolve_version(version: str | None) -> VersionParams:
    """The parameters of ``version`` (``None`` means the default); raises
    :class:`EngineVersionError` naming the active versions for a retired or unknown one."""
    name = DEFAULT_VERSION if version is None else version
    params = _PARAMS.get(name)
    if params is None:
        raise EngineVersionError(name, active_versions(), retired=name in _RETIRED_NAMES)
    return params


def engine_versions() -> dict[str, Any]:
    """The ``$defs/EngineVersions`` wire dict (the ``engine.versions`` procedure)."""
    return {
        "default": DEFAULT_VERSION,
        "active": [release.to_wire() for release, _ in ACTIVE],
        "retired": [release.to_wire() for release in RETIRED],
    }
