"""The SSE driver: subscriptions over Server-Sent Events (tRPC's ``httpSubscriptionLink`` wire),
a second thin driver of the same subscription machine as the WebSocket one.

Each subscription request the machine gives back becomes one ``GET /trpc/<path>?input=...``
answered with ``text/event-stream``; a resumed one carries ``Last-Event-ID`` (the machine's one
tracked id). The events map onto the machine's server events: ``connected`` is ``started``, a
message is data (its ``id:`` the tracked id), ``return`` is ``stopped``, ``serialized-error`` is
the error shape; ``ping`` only keeps the read timeout from firing. A response that ends without
``return``, or breaks, is a lost socket: the machine decides when to reconnect and resumes after
the last event accepted, so every event reaches its consumer exactly once. The server pings
every few seconds; a silence longer than the client's ``timeout`` counts as a lost connection.
One connection carries one subscription (each is its own HTTP response).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from kairos._trpc.json_values import ABSENT, JSONDecodeFailure, decode_json, encode_json, excerpt
from kairos._trpc.sse import SSEEvent, SSEParser
from kairos._trpc.subscriptions import Close, Output, Stop, Subscribe
from kairos._trpc.ws_client import Data, Error, ProtocolViolation, ServerEvent, Started, Stopped

from ._settings import ClientSettings
from ._stream_driver import StreamDriver

__all__ = ["SSEConnection", "server_event"]


@dataclass(eq=False)
class _Slot:
    """One logical socket: the GET requests running on it, by request id."""

    requests: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def cancel(self, id: int | None = None) -> None:
        for key in list(self.requests) if id is None else [id]:
            task = self.requests.pop(key, None)
            if task is not None:
                task.cancel()


def server_event(id: int, event: SSEEvent) -> ServerEvent | None:
    """The machine's server event for one SSE event of request ``id`` (None: nothing to do)."""
    if event.event == "message":
        data = decode_json(event.data)
        if isinstance(data, JSONDecodeFailure):
            return ProtocolViolation(data.message, excerpt(event.data))
        return Data(id, data, event.id or None)
    if event.event == "connected":
        return Started(id)
    if event.event == "return":
        return Stopped(id)
    if event.event == "serialized-error":
        shape = decode_json(event.data)
        if isinstance(shape, dict) and isinstance(shape.get("code"), int):
            return Error(id, shape)
        return ProtocolViolation("serialized-error is not an error shape", excerpt(event.data))
    return None  # ping, restore-id, anything newer


def _refusal(id: int, body: bytes) -> Error | None:
    """The error of a non-200 answer that is a tRPC error envelope (an unknown path, say)."""
    envelope = decode_json(body)
    shape = envelope.get("error") if isinstance(envelope, dict) else None
    if isinstance(shape, dict) and isinstance(shape.get("code"), int):
        return Error(id, shape)
    return None


class SSEConnection(StreamDriver[_Slot]):
    """One subscription over SSE (see the module's docs)."""

    max_load = 1
    open_errors = ()

    def __init__(self, settings: ClientSettings, http: httpx.AsyncClient) -> None:
        super().__init__(settings, f"the SSE stream of {settings.url}")
        self._http = http

    async def _open_socket(self) -> _Slot:
        return _Slot()  # the request goes out with the subscription

    def _adopt(self, socket: int, sock: _Slot) -> None:
        pass

    async def _transmit(self, output: Output) -> None:
        slot = self.sockets.get(output.socket)
        if slot is None:
            return
        if isinstance(output, Subscribe):
            slot.requests[output.id] = self._spawn(self._stream(output))
        elif isinstance(output, Stop):
            slot.cancel(output.id)
        elif isinstance(output, Close):
            slot.cancel()

    async def _stream(self, request: Subscribe) -> None:
        protocol, socket = self.protocol, request.socket
        headers = self.settings.headers()
        headers["accept"] = "text/event-stream"
        if request.last_event_id is not None:
            headers["last-event-id"] = request.last_event_id
        params = {} if request.input is ABSENT else {"input": encode_json(request.input)}
        reason = "the stream ended without its return event"
        try:
            async with self._http.stream(
                "GET",
                f"{self.settings.trpc_url}/{request.path}",
                params=params,
                headers=headers,
                timeout=self.settings.timeout,
            ) as response:
                if response.status_code != 200:
                    refusal = _refusal(request.id, await response.aread())
                    if refusal is not None:
                        protocol.receive(refusal, socket, self._now())
                        await self._after()
                        return
                    reason = f"HTTP {response.status_code}"
                else:
                    parser = SSEParser(last_event_id=request.last_event_id or "")
                    async for chunk in response.aiter_raw():
                        final = False
                        for sse in parser.feed(chunk):
                            event = server_event(request.id, sse)
                            if event is not None:
                                protocol.receive(event, socket, self._now())
                                final = final or isinstance(event, Stopped | Error)
                        await self._after()
                        if final:
                            return
                        if protocol.reading_blocked:
                            await self._wait_for_room()
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
        await self._lost(socket, reason)

    async def _close_socket(self, sock: _Slot) -> None:
        sock.cancel()

    def _cut(self, sock: _Slot) -> None:
        sock.cancel()
