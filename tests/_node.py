"""Node.js and server processes for the tests that talk to official tRPC code.

* :func:`node_tools`: the ``tests/node`` folder with its npm packages installed (``npm ci`` when
  ``node_modules`` lacks one), or a skip with a clear reason where ``node``/``npm`` are absent.
* :class:`KairosServe`: a real ``kairos serve`` subprocess on a free port.
* :class:`NodeFixtureServer`: ``tests/node/fixture_server.mjs``, a server built with the official
  ``@trpc/server`` 11.25.2 in the shape of the KAIROS API (trpc-protocol.md section 8).
* :func:`trpc_fixture_server`: a pytest fixture yielding a running :class:`NodeFixtureServer`;
  client tests use it with ``from tests._node import trpc_fixture_server  # noqa: F401``.

Processes log to files (never to pipes nobody reads), run in their own session, and are always
stopped: SIGTERM first, then SIGKILL of their process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
NODE_PACKAGES = ("ajv", "@trpc/client", "@trpc/server", "ws", "zod")


def node_tools() -> Path:
    """``tests/node``, ready to run; skips the test where Node.js or npm is not installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: this test runs official tRPC code on Node.js")
    if not all(
        (NODE_DIR / "node_modules" / name / "package.json").exists() for name in NODE_PACKAGES
    ):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    return NODE_DIR


def kairos_command() -> list[str]:
    """The ``kairos`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "kairos"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kairos"]


class _Process:
    """A subprocess logging to a file, started in its own session."""

    def __init__(self, args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None):
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in the process's output, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.args[0]} exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"no {pattern!r} within {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.02)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL of the process group after ``timeout``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # workers left behind by a killed server share its process group (its own session)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        return self.process.returncode


class KairosServe(_Process):
    """``kairos serve`` on 127.0.0.1 with a free port and its own database."""

    def __init__(self, workdir: Path, *options: str, timeout: float = 30.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "kairos.db"
        self.serve_args = [*kairos_command(), "serve", "--db", str(self.db), *options]
        super().__init__([*self.serve_args, "--port", "0"], workdir / "serve.log")
        match = self.wait_for(r"Uvicorn running on http://([\d.]+):(\d+)", timeout)
        self.port = int(match.group(2))
        self.url = f"http://127.0.0.1:{self.port}"


class NodeFixtureServer(_Process):
    """``tests/node/fixture_server.mjs``: official ``@trpc/server`` at ``<url>/trpc`` (HTTP)
    and ``<ws_url>`` (WebSocket, same port). ``env`` takes the fixture's variables, e.g.
    ``FIXTURE_KEEPALIVE_PING_MS`` (see the script's header)."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None, timeout: float = 20.0):
        node_dir = node_tools()
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            ["node", str(node_dir / "fixture_server.mjs")], workdir / "fixture.log", env=env
        )
        self.port = int(self.wait_for(r"READY (\d+)", timeout).group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.trpc_url = f"{self.url}/trpc"
        self.ws_url = f"ws://127.0.0.1:{self.port}/trpc"

    def broadcast_reconnect(self) -> None:
        """Have the server send ``{"id":null,"method":"reconnect"}`` to every open socket."""
        self.signal(signal.SIGUSR2)


@contextlib.contextmanager
def running(server: _Process) -> Iterator[_Process]:
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def trpc_fixture_server() -> Iterator[NodeFixtureServer]:
    """The official-tRPC fixture server (module scope), stopped afterwards."""
    node_tools()
    with tempfile.TemporaryDirectory(prefix="trpc-fixture-") as tmp:
        server = NodeFixtureServer(Path(tmp))
        try:
            yield server
        finally:
            server.stop()
