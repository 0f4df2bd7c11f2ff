"""kairos-sdk: the Python SDK, reference server and deterministic engine for KAIROS.

Start with :class:`KairosClient`; build scenarios with
:class:`kairos.domains.ai_safety.AISafetyScenario`; analyse results with :class:`Trace`.
Exceptions live in :mod:`kairos.errors`; the deterministic engine in :mod:`kairos.engine`; the
reference server in :mod:`kairos.server`.

The names below are imported when first used (PEP 562), so ``import kairos`` is cheap.
"""

from kairos._deferred import lazy_exports

TYPE_CHECKING = False  # not typing's: importing typing costs more than the rest of this module

__version__ = "0.1.0"

if TYPE_CHECKING:
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

if not TYPE_CHECKING:  # type checkers read the imports above, not a catch-all
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "kairos.client": "KairosClient",
            "kairos.trace": (
                "AgentTrace BasinLoss GhostBranch LazyTrace PhaseTransition Trace "
                "TraceMetadata TraceStep"
            ),
        },
        submodules=["client", "domains", "engine", "errors", "server", "sweep", "trace"],
    )
