"""Running a reference server on a background thread, for the client's embedded default and for
tests: real HTTP and WebSocket on a free loopback port, in this process."""

from __future__ import annotations

import logging
import threading
import time

from kairos._closing import ClosedOnExit
from kairos.errors import KairosError
from kairos.server._config import ServerConfig

log = logging.getLogger("kairos.server")


class ServerThread(ClosedOnExit):
    """A uvicorn server on a daemon thread. ``start()`` returns once it accepts connections."""

    def __init__(self, config: ServerConfig, *, startup_timeout: float = 30.0) -> None:
        from kairos.server._app import Server

        self.config = config
        self._startup_timeout = startup_timeout
        self._server = Server(config, log_level="warning")
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not running")
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> str:
        """Start serving and return the base URL (``http://127.0.0.1:PORT``)."""
        if self._thread is not None:
            return self.url
        self._thread = threading.Thread(target=self._serve, name="kairos-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                error = self._server.state.startup_error
                if isinstance(error, KairosError):
                    raise error  # e.g. an unreachable Dask scheduler: typed, in one line
                raise RuntimeError("the embedded KAIROS server failed to start (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the embedded KAIROS server did not start in time")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = int(sockets[0].getsockname()[1])
        return self.url

    def _serve(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when the startup fails; start() raises why
            if self._server.state.startup_error is None:
                raise

    def stop(self) -> None:
        """Shut down gracefully (streams are told to reconnect; workers stop; records stay)."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._thread = None

    def close(self) -> None:
        """The same as :meth:`stop` (leaving a ``with`` block calls it)."""
        self.stop()

    def __enter__(self) -> ServerThread:
        self.start()
        return self
