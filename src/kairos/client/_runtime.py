"""The one hand-written runtime behind the generated stubs (``kairos_api.Runtime``).

Queries and mutations run the sans-I/O call machine (:mod:`._machine`) through the sync or the
async HTTP driver. Subscriptions run over the per-loop WebSocket manager; the sync
``subscribe`` iterates the same async code on the client's background loop. A tracked trace
stream is passed through :class:`~kairos._trpc.resume.StreamResume`, so a consumer sees every
step exactly once and in order across reconnects, or a typed error; never a hole.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pydantic

from kairos._trpc.resume import Deliver, StreamResume
from kairos.errors import APIProtocolError
from kairos_api import Procedure, SimulationIdInput, TraceChunk, TraceStep
from kairos_api.procedures import SIMULATION_CANCEL

from ._bridge import BridgedIterator
from ._http import drive_async, drive_sync
from ._machine import call_machine, encode_input
from ._settings import ClientSettings
from ._transports import Transports

__all__ = ["ClientRuntime"]

InputT = TypeVar("InputT", bound="pydantic.BaseModel | None")
OutputT = TypeVar("OutputT", bound=pydantic.BaseModel)


class ClientRuntime:
    """Implements ``call``/``acall``/``subscribe``/``asubscribe`` for one set of settings."""

    def __init__(self, settings: ClientSettings, transports: Transports) -> None:
        self.settings = settings
        self.transports = transports

    def call(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        allow_unsafe_retry: bool | None = None,
    ) -> OutputT:
        """Run a query or mutation with blocking I/O."""
        machine = call_machine(
            procedure, input, self.settings, allow_unsafe_retry=allow_unsafe_retry
        )
        return drive_sync(machine, self.transports.http())

    async def acall(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        allow_unsafe_retry: bool | None = None,
    ) -> OutputT:
        """Run a query or mutation on the running event loop."""
        machine = call_machine(
            procedure, input, self.settings, allow_unsafe_retry=allow_unsafe_retry
        )
        return await drive_async(machine, self.transports.for_loop().http)

    def subscribe(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        owned_simulation: str | None = None,
    ) -> BridgedIterator[OutputT]:
        """Iterate a subscription from blocking code (on the client's background loop)."""
        return self.transports.bridge.iterate(
            lambda: self.asubscribe(procedure, input, owned_simulation=owned_simulation)
        )

    async def asubscribe(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        owned_simulation: str | None = None,
    ) -> AsyncGenerator[OutputT, None]:
        """Iterate a subscription's decoded events; resumable streams survive lost sockets.

        ``owned_simulation`` is cancelled when the consumer leaves before the end (the stream
        of a run that ``stream_run`` created); any stream is stopped on the server then.
        """
        payload = encode_input(procedure, input, self.settings)
        start = payload.get("lastEventId") if isinstance(payload, dict) else None
        resources = self.transports.for_loop()
        manager = resources.ws

        on_abandon = None
        if owned_simulation is not None:
            on_abandon = self._canceller(owned_simulation, resources.http)
        handle = await manager.subscribe(procedure.path, payload, on_abandon=on_abandon)
        resume = _chunk_resume(procedure, start)
        events = manager.events(handle, self.settings.stream_idle_timeout)
        async with contextlib.aclosing(events):
            async for item in events:
                try:
                    event = procedure.output_model.model_validate(item.data)
                except pydantic.ValidationError as exc:
                    raise APIProtocolError(
                        f"an event of {procedure.path} does not match the API schema: {exc}",
                        path=procedure.path,
                    ) from None
                if resume is None:
                    yield event
                    continue
                assert isinstance(event, TraceChunk)
                accepted = resume.accept(event.steps, event_id=item.tracked_id)
                if not isinstance(accepted, Deliver):
                    raise APIProtocolError(
                        f"{procedure.path} broke exactly-once delivery: {accepted.reason}",
                        path=procedure.path,
                    )
                if accepted.steps:
                    same = len(accepted.steps) == len(event.steps)
                    yield event if same else TraceChunk.model_construct(steps=accepted.steps)  # type: ignore[misc]

    def _canceller(
        self, simulation_id: str, http: httpx.AsyncClient
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """``on_abandon`` for a stream that owns ``simulation_id``: cancel it, through this
        loop's HTTP client (closed after the WebSocket manager). The id is noted with the
        transports first, so that closing the client cancels it should this be interrupted."""
        transports = self.transports

        def on_abandon() -> Coroutine[Any, Any, None]:
            transports.note_abandoned(simulation_id)

            async def cancel() -> None:
                machine = call_machine(
                    SIMULATION_CANCEL, SimulationIdInput(id=simulation_id), self.settings
                )
                await drive_async(machine, http)
                transports.cancelled(simulation_id)

            return cancel()

        return on_abandon


def _chunk_resume(procedure: Procedure[Any, Any], start: object) -> StreamResume[TraceStep] | None:
    if not (procedure.tracked and procedure.output_model is TraceChunk):
        return None
    first = int(start) if isinstance(start, str) and start.isdigit() else 0
    return StreamResume(lambda step: step.t, last_delivered=first)
