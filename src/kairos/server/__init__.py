"""kairos.server: the reference server, speaking the KAIROS API over the tRPC v11 wire protocol.

``kairos serve`` runs it standalone; :class:`ServerThread` runs it on a background thread (the
client's embedded default, and the test suite's server); :func:`create_app` gives the ASGI app
for any ASGI server.
"""

from kairos._deferred import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kairos.server._app import Server, create_app
    from kairos.server._background import ServerThread
    from kairos.server._config import ServerConfig, default_db_path
    from kairos.server._executor import ExecutorError
    from kairos.server._store_api import StorageError

__all__ = [
    "ExecutorError",
    "Server",
    "ServerConfig",
    "ServerThread",
    "StorageError",
    "create_app",
    "default_db_path",
]

if not TYPE_CHECKING:  # type checkers read the imports above, not a catch-all
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "kairos.server._app": "Server create_app",
            "kairos.server._background": "ServerThread",
            "kairos.server._config": "ServerConfig default_db_path",
            "kairos.server._executor": "ExecutorError",
            "kairos.server._store_api": "StorageError",
        },
    )
