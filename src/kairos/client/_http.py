"""The two drivers of the call machine: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

They are the only code that sends HTTP requests or sleeps between retries. Everything they do
is move a :class:`~._machine.Send` onto the wire and the outcome back into the machine; a
transport exception never leaves here raw: it becomes :class:`~._machine.Failed`, and the
machine turns that into ``APIConnectionError`` or ``APITimeoutError`` (or a retry). Both are one
async driver given the async client's I/O or blocking I/O (see :mod:`._driving`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from ._driving import run_actions, run_blocking
from ._machine import Action, Failed, Machine, Received, Send, Sleep

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

    async def send(request: httpx.Request) -> httpx.Response:
        return http.send(request)

    async def sleep(seconds: float) -> None:
        time.sleep(seconds)

    return run_blocking(_drive(machine, http, send, sleep))


async def drive_async(machine: Machine[T], http: httpx.AsyncClient) -> T:
    """Run a call machine to its result on the running event loop."""
    return await _drive(machine, http, http.send, asyncio.sleep)


async def _drive(
    machine: Machine[T],
    http: httpx.Client | httpx.AsyncClient,
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Both drivers: ``send`` and ``sleep`` are the async client's, or blocking ones."""

    async def perform(action: Action) -> Received | Failed | None:
        if isinstance(action, Sleep):
            await sleep(action.seconds)
            return None
        try:
            response = await send(_build(http, action))
        except httpx.TransportError as exc:
            return _failed(exc)
        return Received(response.status_code, response.headers, response.content)

    return await run_actions(machine, perform)
