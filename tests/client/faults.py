"""A TCP proxy in front of a real server that can inject the faults a real server cannot.

Each new client connection takes the next mode from a script (then ``default``):

* ``"pass"``: pipe bytes both ways (HTTP keep-alive and WebSockets work as usual);
* ``("status", code, headers, body)``: read one HTTP request, answer it with that response
  and ``Connection: close``;
* ``"reset"``: close the connection at once (a connection error; refused WebSocket opens);
* ``"drop_response"``: forward one HTTP request upstream, read the answer, then close the client
  connection without it (the server did the work; the client never hears of it);
* ``"hang"``: read and never answer (a timeout);
* ``("delay", seconds)``: wait ``seconds`` before piping (a slow answer, a slow handshake);
* ``("truncate", nbytes)``: forward one HTTP request, read the answer, send only its first
  ``nbytes`` bytes, then reset (the server did the work; the client sees half an answer);
* ``("idle_reset", seconds)``: pipe, but reset the connection, without forwarding, when a
  request arrives on it after ``seconds`` of silence (what a server does whose keep-alive timer
  fires as the request arrives: the request is lost unanswered);
* ``("ws_cut_every", n)``: pipe, but reset the connection right after the ``n``-th WebSocket
  frame from the server (a socket killed every ``n`` frames when it is the ``default``);
* ``("refuse_upgrade", code)``: answer a WebSocket upgrade with HTTP ``code`` (a proxy that
  blocks WebSockets), pipe anything else.

:meth:`cut` closes every open connection (a WebSocket killed mid-stream). Requests and
connections are counted; the client-to-server bytes of each connection are kept (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from typing import Any

Mode = Any


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head + body


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    return await _read_request(reader)


def error_body(key: str, status: int, number: int, path: str, **kairos: Any) -> bytes:
    """A tRPC error envelope as the reference server writes it."""
    data: dict[str, Any] = {"code": key, "httpStatus": status, "path": path}
    if kairos:
        data["kairos"] = kairos
    return json.dumps(
        {"error": {"message": f"injected {key}", "code": number, "data": data}}
    ).encode()


class FaultProxy:
    """See the module docs. ``start()`` returns the proxy's base URL."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.script: deque[Mode] = deque()
        self.default: Mode = "pass"
        self.connections = 0
        self.requests = 0
        self.ws_cuts = 0
        self.idle_resets = 0
        self.sent: list[bytearray] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> str:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    @property
    def start_url(self) -> str:
        """The proxy's base URL (it is already started by the fixture)."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            self._cut()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def push(self, *modes: Mode) -> None:
        """Script the next connections."""
        self.script.extend(modes)

    def cut(self) -> None:
        """Close every open connection now (thread-safe)."""
        self._loop.call_soon_threadsafe(self._cut)

    def _cut(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        sent = bytearray()
        self.sent.append(sent)
        mode = self.script.popleft() if self.script else self.default
        try:
            if mode == "reset":
                writer.transport.abort()
            elif mode == "hang":
                await _read_request(reader)
                self.requests += 1
                await asyncio.sleep(3600)
            elif mode == "drop_response":
                request = await _read_request(reader)
                self.requests += 1
                sent += request[:65536]
                up_reader, up_writer = await asyncio.open_connection(
                    "127.0.0.1", self.upstream_port
                )
                up_writer.write(request)
                await up_writer.drain()
                await _read_response(up_reader)
                up_writer.close()
                writer.transport.abort()
            elif isinstance(mode, tuple) and mode[0] == "delay":
                await asyncio.sleep(mode[1])
                await self._pipe(reader, writer, sent)
            elif isinstance(mode, tuple) and mode[0] == "truncate":
                request = await _read_request(reader)
                self.requests += 1
                sent += request[:65536]
                up_reader, up_writer = await asyncio.open_connection(
                    "127.0.0.1", self.upstream_port
                )
                up_writer.write(request)
                await up_writer.drain()
                response = await _read_response(up_reader)
                up_writer.close()
                writer.write(response[: mode[1]])
                await writer.drain()
                writer.transport.abort()
            elif isinstance(mode, tuple) and mode[0] == "idle_reset":
                await self._pipe(reader, writer, sent, idle_reset=mode[1])
            elif isinstance(mode, tuple) and mode[0] == "ws_cut_every":
                head = await reader.readuntil(b"\r\n\r\n")
                if b"upgrade: websocket" in head.lower():
                    sent.extend(head[:4096])
                    await self._pipe_ws_frames(reader, writer, mode[1], head)
                else:  # plain HTTP through the same proxy
                    await self._pipe(reader, writer, sent, head)
            elif isinstance(mode, tuple) and mode[0] == "refuse_upgrade":
                head = await reader.readuntil(b"\r\n\r\n")
                if b"upgrade: websocket" in head.lower():
                    self.requests += 1
                    sent.extend(head[:4096])
                    writer.write(
                        f"HTTP/1.1 {mode[1]} Refused\r\ncontent-length: 0\r\n"
                        "connection: close\r\n\r\n".encode()
                    )
                    await writer.drain()
                else:
                    await self._pipe(reader, writer, sent, head)
            elif isinstance(mode, tuple) and mode[0] == "status":
                _, code, headers, body = mode
                request = await _read_request(reader)
                self.requests += 1
                sent += request[:65536]
                lines = [f"HTTP/1.1 {code} Injected", f"content-length: {len(body)}"]
                lines += ["content-type: application/json", "connection: close"]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await writer.drain()
                writer.close()
            else:
                await self._pipe(reader, writer, sent)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sent: bytearray,
        first: bytes = b"",
        idle_reset: float | None = None,
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        loop = asyncio.get_running_loop()
        last_activity = [loop.time()]
        self._writers.add(up_writer)
        if first:
            self.requests += 1
            sent.extend(first[:4096])
            up_writer.write(first)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bool) -> None:
            try:
                while chunk := await src.read(65536):
                    idle = loop.time() - last_activity[0]
                    last_activity[0] = loop.time()
                    if keep and idle_reset is not None and idle >= idle_reset:
                        self.idle_resets += 1
                        writer.transport.abort()
                        return
                    if keep:
                        if chunk.startswith((b"GET ", b"POST ")):
                            self.requests += 1
                        if len(sent) < 1 << 20:
                            sent.extend(chunk[:4096])
                    dst.write(chunk)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        try:
            await asyncio.gather(copy(reader, up_writer, True), copy(up_reader, writer, False))
        finally:
            self._writers.discard(up_writer)

    async def _pipe_ws_frames(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        frames: int,
        handshake: bytes,
    ) -> None:
        """Pipe one WebSocket connection; reset both ends after ``frames`` server frames."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.add(up_writer)
        up_writer.write(handshake)

        async def upstream() -> None:
            try:
                while chunk := await reader.read(65536):
                    up_writer.write(chunk)
                    await up_writer.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(Exception):
                    up_writer.transport.abort()

        async def downstream() -> None:
            try:
                writer.write(await up_reader.readuntil(b"\r\n\r\n"))  # the 101 answer
                for _ in range(frames):
                    head = await up_reader.readexactly(2)
                    size = head[1] & 0x7F
                    extra = b""
                    if size == 126:
                        extra = await up_reader.readexactly(2)
                        size = int.from_bytes(extra, "big")
                    elif size == 127:
                        extra = await up_reader.readexactly(8)
                        size = int.from_bytes(extra, "big")
                    if head[1] & 0x80:  # masked (never from a server, but be exact)
                        extra += await up_reader.readexactly(4)
                    writer.write(head + extra + await up_reader.readexactly(size))
                    await writer.drain()
                self.ws_cuts += 1
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            finally:
                for end in (writer, up_writer):
                    with contextlib.suppress(Exception):
                        end.transport.abort()

        try:
            await asyncio.gather(upstream(), downstream())
        finally:
            self._writers.discard(up_writer)

    def sent_bytes(self) -> bytes:
        return b"".join(bytes(s) for s in self.sent)
