"""Traces of KAIROS runs: in memory (:class:`Trace`) or on disk (:class:`LazyTrace`).

Both are sequences of the generated :class:`TraceStep` with the same analysis methods
(``final_phase``, ``mean_stability``, ``phase_transitions``, ``basin_losses``,
``ghost_branches``, ``agent_trace(name).state_at(tick)``, ...) and give identical answers for
the same steps. The trace file format (JSON lines: a header with the metadata, then one
canonical step per line) is described in :mod:`kairos.trace._jsonl`.
"""

from kairos_api import AgentState, BasinLoss, GhostBranch, PhaseTransition, TraceStep

from ._base import AgentTrace
from ._jsonl import FORMAT, FORMAT_VERSION, TraceFileError, TruncatedTraceError
from ._lazy import INDEX_STRIDE, LazyTrace, LazyTraceWriter
from ._memory import Trace
from ._metadata import TraceMetadata

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_STRIDE",
    "AgentState",
    "AgentTrace",
    "BasinLoss",
    "GhostBranch",
    "LazyTrace",
    "LazyTraceWriter",
    "PhaseTransition",
    "Trace",
    "TraceFileError",
    "TraceMetadata",
    "TraceStep",
    "TruncatedTraceError",
]
