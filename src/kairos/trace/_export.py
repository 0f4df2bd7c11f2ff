"""Traces as tables: pandas DataFrames and Parquet files (the ``dataframe`` extra).

One row per tick. Columns: ``t``, ``stability``, ``phase``; per model ``<model>.gamma``,
``<model>.lambda``, ``<model>.stability``, ``<model>.cumulative_stability``, ``<model>.load``,
``<model>.capability_index``, ``<model>.alignment_score``, ``<model>.basin_lost``; per oversight
body ``<body>.effective_strength``; and the step's rare, nested records as canonical JSON text:
``events_json`` and ``losses_json`` (``"[]"`` when empty) and ``ghost_json`` (null when none).
Before those records, the foresight columns of engine 1.6.0 (null on steps without them, and
for earlier versions): ``prophecy_phase``, ``prophecy_confidence``, ``prophecy_loss_risk``,
``warning_count`` (0 when none), and the records ``prophecy_json`` and ``warnings_json``.
Floats are float64 columns, so nothing is rounded: a Parquet file read back with
:meth:`Trace.from_parquet` gives the same trace bit for bit (same ``sha256()``).

A Parquet file carries the trace metadata, the model and body names (names may contain dots,
so columns are never parsed) in its schema metadata under ``kairos.trace``. Writing and
reading go in row groups of :data:`ROW_GROUP` steps, so a :class:`LazyTrace` of a long run is
converted in bounded memory. pyarrow and pandas are imported on first use only.
"""

from __future__ import annotations

import errno
import html
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from kairos.errors import MissingDependencyError
from kairos_api import AgentState, OversightState, TraceStep

from ._metadata import TraceMetadata
from ._trace_file import (
    StrPath,
    TraceFileError,
    access_error,
    canonical_json,
    open_trace_file,
    step_wire,
)

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

    from ._base import TraceQueries

ROW_GROUP = 65_536
"""Steps per Parquet row group and per conversion chunk."""

PARQUET_FORMAT = "kairos.trace.parquet"
PARQUET_FORMAT_VERSION = 1
METADATA_KEY = b"kairos.trace"

# wire key -> column suffix (snake_case; ``lambda`` rather than the Python name ``lambda_``)
AGENT_FIELDS = {(f.alias or name): name.rstrip("_") for name, f in AgentState.model_fields.items()}
BODY_FIELDS = {(f.alias or name): name for name, f in OversightState.model_fields.items()}
RECORDS = {"events": "events_json", "losses": "losses_json", "ghost": "ghost_json"}


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise MissingDependencyError("trace tables", "pyarrow", "dataframe") from None
    return pa, pq


