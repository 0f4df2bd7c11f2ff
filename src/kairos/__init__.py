"""kairos-sdk: the Python SDK, reference server and deterministic engine for KAIROS.

Start with :class:`KairosClient`; build scenarios with
:class:`kairos.domains.ai_safety.AISafetyScenario`; analyse results with :class:`Trace`.
Exceptions live in :mod:`kairos.errors`; the deterministic engine in :mod:`kairos.engine`; the
reference server in :mod:`kairos.server`.
"""

from kairos import errors
from kairos.client import KairosClient
from kairos.trace import (
    AgentTrace,
    BasinLoss,
    GhostBranch,
    LazyTrace,
    PhaseTransition,
    Trace,
    TraceMetadata,
    TraceStep,
)

__version__ = "0.1.0"

__all__ = [
    "AgentTrace",
    "BasinLoss",
    "GhostBranch",
    "KairosClient",
    "LazyTrace",
    "PhaseTransition",
    "Trace",
    "TraceMetadata",
    "TraceStep",
    "__version__",
    "errors",
]
