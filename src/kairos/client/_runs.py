"""What ``run`` and ``stream_run`` share between their sync and async forms: the create input,
the trace metadata from the Simulation record, and collecting steps into a trace that is
checked for completeness (a short trace is never returned)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pydantic

from kairos._arguments import from_pydantic
from kairos.errors import APIProtocolError
from kairos.trace import LazyTrace, LazyTraceWriter, Trace, TraceMetadata
from kairos_api import CreateSimulationInput, Scenario, Simulation, TraceStep

__all__ = ["Collector", "check_complete", "create_input", "metadata_of"]


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


def metadata_of(record: Simulation) -> TraceMetadata:
    """The trace's identity from what the server recorded (the version and seed it used)."""
    return TraceMetadata(
        engine_version=record.engine_version,
        seed=record.seed,
        scenario_name=record.scenario_name,
        ticks=record.ticks,
        simulation_id=record.id,
    )


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

    def __init__(self, record: Simulation, out: str | os.PathLike[str] | None) -> None:
        self.record = record
        self.metadata = metadata_of(record)
        self.last_tick = 0
        self._steps: list[TraceStep] = []
        self._writer: LazyTraceWriter | None = (
            LazyTrace.writer(out, self.metadata) if out is not None else None
        )

    def add(self, steps: Sequence[TraceStep]) -> None:
        if self._writer is not None:
            self._writer.extend(steps)
        else:
            self._steps.extend(steps)
        if steps:
            self.last_tick = steps[-1].t

    def finish(self) -> Trace | LazyTrace:
        check_complete(self.record, self.last_tick)
        if self._writer is not None:
            return self._writer.close()
        return Trace(self._steps, self.metadata)

    def abort(self) -> None:
        """Close the file, if any: it keeps every step received (a valid prefix)."""
        if self._writer is not None:
            self._writer.close()