class Layout:
    """The columns of one trace: which models and bodies, in which order."""

    def __init__(self, agents: Iterable[str], bodies: Iterable[str]) -> None:
        self.agents = list(agents)
        self.bodies = list(bodies)

    @classmethod
    def of(cls, trace: TraceQueries) -> Layout:
        """The models of ``trace`` and the oversight bodies of its first step."""
        bodies = sorted(trace[0].oversight) if len(trace) else []
        return cls(trace.agent_ids(), bodies)

    def schema(self, metadata: TraceMetadata) -> Any:
        pa, _ = _pyarrow()
        fields = [("t", pa.int64()), ("stability", pa.float64()), ("phase", pa.string())]
        for agent in self.agents:
            for key, suffix in AGENT_FIELDS.items():
                kind = pa.bool_() if key == "basinLost" else pa.float64()
                fields.append((f"{agent}.{suffix}", kind))
        for body in self.bodies:
            fields += [(f"{body}.{suffix}", pa.float64()) for suffix in BODY_FIELDS.values()]
        fields += [
            ("prophecy_phase", pa.string()),
            ("prophecy_confidence", pa.float64()),
            ("prophecy_loss_risk", pa.float64()),
            ("warning_count", pa.int64()),
            ("prophecy_json", pa.string()),
            ("warnings_json", pa.string()),
        ]
        fields += [(column, pa.string()) for column in RECORDS.values()]
        header = {
            "format": PARQUET_FORMAT,
            "formatVersion": PARQUET_FORMAT_VERSION,
            "metadata": metadata.to_wire(),
            "agents": self.agents,
            "bodies": self.bodies,
        }
        return pa.schema(fields, metadata={METADATA_KEY: canonical_json(header).encode()})

    def batch(self, steps: list[TraceStep], schema: Any) -> Any:
        """A record batch of ``steps`` (columns in schema order)."""
        pa, _ = _pyarrow()
        wires = [step_wire(step) for step in steps]
        columns: list[list[Any]] = [
            [w["t"] for w in wires],
            [w["stability"] for w in wires],
            [w["phase"] for w in wires],
        ]
        for agent in self.agents:
            columns += [[w["agents"][agent][key] for w in wires] for key in AGENT_FIELDS]
        for body in self.bodies:
            columns += [[_body(w, body, key) for w in wires] for key in BODY_FIELDS]
        prophecies = [w.get("prophecy") for w in wires]
        columns.append([None if p is None else p["predictedPhase"] for p in prophecies])
        columns.append([None if p is None else p["confidence"] for p in prophecies])
        columns.append([None if p is None else p["lossRisk"] for p in prophecies])
        columns.append([len(w.get("warnings") or ()) for w in wires])
        columns.append([None if p is None else canonical_json(p) for p in prophecies])
        columns.append(
            [None if w.get("warnings") is None else canonical_json(w["warnings"]) for w in wires]
        )
        columns.append([canonical_json(w["events"]) for w in wires])
        columns.append([canonical_json(w["losses"]) for w in wires])
        columns.append([None if w["ghost"] is None else canonical_json(w["ghost"]) for w in wires])
        return pa.record_batch(columns, schema=schema)

    def steps(self, batch: Mapping[str, list[Any]]) -> Iterator[TraceStep]:
        """The steps of one batch read back (``batch`` as column name -> values)."""
        agent_columns = [
            (agent, [(key, batch[f"{agent}.{suffix}"]) for key, suffix in AGENT_FIELDS.items()])
            for agent in self.agents
        ]
        body_columns = [
            (body, [(key, batch[f"{body}.{suffix}"]) for key, suffix in BODY_FIELDS.items()])
            for body in self.bodies
        ]
        none: list[Any] = [None] * len(batch["t"])
        prophecies, warnings = batch.get("prophecy_json", none), batch.get("warnings_json", none)
        for i, t in enumerate(batch["t"]):
            ghost = batch["ghost_json"][i]
            foresight: dict[str, Any] = {}
            if prophecies[i] is not None:
                foresight["prophecy"] = json.loads(prophecies[i])
            if warnings[i] is not None:
                foresight["warnings"] = json.loads(warnings[i])
            yield TraceStep.model_validate(
                {
                    **foresight,
                    "t": t,
                    "stability": batch["stability"][i],
                    "phase": batch["phase"][i],
                    "agents": {a: {k: col[i] for k, col in cols} for a, cols in agent_columns},
                    "oversight": {
                        b: {k: col[i] for k, col in cols}
                        for b, cols in body_columns
                        if cols[0][1][i] is not None
                    },
                    "events": json.loads(batch["events_json"][i]),
                    "losses": json.loads(batch["losses_json"][i]),
                    "ghost": None if ghost is None else json.loads(ghost),
                }
            )


def _body(wire: Mapping[str, Any], body: str, key: str) -> Any:
    state = wire["oversight"].get(body)
    return None if state is None else state[key]


def _chunks(steps: Iterable[TraceStep]) -> Iterator[list[TraceStep]]:
    iterator = iter(steps)
    while chunk := list(islice(iterator, ROW_GROUP)):
        yield chunk


def to_table(steps: Iterable[TraceStep], layout: Layout, metadata: TraceMetadata) -> Any:
    """The trace as one ``pyarrow.Table`` (built chunk by chunk)."""
    pa, _ = _pyarrow()
    schema = layout.schema(metadata)
    batches = [layout.batch(chunk, schema) for chunk in _chunks(steps)]
    return pa.Table.from_batches(batches, schema=schema)


