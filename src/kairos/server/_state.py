"""What one running server holds: settings, keys and rate limits, the store, the worker pool,
the service and the open sockets. The endpoints (``_http_endpoint``, ``_ws_endpoint``) and the
app (``_app``) all reach the server through it; it imports neither endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from kairos.server._auth import KeyRing, RateLimiter
from kairos.server._config import ServerConfig
from kairos.server._executor import Executor, start_executor
from kairos.server._pool import Notifier
from kairos.server._service import Service
from kairos.server._store import SimulationStore, open_store

if TYPE_CHECKING:
    from kairos.server._pg_store import ProgressListener, SharedRateLimiter
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
        self._store: SimulationStore | None = None
        self._pool: Executor | None = None
        self._service: Service | None = None
        self._listener: ProgressListener | None = None
        self._shared_limiter: SharedRateLimiter | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self.replica_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        """This server's name among the replicas of a shared database."""
        self.startup_error: BaseException | None = None
        """Why :meth:`start` failed (a database it cannot use, an unreachable Dask scheduler),
        for ``ServerThread.start`` to raise."""

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
        location = self.config.db_url or Path(self.config.db_path)
        try:
            self._store = store = open_store(location, replica_id=self.replica_id)
            if store.shared:
                self._share(store.location)
            self._pool = await start_executor(self.config, store, self.notifier.notify)
        except BaseException as exc:
            self.startup_error = exc
            if self._store is not None:
                self._store.close()
                self._store = None
            raise
        self._service = Service(self.config, store, self._pool, self.notifier)
        resumed = self._service.resume_unfinished()
        if resumed:
            log.info("resuming %d simulation(s) left unfinished by a previous run", resumed)
        if store.shared:
            self._lease_task = asyncio.create_task(self._keep_lease(), name="kairos-lease")

    def _share(self, dsn: str) -> None:
        """On a shared database: progress notifications from every replica, and rate limits
        counted in the database."""
        from kairos.server._pg_store import ProgressListener, SharedRateLimiter

        loop = asyncio.get_running_loop()

        def wake(simulation_id: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.notifier.notify, simulation_id)

        self._listener = ProgressListener(dsn, wake)
        self._listener.start()
        if self.config.rate_limit is not None:
            self.limiter = self._shared_limiter = SharedRateLimiter(dsn, self.config.rate_limit)

    async def _keep_lease(self) -> None:
        """Renew this replica's lease and take over the simulations of replicas that died."""
        assert self._store is not None and self._pool is not None
        while True:
            await asyncio.sleep(self.config.lease_seconds / 4)
            try:
                claimed = await asyncio.to_thread(
                    self._store.claim_unfinished, self.config.lease_seconds
                )
                for record in claimed:
                    self._pool.submit(record.id)
                if claimed:
                    log.info("took over %d simulation(s) from a replica that stopped", len(claimed))
                if self._shared_limiter is not None:
                    await asyncio.to_thread(self._shared_limiter.prune)
            except Exception:  # never let the lease die: a missed beat is retried
                log.exception("renewing the replica lease failed")

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
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
        if self._pool is not None:
            await self._pool.stop()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.stop)
        if self._shared_limiter is not None:
            with contextlib.suppress(Exception):
                self._shared_limiter.close()
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.release()  # another replica takes over at once
            self._store.close()
