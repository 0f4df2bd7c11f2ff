"""The on-disk trace: answers from a trace file without holding its steps in memory."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from kairos._closing import ClosedOnExit
from kairos_api import TraceStep

from ._aggregates import TraceSummary
from ._base import TraceQueries
from ._memory import Trace
from ._metadata import TraceMetadata
from ._trace_file import (
    StrPath,
    TraceFileError,
    encode_header,
    encode_step,
    iter_steps,
    open_trace_file,
    read_header,
)

INDEX_STRIDE = 256
"""One byte offset is kept per this many steps: ``trace[i]`` seeks to the nearest indexed step
at or before ``i`` and reads at most ``INDEX_STRIDE - 1`` lines past it (skipped unparsed)."""


class LazyTrace(TraceQueries):
    """A trace file on disk with the same methods and answers as :class:`Trace`.

    Memory does not grow with the steps held: only the :class:`TraceSummary` (aggregates and the
    lists of transitions, basin losses and ghost branches) and a sparse index of one 8-byte
    offset per :data:`INDEX_STRIDE` steps stay in memory. Indexing and ``state_at`` seek;
    iteration and the series methods stream the file. Build one with :meth:`writer` or
    :meth:`open`. The file is read again on each query, so it must not be changed meanwhile
    (appending to it is harmless: a LazyTrace reads only the steps it indexed).
    """

    def __init__(
        self,
        path: StrPath,
        metadata: TraceMetadata,
        summary: TraceSummary,
        index: array[int],
    ) -> None:
        """Internal: use :meth:`open` or :meth:`writer`."""
        self.path = os.fspath(path)
        self.metadata = metadata
        self._summary_cache = summary
        self._index = index

    @classmethod
    def open(cls, path: StrPath, *, recover: bool = False) -> LazyTrace:
        """Open a trace file, checking every step once (constant memory, linear time).

        A last line cut short (its writer was killed) raises ``TruncatedTraceError``, which says
        how many complete steps precede it; with ``recover=True`` those steps are used and the
        partial line is ignored (the file is not modified). A corrupt line elsewhere, a broken
        tick sequence or a foreign header always raises ``TraceFileError``.
        """
        metadata, summary, index, _ = _scan(path, recover=recover)
        return cls(path, metadata, summary, index)

    @classmethod
    def writer(
        cls, path: StrPath, metadata: TraceMetadata, *, overwrite: bool = False
    ) -> LazyTraceWriter:
        """A context manager that writes a trace file step by step::

            with LazyTrace.writer("run.ktrace.jsonl", metadata) as out:
                for step in client.stream_run(scenario, ticks=1_000_000):
                    out.append(step)
            trace = out.trace

        An existing file is an error unless ``overwrite`` is true (a finished result is not
        clobbered by accident).
        """
        return LazyTraceWriter(path, metadata, overwrite=overwrite)

    @classmethod
    def resume_writer(cls, path: StrPath) -> LazyTraceWriter:
        """Continue writing a trace file whose writer stopped early (e.g. was killed).

        The file is checked as by ``open(path, recover=True)``; a cut-short last line is cut
        off (the only change made to existing bytes) and new steps are appended after the last
        complete one, starting at ``writer.next_tick``::

            with LazyTrace.resume_writer(path) as out:
                for step in client.stream_run(scenario, ticks=n):  # or resume server-side
                    if step.t >= out.next_tick:
                        out.append(step)
        """
        return LazyTraceWriter.resume(path)

    def __repr__(self) -> str:
        summary = self._summary_cache
        span = f"t={summary.first_tick}..{summary.last_tick}" if summary.count else "empty"
        return (
            f"LazyTrace({self.path!r}, {self.metadata.scenario_name!r}, {span}, "
            f"engine_version={self.metadata.engine_version!r}, seed={self.metadata.seed})"
        )

    def _summary(self) -> TraceSummary:
        return self._summary_cache

    def _step(self, position: int) -> TraceStep:
        return next(self._range(position, 1))

    def _iter_from(self, position: int) -> Iterator[TraceStep]:
        return self._range(position, self._summary_cache.count - position)

    def _window(self, start: int, stop: int) -> Trace:
        return Trace(self._range(start, stop - start), self.metadata)

    def _range(self, position: int, limit: int) -> Iterator[TraceStep]:
        """``limit`` steps from ``position``: seek to the indexed step at or before it, skip
        the lines in between without parsing them, then parse."""
        if limit <= 0:
            return
        slot = position // INDEX_STRIDE
        with open_trace_file(self.path, "rb") as handle:
            handle.seek(self._index[slot])
            for _ in range(position - slot * INDEX_STRIDE):
                handle.readline()
            start = handle.tell()
        lineno = position + 2  # line 1 is the header
        expected = self._summary_cache.first_tick + position
        for _, step, _ in iter_steps(self.path, start, first_line=lineno, limit=limit):
            if step.t != expected:
                break
            yield step
            expected += 1
        if expected != self._summary_cache.first_tick + position + limit:
            raise TraceFileError(
                self.path,
                f"the file changed since it was opened: tick {expected} is no longer at line "
                f"{lineno + expected - self._summary_cache.first_tick - position}",
            )


class LazyTraceWriter(ClosedOnExit):
    """Writes a trace file one step at a time (see :meth:`LazyTrace.writer`).

    Each step is checked before its line is written, so the file always holds a valid prefix of
    the run; if the process dies mid-write, ``LazyTrace.open(path, recover=True)`` reads every
    complete step. The summary is kept as steps are appended, so :attr:`trace` needs no rescan.
    """

    def __init__(self, path: StrPath, metadata: TraceMetadata, *, overwrite: bool = False) -> None:
        self.path = os.fspath(path)
        self.metadata = metadata
        self._summary = TraceSummary()
        self._index: array[int] = array("q")
        self._handle: BinaryIO | None = open_trace_file(self.path, "wb" if overwrite else "xb")
        header = encode_header(metadata)
        self._handle.write(header)
        self._offset = len(header)
        self._trace: LazyTrace | None = None

    @classmethod
    def resume(cls, path: StrPath) -> LazyTraceWriter:
        """See :meth:`LazyTrace.resume_writer`."""
        metadata, summary, index, end = _scan(path, recover=True)
        writer = cls.__new__(cls)
        writer.path = os.fspath(path)
        writer.metadata = metadata
        writer._summary = summary
        writer._index = index
        writer._handle = open_trace_file(writer.path, "r+b")
        writer._handle.truncate(end)
        writer._handle.seek(end)
        writer._offset = end
        writer._trace = None
        return writer

    @property
    def next_tick(self) -> int:
        """The tick the next appended step must have (1 for a new file)."""
        return self._summary.last_tick + 1 if self._summary.count else 1

    def append(self, step: TraceStep) -> None:
        """Check ``step`` (consecutive tick, same agents) and write it as one line."""
        if self._handle is None:
            raise ValueError(f"the trace writer for {self.path} is closed")
        if not isinstance(step, TraceStep):
            raise TypeError(f"append() takes a TraceStep, got {type(step).__name__}")
        if step.t > self.metadata.ticks:
            raise ValueError(f"step t={step.t} is past the run's {self.metadata.ticks} ticks")
        line = encode_step(step)
        self._summary.add(step)
        if (self._summary.count - 1) % INDEX_STRIDE == 0:
            self._index.append(self._offset)
        self._handle.write(line)
        self._offset += len(line)

    def extend(self, steps: Iterable[TraceStep]) -> None:
        """Append every step of an iterable of steps."""
        for step in steps:
            self.append(step)

    def flush(self) -> None:
        """Push buffered lines to the operating system (e.g. before handing the path on)."""
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> LazyTrace:
        """Finish the file and return its :class:`LazyTrace` (also available as :attr:`trace`).
        Closing twice is harmless."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._trace = LazyTrace(self.path, self.metadata, self._summary, self._index)
        assert self._trace is not None
        return self._trace

    @property
    def trace(self) -> LazyTrace:
        """The written trace; only after the writer is closed (the ``with`` block has ended)."""
        if self._trace is None:
            raise ValueError("the trace is available once the writer is closed")
        return self._trace

    def __len__(self) -> int:
        """The number of steps written so far."""
        return self._summary.count


def _scan(path: StrPath, *, recover: bool) -> tuple[TraceMetadata, TraceSummary, array[int], int]:
    """Check a whole trace file in one pass: its metadata, summary, sparse index and the byte
    offset just past its last complete step."""
    metadata, end = read_header(path)
    summary = TraceSummary()
    index: array[int] = array("q")
    for lineno, (offset, step, length) in enumerate(iter_steps(path, end, recover=recover), 2):
        try:
            summary.add(step)
        except ValueError as exc:
            raise TraceFileError(path, str(exc), lineno) from None
        if (summary.count - 1) % INDEX_STRIDE == 0:
            index.append(offset)
        end = offset + length
    if summary.count and summary.last_tick > metadata.ticks:
        raise TraceFileError(
            path, f"a step has tick {summary.last_tick} but the run has {metadata.ticks} ticks"
        )
    return metadata, summary, index, end
