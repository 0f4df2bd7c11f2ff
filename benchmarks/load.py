"""``scripts/bench load``: many concurrent async clients against one real ``kairos serve``.

N clients (each its own ``KairosClient``, so its own connections and WebSocket), on loopback
only, loop until the deadline over three operations: ``arun`` of a short simulation, an
``astream_run`` of one read to its end, and a query (``simulation.get`` of the client's last run,
or ``simulation.list``). The server runs with a rate limit low enough that it answers some calls
429: the clients' retries (``Retry-After``) absorb them, and the report counts them apart.

Reported: operations per second, p50/p99 latency per operation kind, the rate-limited answers
absorbed by retries, errors (anything a caller saw raised; it must be 0), and the RSS of the
server and its workers (``/proc/<pid>/status`` VmRSS) at the start and the end. It stops by
itself: no operation starts after the deadline, and each is bounded by the client's timeouts.

    scripts/bench load [--clients 200] [--seconds 60] [--ticks 300]
    scripts/bench load --db postgresql://... --replicas 2   (replicas sharing one database;
                                                             client i talks to replica i % N)

``tests/reliability/test_load.py`` runs the short form (50 clients, ~10 s) with asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import KairosError, RateLimitError

OPERATIONS = ("run", "stream", "query")


def scenario(name: str, seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(name, seed=seed)
        .add_model(
            name="model",
            capability_index=300 + seed % 600,
            alignment_score=70,
            guardrail_coverage=60,
        )
        .add_event(3, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` plus its children (the worker processes), in KiB."""
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    total = 0
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class _RateLimitCounter(logging.Handler):
    """Counts the client's INFO records of a retry (or re-subscription) after a 429."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(("retrying", "re-subscribing")) and (
            "TOO_MANY_REQUESTS" in message or "429" in message or "rate limit" in message
        ):
            self.count += 1


@dataclass
class LoadReport:
    clients: int
    seconds: float
    ticks: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in OPERATIONS})
    errors: list[str] = field(default_factory=list)
    rate_limit_errors: int = 0
    rate_limited_retries: int = 0
    rss_start_kib: int = 0
    rss_end_kib: int = 0
    elapsed: float = 0.0
    server_problems: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def per_second(self) -> float:
        return self.operations / self.elapsed if self.elapsed else 0.0

    @staticmethod
    def percentile(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def figures(self) -> dict[str, Any]:
        """The report as one JSON-ready object (stable keys)."""
        return {
            "clients": self.clients,
            "seconds": round(self.elapsed, 2),
            "ticks": self.ticks,
            "operations": self.operations,
            "operations_per_s": round(self.per_second, 1),
            "latency_s": {
                name: {
                    "count": len(values),
                    "p50": self.percentile(values, 0.5) if values else None,
                    "p99": self.percentile(values, 0.99) if values else None,
                }
                for name, values in self.latencies.items()
            },
            "errors": len(self.errors),
            "rate_limit_errors": self.rate_limit_errors,
            "rate_limited_retries": self.rate_limited_retries,
            "server_rss_start_kib": self.rss_start_kib,
            "server_rss_end_kib": self.rss_end_kib,
            "server_problems": len(self.server_problems),
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.clients} async clients for {self.elapsed:.1f} s on loopback "
            f"(simulations of {self.ticks} ticks)",
            f"  operations           {self.operations:8d}   ({self.per_second:.1f} /s)",
        ]
        for kind in OPERATIONS:
            values = self.latencies[kind]
            p50, p99 = self.percentile(values, 0.5), self.percentile(values, 0.99)
            out.append(
                f"  {kind:<8} {len(values):6d} ops   p50 {p50 * 1e3:8.1f} ms"
                f"   p99 {p99 * 1e3:8.1f} ms"
            )
        out += [
            f"  429s absorbed by retries  {self.rate_limited_retries}",
            f"  rate-limit errors raised  {self.rate_limit_errors}",
            f"  other errors              {len(self.errors)}",
            f"  server RSS (with workers) {self.rss_start_kib / 1024:.1f} MiB at start, "
            f"{self.rss_end_kib / 1024:.1f} MiB at the end",
        ]
        out += [f"    {e}" for e in self.errors[:10]]
        if self.server_problems:
            out.append(f"  server log warnings/errors {len(self.server_problems)}, first:")
            out += [f"    {line}" for line in self.server_problems[:5]]
        return out


async def _client(url: str, index: int, deadline: float, ticks: int, report: LoadReport) -> None:
    async with KairosClient(
        url, max_retries=10, retry_backoff=0.05, timeout=60, engine_version="1.4.4"
    ) as client:
        last_id: str | None = None
        n = 0
        while time.monotonic() < deadline:
            kind = OPERATIONS[(index + n) % len(OPERATIONS)]
            n += 1
            started = time.monotonic()
            try:
                if kind == "run":
                    source = scenario(f"load-{index}-{n}", index * 1000 + n)
                    trace = await client.arun(source, ticks)
                    assert len(trace) == ticks
                    last_id = trace.metadata.simulation_id
                elif kind == "stream":
                    count = 0
                    async for step in client.astream_run(
                        scenario(f"load-s-{index}-{n}", index * 1000 + n), ticks
                    ):
                        count += 1
                        assert step.t == count
                    assert count == ticks
                elif last_id is not None:
                    record = await client.simulation.aget(id=last_id)
                    assert record.status == "completed"
                else:
                    await client.simulation.alist(limit=10)
            except RateLimitError:
                report.rate_limit_errors += 1
                continue
            except (KairosError, AssertionError) as exc:
                report.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
                continue
            report.latencies[kind].append(time.monotonic() - started)


async def drive(
    urls: list[str], server_pids: list[int], clients: int, seconds: float, ticks: int
) -> LoadReport:
    """Run the load against the servers at ``urls`` (client ``i`` talks to ``urls[i % N]``),
    whose processes are ``server_pids``."""
    report = LoadReport(clients, seconds, ticks)
    counter = _RateLimitCounter()
    logger = logging.getLogger("kairos.client")
    old_level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    try:
        for url in urls:
            async with KairosClient(url, max_retries=10, engine_version="1.4.4") as warm:
                # start the workers (spawned on demand) so the start RSS includes them
                await asyncio.gather(*(warm.arun(scenario("warm-up", n), ticks) for n in range(4)))
        report.rss_start_kib = sum(rss_kib(pid) for pid in server_pids)
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(urls[i % len(urls)], i, deadline, ticks, report) for i in range(clients))
        )
        report.elapsed = time.monotonic() - started
        report.rss_end_kib = sum(rss_kib(pid) for pid in server_pids)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(old_level)
    report.rate_limited_retries = counter.count
    return report


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serve(
    workdir: Path, problems: list[str], *options: str, db: str | None = None, name: str = "serve"
) -> Iterator[tuple[str, int]]:
    """A ``kairos serve`` subprocess on 127.0.0.1 (its own session), always stopped; the
    warnings and errors of its log are put in ``problems`` when it has stopped. ``db``: a
    PostgreSQL DSN (default: a SQLite file in ``workdir``)."""
    port = _free_port()
    kairos = Path(sys.executable).parent / "kairos"
    command = [str(kairos)] if kairos.exists() else [sys.executable, "-m", "kairos"]
    log_path = workdir / f"{name}.log"
    db = db or str(workdir / "load.db")
    args = [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*args, *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while "Uvicorn running" not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"kairos serve did not start:\n{log_path.read_text()}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            problems += [
                line
                for line in log_path.read_text(errors="replace").splitlines()
                if "WARNING" in line or "ERROR" in line or "Traceback" in line
            ]
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def run_load(
    clients: int,
    seconds: float,
    ticks: int,
    rate: float,
    burst: int,
    workers: int,
    *,
    db: str | None = None,
    replicas: int = 1,
) -> LoadReport:
    """The load against ``replicas`` servers (more than one needs ``db``, a PostgreSQL DSN
    they share), each with ``workers`` workers and the rate limit (shared on PostgreSQL)."""
    if replicas > 1 and db is None:
        raise ValueError("several replicas need a shared PostgreSQL database (db=...)")
    with tempfile.TemporaryDirectory(prefix="kairos-load-") as tmp:
        options = ["--workers", str(workers), "--rate-limit", str(rate), "--rate-burst", str(burst)]
        problems: list[str] = []
        with contextlib.ExitStack() as servers:
            started = [
                servers.enter_context(serve(Path(tmp), problems, *options, db=db, name=f"r{n}"))
                for n in range(replicas)
            ]
            urls, pids = [u for u, _ in started], [p for _, p in started]
            report = asyncio.run(drive(urls, pids, clients, seconds, ticks))
        report.server_problems = problems
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100.0, help="server rate limit, req/s")
    parser.add_argument("--burst", type=int, default=50, help="server rate-limit burst")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--db", default=None, help="a postgresql:// DSN (default: SQLite)")
    parser.add_argument("--replicas", type=int, default=1, help="servers sharing --db")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report = run_load(
        args.clients,
        args.seconds,
        args.ticks,
        args.rate,
        args.burst,
        args.workers,
        db=args.db,
        replicas=args.replicas,
    )
    print(json.dumps(report.figures(), indent=2) if args.json else "\n".join(report.lines()))
    if report.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
