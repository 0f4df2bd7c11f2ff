"""The embedded default: a reference server in this process when no URL is configured.

One server is shared by every client of the process that uses the default (a script that
makes several clients does not start several servers and worker pools). It runs on a free
127.0.0.1 port with SQLite in a temporary directory, no API key, no rate limit (it serves this
process only) and one worker per core; it stops when its last client closes, or at interpreter
exit for clients never closed (after those clients are closed: :mod:`._exit`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from ._exit import SERVER, at_exit

__all__ = ["acquire", "release"]

log = logging.getLogger("kairos.client")

_lock = threading.Lock()
_server: object | None = None
_tmp: tempfile.TemporaryDirectory[str] | None = None
_users = 0
_registered = False


def acquire() -> str:
    """Start the embedded server if needed and return its base URL."""
    global _server, _tmp, _users, _registered
    from kairos.server import ServerConfig, ServerThread

    with _lock:
        if _server is None:
            _tmp = tempfile.TemporaryDirectory(prefix="kairos-embedded-")
            config = ServerConfig(
                db_path=Path(_tmp.name) / "kairos.db",
                port=0,
                rate_limit=None,
                workers=max(1, os.cpu_count() or 1),
            )
            server = ServerThread(config)
            url = server.start()
            _server = server
            if not _registered:
                at_exit(SERVER, _shutdown)
                _registered = True
            log.info(
                "No url given and KAIROS_URL is not set: started the embedded KAIROS reference "
                "server at %s (SQLite in %s, %d workers)",
                url,
                _tmp.name,
                config.workers,
            )
        _users += 1
        assert isinstance(_server, ServerThread)
        return _server.url


def release() -> None:
    """One client stopped using the server; the last one stops it."""
    global _users
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0:
            _stop_locked()


def _stop_locked() -> None:
    global _server, _tmp
    from kairos.server import ServerThread

    server, tmp = _server, _tmp
    _server = _tmp = None
    if isinstance(server, ServerThread):
        server.stop()
    if tmp is not None:
        tmp.cleanup()


def _shutdown() -> None:
    with _lock:
        _stop_locked()
