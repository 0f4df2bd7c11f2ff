"""The two drivers of the call machine: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

They are the only code that sends HTTP requests or sleeps between retries. Everything they do
is move a :class:`~._machine.Send` onto the wire and the outcome back into the machine; a
transport exception never leaves here raw: it becomes :class:`~._machine.Failed`, and the
machine turns that into ``APIConnectionError`` or ``APITimeoutError`` (or a retry).
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

import httpx

from ._machine import Failed, Machine, Received, Send

__all__ = ["HTTP_LIMITS", "drive_async", "drive_sync"]

T = TypeVar("T")

KEEPALIVE_EXPIRY = 2.0
"""Seconds an idle pooled connection is kept. Well under the 5 s after which common servers
(uvicorn, hence ``kairos serve``; Node.js) close an idle connection: with equal timeouts, a
request sent on a connection the server is closing at that moment is reset unanswered (a
``ReadError``), and a ``simulation.create`` is not retried after that (not retry-safe)."""

HTTP_LIMITS = httpx.Limits(
    max_connections=1000, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY
)
"""Generous pool limits: a 50-task sweep must never wait on the pool (PoolTimeout)."""


def _build(http: httpx.Client | httpx.AsyncClient, action: Send) -> httpx.Request:
    spec = action.request
    return http.build_request(
        spec.method,
        str(http.base_url).rstrip("/") + spec.target,
        headers=dict(action.headers),
        content=spec.body,
        timeout=action.timeout,
    )


def _failed(exc: httpx.TransportError) -> Failed:
    return Failed("timeout" if isinstance(exc, httpx.TimeoutException) else "connection", exc)


def drive_sync(machine: Machine[T], http: httpx.Client) -> T:
    """Run a call machine to its result with blocking I/O."""
    reply: Received | Failed | None = None
    while True:
        try:
            action = machine.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if not isinstance(action, Send):
            time.sleep(action.seconds)
            reply = None
            continue
        try:
            response = http.send(_build(http, action))
        except httpx.TransportError as exc:
            reply = _failed(exc)
        else:
            reply = Received(response.status_code, response.headers, response.content)


async def drive_async(machine: Machine[T], http: httpx.AsyncClient) -> T:
    """Run a call machine to its result on the running event loop."""
    reply: Received | Failed | None = None
    while True:
        try:
            action = machine.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if not isinstance(action, Send):
            await asyncio.sleep(action.seconds)
            reply = None
            continue
        try:
            response = await http.send(_build(http, action))
        except httpx.TransportError as exc:
            reply = _failed(exc)
        else:
            reply = Received(response.status_code, response.headers, response.content)
