"""The WebSocket driver: one socket at a time and one subscription machine (``self.protocol``).

Every decision (ids, resuming with ``lastEventId``, pausing, PONG, the reconnect notice, the
id-null error, retries) is the machine's (:mod:`kairos._trpc.subscriptions`); this module opens
sockets, reads their frames into the machine, and sends what it gives back.
"""

from __future__ import annotations

import asyncio
import contextlib

import websockets
from websockets.asyncio.client import ClientConnection, connect

from kairos._trpc.subscriptions import Close, Output
from kairos._trpc.ws_client import Data, encode_connection_params

from ._chunk_frames import decode_chunk_frame
from ._settings import ClientSettings, user_agent
from ._stream_driver import StreamDriver

__all__ = ["UpgradeRefused", "WSConnection"]


class UpgradeRefused(Exception):
    """The server answered the WebSocket upgrade with an HTTP status (a proxy that blocks
    WebSockets, say): ``stream_transport="auto"`` then streams over SSE."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the WebSocket upgrade was refused with HTTP {status}")
        self.status = status


class WSConnection(StreamDriver[ClientConnection]):
    """A WebSocket (replaced as needed) carrying up to ``max_subscriptions_per_socket``
    subscriptions."""

    open_errors = (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException)

    def __init__(self, settings: ClientSettings, *, refused_upgrade_raises: bool = False) -> None:
        super().__init__(settings, f"the WebSocket to {settings.url}")
        self.max_load = settings.max_subscriptions_per_socket
        self._refused_upgrade_raises = refused_upgrade_raises

    async def _open_socket(self) -> ClientConnection:
        settings = self.settings
        headers = settings.headers()
        headers.pop("authorization", None)  # sent in connectionParams, as tRPC v11 does
        headers.pop("user-agent", None)
        try:
            ws = await connect(
                settings.ws_url,
                additional_headers=headers,
                user_agent_header=user_agent(),
                open_timeout=settings.timeout,
                compression=None,
                max_size=None,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            )
        except websockets.exceptions.InvalidStatus as exc:
            if self._refused_upgrade_raises and self.protocol.socket == 0:
                raise UpgradeRefused(exc.response.status_code) from exc
            raise
        params = settings.connection_params()
        if params is not None:
            await ws.send(encode_connection_params(params))
        return ws

    def _adopt(self, socket: int, sock: ClientConnection) -> None:
        self._spawn(self._read(socket, sock))

    async def _read(self, socket: int, ws: ClientConnection) -> None:
        protocol = self.protocol
        reason = ""
        try:
            async for frame in ws:
                # A trace chunk is parsed and validated in one call; any other frame goes to
                # the machine's general decoder.
                chunk = decode_chunk_frame(frame)
                if chunk is None:
                    protocol.receive_frame(frame, socket, self._now())
                else:
                    event = Data(chunk.request_id, chunk.chunk, chunk.tracked_id)
                    protocol.receive(event, socket, self._now())
                await self._after()
                if protocol.reading_blocked:
                    await self._wait_for_room()
        except (websockets.exceptions.ConnectionClosed, OSError) as exc:
            reason = str(exc)
        await self._lost(socket, reason)

    async def _transmit(self, output: Output) -> None:
        # A send on a broken socket is not an error here: the reader sees the break and the
        # machine re-sends every kept subscription on the next socket.
        ws = self.sockets.get(output.socket)
        if ws is None:
            return
        if isinstance(output, Close):
            self._spawn(self._close_socket(ws))
            return
        with contextlib.suppress(websockets.exceptions.ConnectionClosed, OSError):
            await ws.send(output.frame)

    async def _close_socket(self, sock: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await sock.close()

    def _cut(self, sock: ClientConnection) -> None:
        sock.transport.abort()
