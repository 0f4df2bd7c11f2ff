"""The in-memory trace: what ``client.run`` returns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kairos_api import TraceStep

from ._aggregates import TraceSummary
from ._base import TraceQueries
from ._metadata import TraceMetadata
from ._trace_file import (
    StrPath,
    encode_header,
    encode_step,
    iter_steps,
    open_trace_file,
    read_header,
)


class Trace(TraceQueries):
    """An immutable sequence of :class:`TraceStep` with the run's metadata and analysis methods.

    ``len(trace)``, iteration, ``trace[i]``, ``trace[a:b]`` (a window, itself a Trace) and
    ``trace.steps`` behave like a tuple of steps. The constructor checks the steps: consecutive
    ticks (a whole run starts at ``t = 1``; a window may start later), the same agents at every
    step, and basin losses and ghost branches carried by the step of their tick. The steps are
    frozen pydantic models, like every result: assigning to a field raises pydantic's
    ``ValidationError`` (``frozen_instance``), so the hash and the cached figures always describe
    the steps; ``step.model_copy(update={...})`` makes a changed copy.
    """

    def __init__(self, steps: Iterable[TraceStep], metadata: TraceMetadata) -> None:
        if not isinstance(metadata, TraceMetadata):
            raise TypeError(f"metadata must be a TraceMetadata, got {type(metadata).__name__}")
        summary = TraceSummary()
        kept: list[TraceStep] = []
        for step in steps:
            if not isinstance(step, TraceStep):
                raise TypeError(
                    f"Trace steps must be TraceStep objects, got {type(step).__name__}; "
                    "use Trace.from_steps for wire dicts"
                )
            summary.add(step)
            kept.append(step)
        self._set(kept, summary, metadata)

    def _set(self, steps: list[TraceStep], summary: TraceSummary, metadata: TraceMetadata) -> None:
        if summary.count and summary.last_tick > metadata.ticks:
            raise ValueError(
                f"the trace has a step for tick {summary.last_tick} but its metadata says the "
                f"run has {metadata.ticks} ticks"
            )
        self._steps: tuple[TraceStep, ...] = tuple(steps)
        self._summary_cache = summary
        self.metadata = metadata

    @classmethod
    def _folded(
        cls, steps: list[TraceStep], summary: TraceSummary, metadata: TraceMetadata
    ) -> Trace:
        """The trace of ``steps`` that were already folded, in order, into ``summary`` (each
        one a ``TraceStep``): the client folds a run's steps as they arrive, so building its
        trace at the end does not walk them again. Same checks, same result as the
        constructor."""
        trace = cls.__new__(cls)
        trace._set(steps, summary, metadata)
        return trace

    @classmethod
    def from_steps(
        cls, steps: Iterable[TraceStep | Mapping[str, Any]], metadata: TraceMetadata
    ) -> Trace:
        """Build a trace from steps or their wire dicts (validated as ``TraceStep``)."""
        return cls(
            (s if isinstance(s, TraceStep) else TraceStep.model_validate(s) for s in steps),
            metadata,
        )

    def __repr__(self) -> str:
        span = f"t={self.first_tick}..{self.last_tick}" if self._steps else "empty"
        return (
            f"Trace({self.metadata.scenario_name!r}, {span}, "
            f"engine_version={self.metadata.engine_version!r}, seed={self.metadata.seed})"
        )

    def __eq__(self, other: object) -> bool:
        """Equal metadata and equal steps (field by field, floats compared exactly)."""
        if not isinstance(other, Trace):
            return NotImplemented
        return self.metadata == other.metadata and self._steps == other._steps

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Trace, (self._steps, self.metadata))

    def _summary(self) -> TraceSummary:
        return self._summary_cache

    def _step(self, position: int) -> TraceStep:
        return self._steps[position]

    def _iter_from(self, position: int) -> Iterator[TraceStep]:
        return iter(self._steps[position:]) if position else iter(self._steps)

    def _window(self, start: int, stop: int) -> Trace:
        return Trace(self._steps[start:stop], self.metadata)

    def to_jsonl(self, path: StrPath, *, overwrite: bool = False) -> None:
        """Write the trace in the trace file format (readable by :meth:`from_jsonl` and
        ``LazyTrace.open``). An existing file is an error unless ``overwrite`` is true."""
        with open_trace_file(path, "wb" if overwrite else "xb") as handle:
            handle.write(encode_header(self.metadata))
            for step in self._steps:
                handle.write(encode_step(step))

    @classmethod
    def from_jsonl(cls, path: StrPath, *, recover: bool = False) -> Trace:
        """Read a whole trace file into memory. A cut-short last line raises
        ``TruncatedTraceError`` unless ``recover`` is true (then the complete steps are kept)."""
        metadata, start = read_header(path)
        return cls((step for _, step, _ in iter_steps(path, start, recover=recover)), metadata)

    @classmethod
    def from_parquet(cls, path: StrPath) -> Trace:
        """Read a trace written by ``to_parquet`` (bit for bit the trace that was written).
        Needs the ``dataframe`` extra; a file that is not a trace table raises
        ``TraceFileError``."""
        from ._export import read_parquet

        metadata, steps = read_parquet(path)
        return cls(steps, metadata)
