"""Shared fixtures of the reliability tests: real ``kairos serve`` subprocesses (restartable on
the same port and database), a fault proxy in front of them, scenarios and engine hashes."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos import engine
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from tests._node import _Process, kairos_command
from tests.client.faults import FaultProxy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reliability_scenario(name: str, seed: int = 7, capability: int = 400) -> AISafetyScenario:
    """A small valid scenario with one event (the one the client tests use)."""
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
        )
        .add_event(3, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def step_bytes(step: Any) -> bytes:
    """The canonical bytes of a step, whether a client ``TraceStep`` or an engine dict."""
    if not isinstance(step, dict):
        step = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return engine.canonical_step_bytes(step)


class TraceHasher:
    """Hashes steps one at a time (constant memory) and checks ``t`` runs 1, 2, 3, ..."""

    def __init__(self) -> None:
        import hashlib

        self._digest = hashlib.sha256()
        self.count = 0
        self.out_of_order: list[tuple[int, int]] = []

    def add(self, step: Any) -> None:
        self.count += 1
        t = step["t"] if isinstance(step, dict) else step.t
        if t != self.count and len(self.out_of_order) < 10:
            self.out_of_order.append((self.count, t))
        self._digest.update(step_bytes(step))

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@functools.lru_cache(maxsize=32)
def engine_sha256(name: str, seed: int, ticks: int, version: str = "1.4.4") -> str:
    """The SHA-256 of the engine's own trace of ``reliability_scenario(name, seed)``."""
    return engine.trace_sha256(
        engine.iter_steps(reliability_scenario(name, seed).to_wire(), ticks, version)
    )


class Serve(_Process):
    """``kairos serve`` on 127.0.0.1, on a given port and database (so it can be restarted as
    the same server). Stopped gracefully with :meth:`stop`, or killed with :meth:`kill`."""

    def __init__(self, workdir: Path, port: int, *options: str, timeout: float = 30.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "kairos.db"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        runs = len(list(workdir.glob("serve-*.log")))
        args = [*kairos_command(), "serve", "--host", "127.0.0.1", "--db", str(self.db)]
        super().__init__([*args, *options, "--port", str(port)], workdir / f"serve-{runs}.log")
        self.wait_for(r"Uvicorn running on http://", timeout)

    def worker_pids(self) -> list[int]:
        """The server's worker processes (its children)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in path.read_text().split()]
        return []

    def kill(self) -> None:
        """SIGKILL the server process alone (as the OOM killer would), and wait for it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)


def rss_kib(pids: Iterable[int]) -> int:
    """The summed VmRSS of ``pids`` in KiB (processes gone are counted as 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class ServeFactory:
    """Starts ``kairos serve`` processes and stops every one of them (and its workers) at the
    end of the test, whatever happened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Serve] = []

    def __call__(self, *options: str, port: int | None = None, name: str = "srv") -> Serve:
        server = Serve(self.root / name, port if port is not None else free_port(), *options)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            with contextlib.suppress(Exception):
                server.stop(timeout=5)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """A factory of real ``kairos serve`` subprocesses, all stopped after the test."""
    factory = ServeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def serve_proxy(serve: ServeFactory) -> Iterator[tuple[Any, FaultProxy]]:
    """One ``kairos serve`` (2 workers, no rate limit) behind a fresh fault proxy."""
    server = serve("--workers", "2", "--rate-limit", "0")
    proxy = FaultProxy(server.port)
    proxy.start()
    try:
        yield server, proxy
    finally:
        proxy.stop()
