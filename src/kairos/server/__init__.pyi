# The public names of kairos.server, listed once: type checkers read this stub instead of
# __init__.py, and the package reads it at run time (kairos._deferred: keep to its form).
from kairos.server._app import Server as Server
from kairos.server._app import create_app as create_app
from kairos.server._background import ServerThread as ServerThread
from kairos.server._config import ServerConfig as ServerConfig
from kairos.server._config import default_db_path as default_db_path
from kairos.server._executor import ExecutorError as ExecutorError
from kairos.server._store import StorageError as StorageError
