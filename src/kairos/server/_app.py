"""The reference server as an ASGI application (Starlette), and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import logging
import signal
import threading
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from kairos._trpc import TRPCError
from kairos._trpc.http_server import error_response
from kairos.errors import KairosError
from kairos.server._config import ServerConfig
from kairos.server._header_timeout import guarded_protocol
from kairos.server._http_endpoint import http_endpoint
from kairos.server._observer_page import ROUTES as OBSERVER_ROUTES
from kairos.server._state import ServerState
from kairos.server._ws_endpoint import ws_endpoint

log = logging.getLogger("kairos.server")

HTTP_METHODS = ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def not_found(request: Request, exc: Exception) -> Response:
    """Outside ``/trpc``: tRPC's error shape too, so every answer of the server is one."""
    error = TRPCError("NOT_FOUND", "Not found: the tRPC endpoint is /trpc/<procedure path>")
    spec = error_response(error)
    return Response(spec.body, spec.status, headers=dict(spec.headers))


@functools.cache
def _openapi_bytes() -> bytes:
    return importlib.resources.files("kairos_api").joinpath("openapi.json").read_bytes()


async def openapi_document(request: Request) -> Response:
    """``GET /openapi.json``: the OpenAPI 3.1 document of the HTTP procedures, as generated
    from the schema (``generated/openapi.json``, shipped in ``kairos_api``)."""
    return Response(_openapi_bytes(), media_type="application/json")


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The reference server's ASGI app: HTTP under ``/trpc/<path>``, WebSocket at ``/trpc``,
    the Observer page at ``/observe``."""
    state = ServerState(config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if state.startup_error is not None:
            raise state.startup_error
        if not state.started:  # Server.startup starts it first
            await state.start()
        watcher = (
            asyncio.create_task(state.watch_keys())
            if state.config.api_keys_file is not None
            else None
        )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await state.stop()

    app = Starlette(
        routes=[
            Route("/trpc/{path:path}", http_endpoint, methods=HTTP_METHODS),
            WebSocketRoute("/trpc", ws_endpoint),
            Route("/openapi.json", openapi_document, methods=["GET", "HEAD"]),
            *OBSERVER_ROUTES,
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.state.kairos = state
    return app


class Server(uvicorn.Server):
    """uvicorn, plus tRPC's reconnect notification to every WebSocket client before it shuts
    down, so that clients move their subscriptions to a new server instead of failing."""

    def __init__(self, config: ServerConfig, **uvicorn_options: object) -> None:
        self.app = create_app(config)
        self.kairos_config = config
        super().__init__(
            uvicorn.Config(
                self.app,
                host=config.host,
                port=config.port,
                lifespan="on",
                http=guarded_protocol(config.header_timeout_seconds),
                ws="websockets-sansio",
                ws_max_size=4 * config.max_ws_message_bytes,
                ws_ping_interval=None,
                timeout_graceful_shutdown=5,
                **uvicorn_options,  # type: ignore[arg-type]
            )
        )

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.kairos
        return state

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        try:
            # Before uvicorn's lifespan, which would log a traceback: a typed startup error
            # (an unreachable Dask scheduler) ends the start quietly, kept in state.startup_error.
            await self.state.start()
        except KairosError:
            self.should_exit = True
            return
        except Exception:
            pass  # kept in state.startup_error: the lifespan raises it, and uvicorn reports it
        await super().startup(sockets)  # type: ignore[arg-type]
        if (
            self.kairos_config.api_keys_file is not None
            and hasattr(signal, "SIGHUP")
            and threading.current_thread() is threading.main_thread()
        ):
            # `kill -HUP` re-reads the API keys file at once (it is also polled).
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: self.state.reload_keys(force=True)
            )

    async def shutdown(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await self.state.broadcast_reconnect()
        if self.state.connections:
            await asyncio.sleep(0.25)  # let the writers flush the notification
        await super().shutdown(sockets)  # type: ignore[arg-type]
