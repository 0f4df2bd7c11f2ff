"""The reference server as an ASGI application (Starlette), and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from kairos._trpc import TRPCError
from kairos._trpc.http_server import error_response
from kairos.server._auth import KeyRing, RateLimiter
from kairos.server._config import ServerConfig
from kairos.server._http import http_endpoint
from kairos.server._pool import Notifier, WorkerPool
from kairos.server._protocol import guarded_protocol
from kairos.server._service import Service
from kairos.server._sse import SSEStream
from kairos.server._storage import Store
from kairos.server._ws import Connection, ws_endpoint

log = logging.getLogger("kairos.server")

HTTP_METHODS = ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ServerState:
    """Everything one running server holds: settings, store, workers, service, sockets."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.keyring = KeyRing(config.api_keys, config.api_keys_file)
        self.limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.connections: set[Connection] = set()
        self.sse_streams: set[SSEStream] = set()
        self.notifier = Notifier()
        self._store: Store | None = None
        self._pool: WorkerPool | None = None
        self._service: Service | None = None

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the server is not started")
        return self._service

    async def start(self) -> None:
        self._store = Store(Path(self.config.db_path))
        self._pool = WorkerPool(self._store, self.config.workers, self.notifier.notify)
        self._pool.start()
        self._service = Service(self.config, self._store, self._pool, self.notifier)
        resumed = self._service.resume_unfinished()
        if resumed:
            log.info("resuming %d simulation(s) left unfinished by a previous run", resumed)

    def reload_keys(self, *, force: bool = False) -> bool:
        """Re-read the API keys file if it changed; close the sockets of revoked keys."""
        if not self.keyring.reload_if_changed(force=force):
            return False
        for connection in list(self.connections):
            connection.check_key()
        for stream in list(self.sse_streams):
            stream.check_key()
        return True

    async def watch_keys(self) -> None:
        while True:
            await asyncio.sleep(self.config.api_keys_poll_seconds)
            try:
                self.reload_keys()
            except Exception:  # never let the watcher die
                log.exception("checking the API keys file failed")

    async def broadcast_reconnect(self, timeout: float = 1.0) -> None:
        """Send tRPC's reconnect notification to every socket, concurrently, and end every SSE
        stream without ``return`` (its client reconnects and resumes)."""
        for stream in list(self.sse_streams):
            stream.end()
        await asyncio.gather(*(c.reconnect(timeout) for c in list(self.connections)))

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.stop()
        if self._store is not None:
            self._store.close()


async def not_found(request: Request, exc: Exception) -> Response:
    """Outside ``/trpc``: tRPC's error shape too, so every answer of the server is one."""
    error = TRPCError("NOT_FOUND", "Not found: the tRPC endpoint is /trpc/<procedure path>")
    spec = error_response(error)
    return Response(spec.body, spec.status, headers=dict(spec.headers))


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The reference server's ASGI app: HTTP under ``/trpc/<path>``, WebSocket at ``/trpc``."""
    state = ServerState(config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
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
