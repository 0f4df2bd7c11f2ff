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

from kairos._deferred import exports_from_stub

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
