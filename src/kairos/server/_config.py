"""The reference server's settings, with defaults suited to a laptop and CI alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kairos.engine import DEFAULT_MAX_TICKS
from kairos.server._auth import RateLimit
from kairos.server._executor import check_executor

DEFAULT_RATE_LIMIT = RateLimit(rate=50.0, burst=200)


def default_db_path() -> Path:
    """``kairos.db`` in the user's data directory (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("kairos-sdk", appauthor=False)) / "kairos.db"


@dataclass(frozen=True)
class ServerConfig:
    """How a reference server runs. Every limit answers with a clear error when exceeded."""

    host: str = "127.0.0.1"
    port: int = 8787
    db_path: Path = field(default_factory=default_db_path)
    """The SQLite file (the embedded default); unused when ``db_url`` is set."""
    db_url: str | None = None
    """A ``postgresql://`` DSN: simulations live in PostgreSQL, and several servers (replicas)
    may share it. None: the SQLite file at ``db_path``."""
    lease_seconds: float = 10.0
    """On a shared database: a replica whose heartbeat is older than this is taken for dead,
    and the others resume its unfinished simulations. Heartbeats come every quarter of it."""
    api_keys: Mapping[str, str] = field(default_factory=dict)
    """API key -> organization. Empty: no authentication, and loopback-only binding."""
    api_keys_file: Path | None = None
    """A file of ``[ORG=]KEY`` lines, re-read when it changes: removing a key revokes it (its
    HTTP requests are refused and its WebSockets closed) without a restart."""
    api_keys_poll_seconds: float = 1.0
    """How often the API keys file is checked for changes."""
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT
    """Requests per second per key (per client address without keys); None turns it off."""
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    """Worker processes running simulations (with the local executor)."""
    executor: str = "local"
    """Where simulations run: ``"local"`` (``workers`` processes on this machine) or the address
    of a Dask scheduler (``tcp://scheduler:8786``), whose cluster computes them."""
    executor_timeout_seconds: float = 10.0
    """How long to try reaching the Dask scheduler when the server starts."""
    max_ticks: int = DEFAULT_MAX_TICKS
    max_body_bytes: int = 1 << 20
    max_ws_message_bytes: int = 1 << 20
    max_subscriptions_per_connection: int = 100
    max_sse_streams_per_key: int = 100
    """Open SSE subscriptions per API key (per client address without keys): each is its own
    HTTP connection, so this is the SSE counterpart of the per-socket subscription limit."""
    sse_ping_seconds: float = 5.0
    """An SSE stream idle this long gets a ``ping`` event (keep-alive through proxies)."""
    sse_reconnect_after_inactivity_seconds: float = 20.0
    """Told to SSE clients in the ``connected`` event: a stream silent this long (no value, no
    ping) is re-opened by the official client with its last event id."""
    sse_max_duration_seconds: float | None = None
    """End an SSE stream after this long, without ``return``, so that the client reconnects and
    resumes (tRPC's ``sse.maxDurationMs``); None: no limit."""
    max_batch_size: int = 64
    max_calls_in_flight_per_connection: int = 64
    """Queries and mutations one WebSocket runs at once; past it the socket is not read until
    one finishes (backpressure), so a client that never reads its answers cannot grow the
    server's memory."""
    header_timeout_seconds: float = 30.0
    """A connection must send a request's complete headers within this time (from connecting,
    or from the previous response), or it is closed: a slow-loris client holds nothing."""
    body_timeout_seconds: float = 60.0
    """A request body must arrive completely within this time (408 TIMEOUT otherwise)."""
    chunk_steps: int = 256
    """Steps per stored chunk and per stream event (at most)."""
    stream_poll_seconds: float = 0.5
    """How long a stream waits for a progress notification before re-reading the store."""
    dev: bool = False
    """Development mode: error data carries stack traces."""

    def __post_init__(self) -> None:
        for name in (
            "workers",
            "max_ticks",
            "max_body_bytes",
            "max_ws_message_bytes",
            "max_subscriptions_per_connection",
            "max_sse_streams_per_key",
            "max_batch_size",
            "max_calls_in_flight_per_connection",
            "chunk_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "api_keys_poll_seconds",
            "header_timeout_seconds",
            "body_timeout_seconds",
            "sse_ping_seconds",
            "sse_reconnect_after_inactivity_seconds",
            "executor_timeout_seconds",
            "lease_seconds",
        ):
            value = getattr(self, name)
            if not (value > 0 and value < float("inf")):
                raise ValueError(f"{name} must be a positive number of seconds")
        check_executor(self.executor)
        if self.db_url is not None and not self.db_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("db_url must be a postgresql:// DSN")
        if self.sse_max_duration_seconds is not None and not self.sse_max_duration_seconds > 0:
            raise ValueError("sse_max_duration_seconds must be a positive number of seconds")
        if self.sse_ping_seconds >= self.sse_reconnect_after_inactivity_seconds:
            # as tRPC refuses: the client would reconnect between two pings
            raise ValueError(
                "sse_ping_seconds must be less than sse_reconnect_after_inactivity_seconds"
            )
        if self.api_keys == {} and self.api_keys_file is None and not _is_loopback(self.host):
            raise ValueError(
                f"refusing to serve on {self.host} without API keys: bind to 127.0.0.1 "
                "or configure keys (--api-key)"
            )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
