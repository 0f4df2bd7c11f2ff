"""uvicorn's HTTP protocol with the guards a long-running public server needs.

uvicorn times out idle keep-alive connections, but not a client that sends a request's headers
one byte at a time (slow loris): each such connection would be held forever. Here every
connection must complete a request's headers within ``header_timeout`` seconds of connecting or
of its previous response, and is closed otherwise. A request line or header block the parser
refuses (too long, malformed) is answered with tRPC's error shape rather than plain text.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from kairos._trpc import TRPCError
from kairos._trpc.http_server import build_http_response

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
    _Base = H11Protocol  # type: ignore[assignment, misc]

# What uvicorn's parser refuses gets the envelope of any other BAD_REQUEST, from the same encoder.
_BAD_REQUEST = build_http_response(
    [TRPCError("BAD_REQUEST", "Invalid HTTP request")], is_batch=False
).body


def guarded_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """The HTTP protocol class to give uvicorn (``http=``)."""

    class GuardedHTTPProtocol(_Base):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout, self._header_timeout)

        def _header_timeout(self) -> None:
            self._header_timer = None
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:
                return  # closed, or upgraded to a WebSocket
            cycle = self.cycle
            if cycle is None or cycle.response_complete:
                # No request whose headers are complete is being served: close.
                transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            content: list[Any] = [b"HTTP/1.1 400 Bad Request\r\n"]
            for name, value in self.server_state.default_headers:
                content.extend([name, b": ", value, b"\r\n"])
            content.extend(
                [
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(_BAD_REQUEST)).encode("ascii") + b"\r\n",
                    b"connection: close\r\n",
                    b"\r\n",
                    _BAD_REQUEST,
                ]
            )
            self.transport.write(b"".join(content))
            self.transport.close()

    return GuardedHTTPProtocol
