"""The trace file format shared by :class:`LazyTrace` and ``Trace.to_jsonl``/``from_jsonl``.

A trace file is JSON lines, ASCII, ``\\n``-terminated:

- line 1, the header: ``{"format": "kairos.trace", "formatVersion": 1, "metadata": {...}}``
  with the metadata in camelCase (``engineVersion``, ``seed``, ``scenarioName``, ``ticks``,
  ``simulationId``);
- then one step per line, in tick order, each the canonical JSON of the ``TraceStep`` wire form
  (sorted keys, no spaces, floats as their shortest round-tripping repr, optional fields that are
  absent omitted except ``ghost``, which is always present, ``null`` when there is none).

That step encoding is the engine's canonical step form, so the bytes after the header line are
the canonical bytes of the trace and their SHA-256 is the trace hash (``Trace.sha256()``).
Every step line ends with ``\\n``: a last line without one was cut short by a writer that
stopped mid-line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import pydantic

from kairos.errors import KairosError
from kairos_api import TraceStep

from ._metadata import TraceMetadata

FORMAT = "kairos.trace"
FORMAT_VERSION = 1

StrPath = str | os.PathLike[str]


class TraceFileError(KairosError, ValueError):
    """A trace file is not a readable KAIROS trace: wrong format, corrupt line or cut short.

    ``path`` is the file; ``line`` the 1-based line number at fault (``None`` when the problem
    is the file as a whole).
    """

    def __init__(self, path: StrPath, message: str, line: int | None = None) -> None:
        self.path = os.fspath(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class TraceFileAccessError(TraceFileError, OSError):
    """A trace file cannot be opened, read or written: missing, a directory, no permission,
    or (when writing without ``overwrite``) already there. Also an ``OSError``; ``errno`` is
    the operating system's."""

    def __init__(self, path: StrPath, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError):
            reason = "the file exists; pass overwrite=True to replace it"
        super().__init__(path, reason)
        self.errno = exc.errno
        self.strerror = exc.strerror
        self.filename = self.path


class TraceFileExistsError(TraceFileAccessError, FileExistsError):
    """The trace file to write exists and ``overwrite`` was not given."""


class TraceFileNotFoundError(TraceFileAccessError, FileNotFoundError):
    """The trace file, or the directory to write it in, does not exist."""


def access_error(path: StrPath, exc: OSError) -> TraceFileAccessError:
    """``exc`` about ``path`` as a :class:`TraceFileAccessError` that is still the same kind of
    ``OSError`` (``except FileExistsError`` keeps working)."""
    if isinstance(exc, FileExistsError):
        return TraceFileExistsError(path, exc)
    if isinstance(exc, FileNotFoundError):
        return TraceFileNotFoundError(path, exc)
    return TraceFileAccessError(path, exc)


def open_trace_file(path: StrPath, mode: str) -> BinaryIO:
    """``open(path, mode)`` for a trace file (binary modes), with failures as
    :class:`TraceFileAccessError`."""
    try:
        return cast(BinaryIO, open(path, mode))
    except OSError as exc:
        raise access_error(path, exc) from None


class TruncatedTraceError(TraceFileError):
    """The file's last line is incomplete (its writer was interrupted mid-line).

    ``complete_steps`` and ``last_complete_tick`` say what is intact; open the file with
    ``recover=True`` to use those steps.
    """

    def __init__(
        self, path: StrPath, line: int, complete_steps: int, last_complete_tick: int | None
    ) -> None:
        self.complete_steps = complete_steps
        self.last_complete_tick = last_complete_tick
        upto = f" up to tick {last_complete_tick}" if last_complete_tick is not None else ""
        super().__init__(
            path,
            f"the last line is incomplete (was the writer interrupted?); the file holds "
            f"{complete_steps} complete steps{upto}. Open it with recover=True to use them.",
            line,
        )


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, shortest float repr, ASCII, no NaN or infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def encode_header(metadata: TraceMetadata) -> bytes:
    header = {"format": FORMAT, "formatVersion": FORMAT_VERSION, "metadata": metadata.to_wire()}
    return (canonical_json(header) + "\n").encode("ascii")


def step_wire(step: TraceStep) -> dict[str, Any]:
    """The wire form of a step, as the engine emits it (see the module docstring)."""
    data = step.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.setdefault("ghost", None)
    return data


def encode_step(step: TraceStep) -> bytes:
    return (canonical_json(step_wire(step)) + "\n").encode("ascii")


def decode_header(path: StrPath, line: bytes) -> TraceMetadata:
    if not line.endswith(b"\n"):
        raise TraceFileError(path, "the header line is incomplete or the file is empty", 1)
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise TraceFileError(path, f"the header is not JSON ({exc})", 1) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TraceFileError(path, f"not a KAIROS trace file (no {FORMAT!r} header)", 1)
    version = header.get("formatVersion")
    if version != FORMAT_VERSION:
        raise TraceFileError(
            path,
            f"trace format version {version!r} is not supported (this SDK reads version "
            f"{FORMAT_VERSION})",
            1,
        )
    metadata = header.get("metadata")
    if not isinstance(metadata, dict):
        raise TraceFileError(path, "the header has no metadata object", 1)
    try:
        return TraceMetadata.from_wire(metadata)
    except ValueError as exc:
        raise TraceFileError(path, str(exc), 1) from None


def decode_step(path: StrPath, line: bytes, lineno: int) -> TraceStep:
    try:
        return TraceStep.model_validate_json(line)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        raise TraceFileError(path, f"not a valid trace step ({detail})", lineno) from None


def read_header(path: StrPath) -> tuple[TraceMetadata, int]:
    """The file's metadata and the byte offset of its first step line."""
    with open_trace_file(path, "rb") as handle:
        header = handle.readline()
    return decode_header(path, header), len(header)


def iter_steps(
    path: StrPath,
    start: int,
    *,
    first_line: int = 2,
    limit: int | None = None,
    recover: bool = False,
) -> Iterator[tuple[int, TraceStep, int]]:
    """Yield ``(offset, step, length)`` for the step lines from byte ``start``, in constant
    memory (``offset`` and ``length`` are the line's place in the file, in bytes).

    ``first_line`` is the line number at ``start`` (for error messages); ``limit`` caps the
    number of steps read. A cut-short last line raises :class:`TruncatedTraceError` unless
    ``recover`` is true, in which case it ends the iteration.
    """
    with open_trace_file(path, "rb") as handle:
        handle.seek(start)
        offset = start
        last_tick: int | None = None
        for count, line in enumerate(handle):
            lineno = first_line + count
            if limit is not None and count >= limit:
                return
            if not line.endswith(b"\n"):
                if recover:
                    return
                raise TruncatedTraceError(path, lineno, count, last_tick)
            step = decode_step(path, line, lineno)
            yield offset, step, len(line)
            offset += len(line)
            last_tick = step.t
