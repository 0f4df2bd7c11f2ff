"""``KairosClient``'s high-level calls as flows: one source for their sync and async forms.

A flow is a generator. It yields what to do (:class:`Call` a procedure, :class:`Follow` a
subscription to its end, handing each event to ``each``) and is sent back the call's output
(None after a :class:`Follow`); it returns the call's result or raises. What to create, which
stream to follow, how the steps are collected and checked, and cleaning up after a failure all
live here, so ``run``/``arun`` and ``trace``/``atrace`` only hand a flow to :func:`drive` or
:func:`adrive`, which carry out its actions through the runtime's sync or async I/O (as
:mod:`._machine` and :mod:`._http` do for one HTTP call). Both step the flow with the one loop
of :mod:`._driving`; they differ only in how they call and follow.

A driver closes the flow when an action fails (or ``each`` raises): the flow's ``except`` and
``finally`` blocks run at the ``yield`` where it waited, then the failure goes on.

``stream_run`` hands steps to its caller as they come, so its core is not a flow but one async
generator, :func:`run_chunks`, that the sync form iterates on the client's background loop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic

from kairos.trace import LazyTrace, Trace
from kairos_api import (
    CreateSimulationInput,
    Procedure,
    Simulation,
    SimulationIdInput,
    SimulationScenario,
    StreamInput,
    TraceChunk,
)
from kairos_api.procedures import (
    SIMULATION_CREATE,
    SIMULATION_GET,
    SIMULATION_SCENARIO,
    SIMULATION_STREAM,
)

from ._driving import run_actions, run_blocking
from ._runs import Collector, check_complete, metadata_of
from ._runtime import ClientRuntime

__all__ = ["Call", "Flow", "Follow", "adrive", "drive", "run_chunks", "run_flow", "trace_flow"]

OutputT = TypeVar("OutputT", bound=pydantic.BaseModel)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Call(Generic[OutputT]):
    """Run a query or mutation and answer with its output."""

    procedure: Procedure[Any, OutputT]
    input: pydantic.BaseModel | None
    allow_unsafe_retry: bool | None = None


@dataclass(frozen=True)
class Follow(Generic[OutputT]):
    """Iterate a subscription to its end, calling ``each`` with every event; answer None.
    ``owned_simulation`` is cancelled if the stream is left early (see ``subscribe``)."""

    procedure: Procedure[Any, OutputT]
    input: pydantic.BaseModel | None
    each: Callable[[OutputT], object]
    owned_simulation: str | None = None


Flow = Generator["Call[Any] | Follow[Any]", Any, ResultT]


def drive(flow: Flow[ResultT], runtime: ClientRuntime) -> ResultT:
    """Run a flow to its result with blocking I/O."""

    async def perform(action: Call[Any] | Follow[Any]) -> object:
        if isinstance(action, Call):
            return runtime.call(
                action.procedure, action.input, allow_unsafe_retry=action.allow_unsafe_retry
            )
        for event in runtime.subscribe(
            action.procedure, action.input, owned_simulation=action.owned_simulation
        ):
            action.each(event)
        return None

    return run_blocking(run_actions(flow, perform))


async def adrive(flow: Flow[ResultT], runtime: ClientRuntime) -> ResultT:
    """Run a flow to its result on the running event loop."""

    async def perform(action: Call[Any] | Follow[Any]) -> object:
        if isinstance(action, Call):
            return await runtime.acall(
                action.procedure, action.input, allow_unsafe_retry=action.allow_unsafe_retry
            )
        async for event in runtime.asubscribe(
            action.procedure, action.input, owned_simulation=action.owned_simulation
        ):
            action.each(event)
        return None

    return await run_actions(flow, perform)


def run_flow(
    request: CreateSimulationInput,
    out: str | os.PathLike[str] | None,
    progress: Callable[[int], object] | None,
    allow_unsafe_retry: bool | None,
) -> Flow[Trace | LazyTrace]:
    """``run``: create the simulation, then collect its stream into a trace."""
    record: Simulation = yield Call(SIMULATION_CREATE, request, allow_unsafe_retry)
    collector = Collector(record, out, metadata_of(record, _wire(request.scenario)))

    def each(chunk: TraceChunk) -> None:
        collector.add(chunk.steps, chunk.decrees)
        if progress is not None:
            progress(len(chunk.steps))

    stream = Follow(SIMULATION_STREAM, StreamInput(id=record.id), each, record.id)
    return (yield from _collected(collector, stream))


def trace_flow(ident: str, out: str | os.PathLike[str] | None) -> Flow[Trace | LazyTrace]:
    """``trace``: wait for an existing simulation to finish, then collect its trace."""
    by_id = SimulationIdInput(id=ident)
    record: Simulation = yield Call(SIMULATION_GET, by_id)
    # Wait for the end without downloading the steps: resume the stream at its last step.
    yield Follow(
        SIMULATION_STREAM, StreamInput(id=ident, last_event_id=str(record.ticks - 1)), _ignore
    )
    record = yield Call(SIMULATION_GET, by_id)
    scenario: SimulationScenario = yield Call(SIMULATION_SCENARIO, by_id)
    metadata = metadata_of(record, _wire(scenario.scenario), record.decrees)
    collector = Collector(record, out, metadata)
    stream = Follow(SIMULATION_STREAM, StreamInput(id=ident), lambda c: collector.add(c.steps))
    return (yield from _collected(collector, stream))


async def run_chunks(
    runtime: ClientRuntime, request: CreateSimulationInput, allow_unsafe_retry: bool | None
) -> AsyncGenerator[TraceChunk, None]:
    """``stream_run``'s one core: create the simulation and yield the chunks of its stream,
    which it owns (leaving early cancels the run); a stream that ends short is an error.
    ``astream_run`` iterates it on the caller's loop, ``stream_run`` on the client's
    background loop, as the sync ``subscribe`` does."""
    record = await runtime.acall(SIMULATION_CREATE, request, allow_unsafe_retry=allow_unsafe_retry)
    last = 0
    chunks = runtime.asubscribe(
        SIMULATION_STREAM, StreamInput(id=record.id), owned_simulation=record.id
    )
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            yield chunk
            last = chunk.steps[-1].t
    check_complete(record, last)


def _collected(collector: Collector, stream: Follow[TraceChunk]) -> Flow[Trace | LazyTrace]:
    """Follow ``stream`` (whose events go to ``collector``) and finish the trace; on any
    failure, or when the flow is closed, close the collector's file first."""
    try:
        yield stream
        return collector.finish()
    except BaseException:
        collector.abort()
        raise


def _ignore(event: object) -> None:
    return None


def _wire(scenario: pydantic.BaseModel) -> dict[str, Any]:
    """A scenario model in wire form (as the server stores it)."""
    wire: dict[str, Any] = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    return wire
