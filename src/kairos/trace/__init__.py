"""Traces of KAIROS runs: in memory (:class:`Trace`) or on disk (:class:`LazyTrace`).

Both are sequences of the generated :class:`TraceStep` with the same analysis methods
(``final_phase``, ``mean_stability``, ``phase_transitions``, ``basin_losses``,
``ghost_branches``, ``agent_trace(name).state_at(tick)``, ...) and give identical answers for
the same steps: both fold their steps through one :class:`~kairos.trace._aggregates.TraceSummary`.

The trace file (``Trace.to_jsonl``, ``LazyTrace.writer``) is JSON lines: a header
``{"format": "kairos.trace", "formatVersion": 1, "metadata": {...}}``, then one step per line in
the engine's canonical form, so the bytes after the header hash to the engine's trace hash.
A last line without its line feed was cut short by a killed writer: opening it raises
:class:`TruncatedTraceError` unless ``recover=True``, and ``LazyTrace.resume_writer`` continues
the file after its last complete step. Details in :mod:`kairos.trace._trace_file`.
"""

from kairos._deferred import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kairos_api import AgentState, BasinLoss, GhostBranch, PhaseTransition, TraceStep

    from ._base import AgentTrace
    from ._lazy import INDEX_STRIDE, LazyTrace, LazyTraceWriter
    from ._memory import Trace
    from ._metadata import TraceMetadata
    from ._trace_file import (
        FORMAT,
        FORMAT_VERSION,
        TraceFileAccessError,
        TraceFileError,
        TruncatedTraceError,
    )

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
    "TraceFileAccessError",
    "TraceFileError",
    "TraceMetadata",
    "TraceStep",
    "TruncatedTraceError",
]

if not TYPE_CHECKING:  # type checkers read the imports above, not a catch-all
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "kairos_api": "AgentState BasinLoss GhostBranch PhaseTransition TraceStep",
            "._base": "AgentTrace",
            "._lazy": "INDEX_STRIDE LazyTrace LazyTraceWriter",
            "._memory": "Trace",
            "._metadata": "TraceMetadata",
            "._trace_file": (
                "FORMAT FORMAT_VERSION TraceFileAccessError TraceFileError TruncatedTraceError"
            ),
        },
    )
