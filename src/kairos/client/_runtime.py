"""The one hand-written runtime behind the generated stubs (``kairos_api.Runtime``).

Queries and mutations run the sans-I/O call machine (:mod:`._machine`) through the sync or the
async HTTP driver. Subscriptions run over the per-loop WebSocket manager; the sync
``subscribe`` iterates the same async code on the client's background loop. A tracked trace
stream is passed through :class:`~kairos._trpc.resume.StreamResume`, so a consumer sees every
step exactly once and in order across reconnects, or a typed error; never a hole.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any, TypeVar

import pydantic

from kairos._trpc.resume import Deliver, StreamResume
from kairos.errors import APIProtocolError
from kairos_api import Procedure, TraceChunk, TraceStep

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

    def subscribe(self, procedure: Procedure[InputT, OutputT], input: InputT) -> Iterator[OutputT]:
        """Iterate a subscription from blocking code (on the client's background loop)."""
        return self.transports.bridge.iterate(lambda: self.asubscribe(procedure, input))

    async def asubscribe(
        self, procedure: Procedure[InputT, OutputT], input: InputT
    ) -> AsyncGenerator[OutputT, None]:
        """Iterate a subscription's decoded events; resumable streams survive lost sockets."""
        payload = encode_input(procedure, input, self.settings)
        start = payload.get("lastEventId") if isinstance(payload, dict) else None
        manager = self.transports.for_loop().ws
        handle = await manager.subscribe(procedure.path, payload, last_event_id=None)
        resume = _chunk_resume(procedure, start)
        async for item in manager.events(handle, self.settings.stream_idle_timeout):
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


def _chunk_resume(procedure: Procedure[Any, Any], start: object) -> StreamResume[TraceStep] | None:
    if not (procedure.tracked and procedure.output_model is TraceChunk):
        return None
    first = int(start) if isinstance(start, str) and start.isdigit() else 0
    return StreamResume(lambda step: step.t, last_delivered=first)