def to_pandas(steps: Iterable[TraceStep], layout: Layout, metadata: TraceMetadata) -> pd.DataFrame:
    """See the module docstring; ``frame.attrs["metadata"]`` holds the trace metadata."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise MissingDependencyError("Trace.to_pandas()", "pandas", "dataframe") from None
    frame = to_table(steps, layout, metadata).to_pandas()
    frame.attrs["metadata"] = metadata.to_wire()
    return frame


def write_parquet(
    path: StrPath,
    steps: Iterable[TraceStep],
    layout: Layout,
    metadata: TraceMetadata,
    *,
    overwrite: bool,
) -> None:
    """Write the trace to ``path`` one row group at a time; an existing file is an error
    unless ``overwrite`` (as for ``to_jsonl``)."""
    _, pq = _pyarrow()
    if not overwrite and os.path.exists(path):
        raise access_error(path, FileExistsError(errno.EEXIST, "File exists"))
    schema = layout.schema(metadata)
    open_trace_file(path, "wb").close()  # a missing directory or no permission, as for JSONL
    with pq.ParquetWriter(os.fspath(path), schema) as writer:
        for chunk in _chunks(steps):
            writer.write_batch(layout.batch(chunk, schema))


def read_parquet(path: StrPath) -> tuple[TraceMetadata, Iterator[TraceStep]]:
    """The metadata of a trace Parquet file and an iterator over its steps (read by row
    group). Raises ``TraceFileError`` for a file that is not a KAIROS trace table."""
    _, pq = _pyarrow()
    open_trace_file(path, "rb").close()  # missing, a directory, no permission
    try:
        handle = pq.ParquetFile(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise TraceFileError(path, f"not a readable Parquet file ({exc})") from None
    raw = (handle.schema_arrow.metadata or {}).get(METADATA_KEY)
    try:
        header = json.loads(raw) if raw is not None else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != PARQUET_FORMAT:
        raise TraceFileError(path, f"not a KAIROS trace table (no {PARQUET_FORMAT!r} metadata)")
    if header.get("formatVersion") != PARQUET_FORMAT_VERSION:
        raise TraceFileError(
            path, f"trace table version {header.get('formatVersion')!r} is not supported"
        )
    try:
        metadata = TraceMetadata.from_wire(header["metadata"])
    except (KeyError, ValueError) as exc:
        raise TraceFileError(path, f"bad trace metadata ({exc})") from None
    layout = Layout(header["agents"], header["bodies"])

    def steps() -> Iterator[TraceStep]:
        for batch in handle.iter_batches(batch_size=ROW_GROUP):
            try:
                yield from layout.steps(batch.to_pydict())
            except (KeyError, ValueError, TypeError) as exc:  # pydantic errors are ValueErrors
                raise TraceFileError(path, f"a row is not a valid trace step ({exc})") from None

    return metadata, steps()


def html_summary(trace: TraceQueries, kind: str, location: str | None = None) -> str:
    """The notebook view of a trace: its identity and run summary, from the aggregates a trace
    keeps (a LazyTrace does not read its file for it)."""
    meta = trace.metadata
    rows: list[tuple[str, Any]] = [
        ("scenario", meta.scenario_name),
        ("engine version", meta.engine_version),
        ("seed", meta.seed),
        ("ticks", meta.ticks),
    ]
    if meta.simulation_id is not None:
        rows.append(("simulation id", meta.simulation_id))
    if location is not None:
        rows.append(("file", location))
    if len(trace):
        losses = trace.basin_losses()
        first = f" (first at tick {losses[0].tick}: {losses[0].agent})" if losses else ""
        complete = "" if trace.is_complete else " (partial)"
        rows += [
            ("steps", f"{len(trace)}: t={trace.first_tick}..{trace.last_tick}{complete}"),
            ("final phase", trace.final_phase()),
            ("mean stability", f"{trace.mean_stability():.6g}"),
            ("min stability", f"{trace.min_stability():.6g}"),
            ("phase transitions", len(trace.phase_transitions())),
            ("basin losses", f"{len(losses)}{first}"),
            ("ghost branches", len(trace.ghost_branches())),
            ("agents", ", ".join(trace.agent_ids())),
        ]
    else:
        rows.append(("steps", "none"))
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table><caption>{html.escape(kind)}</caption><tbody>{body}</tbody></table>"
