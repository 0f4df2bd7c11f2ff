"""What ``run`` and ``stream_run`` share between their sync and async forms: the create input,
the trace metadata from the Simulation record, and collecting steps into a trace that is
checked for completeness (a short trace is never returned)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pydantic

from kairos._arguments import Arguments, describe, from_pydantic
from kairos.errors import APIProtocolError
from kairos.trace import LazyTrace, LazyTraceWriter, Trace, TraceMetadata
from kairos.trace._aggregates import TraceSummary
from kairos.trace._trace_file import encode_header
from kairos_api import (
    CreateSimulationInput,
    Decree,
    DecreeEvent,
    DecreeInput,
    Scenario,
    Simulation,
    TraceStep,
)
from kairos_api.enums import AISafetyEventType

__all__ = ["Collector", "check_complete", "create_input", "decree_input", "metadata_of"]


def create_input(
    scenario: Scenario,
    ticks: int,
    engine_version: str | None,
    organization_id: str | None,
    idempotency_key: str | None,
) -> CreateSimulationInput:
    """The ``simulation.create`` input (the client's pin is added by the call machine when
    ``engine_version`` is None; the idempotency key is minted there when None)."""
    try:
        return CreateSimulationInput(
            scenario=scenario,
            ticks=ticks,
            engine_version=engine_version,
            organization_id=organization_id,
            idempotency_key=idempotency_key,
        )
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, "a run") from None


def metadata_of(
    record: Simulation,
    scenario: Mapping[str, Any] | None = None,
    decrees: Iterable[Decree] = (),
) -> TraceMetadata:
    """The trace's identity from what the server recorded (the version and seed it used), with
    the scenario as submitted and the decrees, when known."""
    return TraceMetadata(
        engine_version=record.engine_version,
        seed=record.seed,
        scenario_name=record.scenario_name,
        ticks=record.ticks,
        simulation_id=record.id,
        scenario=scenario,
        decrees=tuple(d.model_dump(mode="json", by_alias=True) for d in decrees),
    )


def decree_input(
    simulation_id: object,
    event: object,
    target: object,
    magnitude: object,
    idempotency_key: object,
    where: str,
) -> DecreeInput:
    """The ``simulation.decree`` input: ``event`` is a ``DecreeEvent``, its wire dict, or an
    event type (``AISafetyEventType`` or its value) with ``target`` and ``magnitude``."""
    args = Arguments(where)
    args.string("simulation_id", simulation_id, none=False)
    args.string("idempotency_key", idempotency_key)
    args.string("target", target)
    if magnitude is not None and (
        isinstance(magnitude, bool) or not isinstance(magnitude, (int, float))
    ):
        args.add("magnitude", f"must be a number or None, got {describe(magnitude)}")
    wire: Any = None
    if isinstance(event, DecreeEvent):
        wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(event, Mapping):
        wire = dict(event)
    elif isinstance(event, (AISafetyEventType, str)):
        kind = event.value if isinstance(event, AISafetyEventType) else event
        wire = {"type": kind, "target": target, "magnitude": magnitude}
        wire = {k: v for k, v in wire.items() if v is not None}
    else:
        args.add(
            "event",
            "must be a DecreeEvent, its wire dict or an event type such as "
            f"AISafetyEventType.CONTAINMENT, got {describe(event)}",
        )
    explicit = wire is not None and not isinstance(event, (AISafetyEventType, str))
    if explicit and (target is not None or magnitude is not None):
        args.add("target", "give target and magnitude inside the event, not beside it")
    args.check()
    try:
        return DecreeInput.model_validate(
            {"id": simulation_id, "event": wire, "idempotencyKey": idempotency_key}
        )
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, where) from None


def check_complete(record: Simulation, last_tick: int) -> None:
    """A stream that ended before the last tick without an error is a protocol failure."""
    if last_tick != record.ticks:
        raise APIProtocolError(
            f"the stream of {record.id} ended at tick {last_tick} of {record.ticks}",
            path="simulation.stream",
        )


class Collector:
    """Steps of one run, in memory (a :class:`Trace`) or written to ``out`` (a
    :class:`LazyTrace`)."""

    def __init__(
        self,
        record: Simulation,
        out: str | os.PathLike[str] | None,
        metadata: TraceMetadata | None = None,
    ) -> None:
        self.record = record
        self.metadata = metadata if metadata is not None else metadata_of(record)
        self.decrees: list[Decree] = []
        self.last_tick = 0
        self._steps: list[TraceStep] = []
        # The in-memory trace's checks and aggregates, folded as the steps arrive (while the
        # next chunk is on its way) instead of in one pass at the end; the first step a check
        # rejects is kept and raised by finish(), as Trace(steps) would raise it.
        self._summary = TraceSummary()
        self._rejected: ValueError | None = None
        self._writer: LazyTraceWriter | None = (
            LazyTrace.writer(out, self.metadata) if out is not None else None
        )

    def add(self, steps: Sequence[TraceStep], decrees: Sequence[Decree] = ()) -> None:
        self.decrees.extend(decrees)
        if self._writer is not None:
            self._writer.extend(steps)
        else:
            self._steps.extend(steps)
            if self._rejected is None:
                fold = self._summary.add
                try:
                    for step in steps:
                        fold(step)
                except ValueError as exc:
                    self._rejected = exc
        if steps:
            self.last_tick = steps[-1].t

    def finish(self) -> Trace | LazyTrace:
        check_complete(self.record, self.last_tick)
        metadata = self.metadata
        if self.decrees:  # decrees that took effect while the run streamed
            wire = tuple(d.model_dump(mode="json", by_alias=True) for d in self.decrees)
            metadata = dataclasses.replace(metadata, decrees=metadata.decrees + wire)
        if self._writer is not None:
            lazy = self._writer.close()
            if metadata is self.metadata:
                return lazy
            return _rewrite_header(lazy.path, metadata)
        if self._rejected is not None:
            raise self._rejected
        return Trace._folded(self._steps, self._summary, metadata)

    def abort(self) -> None:
        """Close the file, if any: it keeps every step received (a valid prefix)."""
        if self._writer is not None:
            self._writer.close()


def _rewrite_header(path: str, metadata: TraceMetadata) -> LazyTrace:
    """Replace the header line of a finished trace file (the decrees are known only at the
    end of a run): the steps are copied unchanged, then the file is replaced atomically."""
    temporary = f"{path}.header"
    with open(path, "rb") as source, open(temporary, "wb") as target:
        source.readline()
        target.write(encode_header(metadata))
        shutil.copyfileobj(source, target)
    os.replace(temporary, path)
    return LazyTrace.open(path)
