"""What one running server holds: settings, keys and rate limits, the store, the worker pool,
the service and the open sockets. The endpoints (``_http_endpoint``, ``_ws_endpoint``) and the
app (``_app``) all reach the server through it; it imports neither endpoint."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kairos.server._auth import KeyRing, RateLimiter
from kairos.server._config import ServerConfig
from kairos.server._executor import Executor, start_executor
from kairos.server._pool import Notifier
from kairos.server._service import Service
from kairos.server._storage import Store

if TYPE_CHECKING:
    from kairos.server._sse_endpoint import SSEStream
    from kairos.server._ws_endpoint import Connection

log = logging.getLogger("kairos.server")


class ServerState:
    """Everything one running server holds: settings, store, workers, service, sockets."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.keyring = KeyRing(config.api_keys, config.api_keys_file)
        self.limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.connections: set[Connection] = set()
        self.sse_streams: set[SSEStream] = set()
        self.notifier = Notifier()
        self.startup_error: BaseException | None = None
        """Why :meth:`start` failed (e.g. an unreachable Dask scheduler), for the embedder."""
        self._store: Store | None = None
        self._pool: Executor | None = None
        self._service: Service | None = None

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the server is not started")
        return self._service

    @property
    def started(self) -> bool:
        return self._service is not None

    @property
    def executor(self) -> Executor:
        if self._pool is None:
            raise RuntimeError("the server is not started")
        return self._pool

    async def start(self) -> None:
        try:
            self._store = Store(Path(self.config.db_path))
            self._pool = await start_executor(self.config, self._store, self.notifier.notify)
        except BaseException as exc:
            self.startup_error = exc
            if self._store is not None:
                self._store.close()
                self._store = None
            raise
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
