"""The short form of ``scripts/bench load`` (benchmarks/load.py): 50 concurrent async clients
for about 10 s against one real ``kairos serve`` with a deliberately low rate limit.

Asserts what must hold under load: no error other than deliberate rate limiting (which the
clients' retries absorb: it is visible in the count of 429s retried), every operation checked
(traces complete, streams in order), and the server's memory (with its workers) growing by no
more than a generous bound. The figures are printed (``pytest -s``); none is asserted as speed.
"""

from __future__ import annotations

from benchmarks.load import run_load

RSS_GROWTH_BOUND_KIB = 300 * 1024  # generous: a leak of a trace per operation would exceed it


def test_fifty_clients_for_ten_seconds() -> None:
    report = run_load(clients=50, seconds=10, ticks=300, rate=40, burst=20, workers=2)
    print("\n" + "\n".join(report.lines()))
    assert report.errors == []
    assert report.operations > 0 and all(report.latencies[k] for k in report.latencies)
    assert report.rate_limited_retries > 0, "the rate limit was meant to be visible"
    assert report.rss_start_kib > 0
    assert report.rss_end_kib - report.rss_start_kib < RSS_GROWTH_BOUND_KIB


def test_fifty_clients_on_two_replicas_sharing_postgres(postgres_dsn: str) -> None:
    """The same load spread over two replicas sharing one PostgreSQL database: client i talks
    to replica i % 2. The rate limit is one shared limit (the clients all come from 127.0.0.1),
    so it stays visible; nothing else may fail."""
    report = run_load(
        clients=50, seconds=10, ticks=300, rate=40, burst=20, workers=1, db=postgres_dsn, replicas=2
    )
    print("\n" + "\n".join(report.lines()))
    assert report.errors == []
    assert report.operations > 0 and all(report.latencies[k] for k in report.latencies)
    assert report.rate_limited_retries > 0, "the shared rate limit was meant to be visible"
    assert report.rss_end_kib - report.rss_start_kib < 2 * RSS_GROWTH_BOUND_KIB
