"""The reference server as an ASGI application (Starlette), and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from kairos.server._auth import KeyRing, RateLimiter
from kairos.server._config import ServerConfig
from kairos.server._http import http_endpoint
from kairos.server._pool import Notifier, WorkerPool
from kairos.server._service import Service
from kairos.server._storage import Store
from kairos.server._ws import Connection, ws_endpoint

log = logging.getLogger("kairos.server")

HTTP_METHODS = ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ServerState:
    """Everything one running server holds: settings, store, workers, service, sockets."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.keyring = KeyRing(config.api_keys)
        self.limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.connections: set[Connection] = set()
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

    def broadcast_reconnect(self) -> None:
        for connection in list(self.connections):
            connection.reconnect()

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.stop()
        if self._store is not None:
            self._store.close()


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The reference server's ASGI app: HTTP under ``/trpc/<path>``, WebSocket at ``/trpc``."""
    state = ServerState(config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = Starlette(
        routes=[
            Route("/trpc/{path:path}", http_endpoint, methods=HTTP_METHODS),
            WebSocketRoute("/trpc", ws_endpoint),
        ],
        lifespan=lifespan,
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

    async def shutdown(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self.state.broadcast_reconnect()
        if self.state.connections:
            await asyncio.sleep(0.25)  # let the writers flush the notification
        await super().shutdown(sockets)  # type: ignore[arg-type]
