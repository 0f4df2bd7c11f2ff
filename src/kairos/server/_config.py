"""The reference server's settings, with defaults suited to a laptop and CI alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kairos.server._auth import RateLimit

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
    api_keys: Mapping[str, str] = field(default_factory=dict)
    """API key -> organization. Empty: no authentication, and loopback-only binding."""
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT
    """Requests per second per key (per client address without keys); None turns it off."""
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    """Worker processes running simulations."""
    max_ticks: int = 1_000_000
    max_body_bytes: int = 1 << 20
    max_ws_message_bytes: int = 1 << 20
    max_subscriptions_per_connection: int = 100
    max_batch_size: int = 64
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
            "max_batch_size",
            "chunk_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.api_keys == {} and not _is_loopback(self.host):
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
