"""A real PostgreSQL server for the tests: Debian's ``postgresql`` binaries (``scripts/test``
installs them where missing), a fresh cluster made with ``initdb`` in a temporary directory,
listening on 127.0.0.1 on a free port, stopped at the end of the session.

As root (CI containers), the cluster runs as the ``postgres`` user the package creates: the
server refuses to run as root. Each test server gets a database of its own
(:meth:`PostgresCluster.new_database`).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

SKIP_REASON_ENV = "KAIROS_POSTGRES_SKIP_REASON"


def find_bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: Debian's newest, else what PATH has."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for directory in reversed(candidates):
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def unavailable_reason() -> str | None:
    """Why no PostgreSQL server can be started here, or None when one can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'kairos-sdk[postgres]')"
    if find_bindir() is None:
        return "PostgreSQL's initdb/pg_ctl not found (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One throwaway PostgreSQL server. ``dsn(dbname)`` connects as its superuser."""

    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        bindir = find_bindir()
        assert bindir is not None
        self._bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="kairos-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "kairos"
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid}
        self._counter = itertools.count(1)
        self._settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "max_connections": "300",
            **(settings or {}),
        }

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [str(self._bindir / tool), *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
            **self._run_as,
        )

    def start(self) -> PostgresCluster:
        self._pg(
            "initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip
        options = " ".join(
            f"-c {k}={v}" for k, v in {**self._settings, "port": str(self.port)}.items()
        )
        self._pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "kairos") -> str:
        """A fresh, empty database; its DSN."""
        import psycopg

        name = f"{prefix}_{next(self._counter)}_{os.getpid()}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "server.log").read_text().splitlines()[-lines:])
        return ""


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.05)
