"""What one client (or one ``with_options`` copy of it) is configured to do, resolved once.

Everything here is plain data: the call machine reads it to build requests and decide retries,
the drivers read it for timeouts, and ``repr`` shows it without the API key.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kairos._trpc.retry import RetryPolicy

__all__ = ["ClientSettings", "user_agent"]

ENV_URL = "KAIROS_URL"
ENV_API_KEY = "KAIROS_API_KEY"


def user_agent() -> str:
    """``kairos-sdk/<version> python/<version>``, sent with every request and WebSocket."""
    from kairos import __version__

    return f"kairos-sdk/{__version__} python/{platform.python_version()}"


def env_url() -> str | None:
    """``KAIROS_URL`` when set and not blank."""
    value = os.environ.get(ENV_URL, "").strip()
    return value or None


def env_api_key() -> str | None:
    """``KAIROS_API_KEY`` when set and not blank."""
    value = os.environ.get(ENV_API_KEY, "").strip()
    return value or None


@dataclass(frozen=True)
class ClientSettings:
    """The resolved configuration of a client.

    ``url`` is the server's base URL without ``/trpc``; ``timeout`` bounds each HTTP request
    and each WebSocket opening; ``stream_idle_timeout`` bounds the silence of one stream
    (None: no bound); ``retry_create_on_connection_error`` allows ``simulation.create`` to be
    sent again after a connection error or timeout (safe: it always carries an idempotency key).
    """

    url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    engine_version: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    retry_create_on_connection_error: bool = False
    stream_idle_timeout: float | None = 300.0
    max_subscriptions_per_socket: int = 64
    default_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {self.url!r}")
        if not (self.timeout > 0):
            raise ValueError(f"timeout must be > 0 seconds, not {self.timeout!r}")
        if self.stream_idle_timeout is not None and not (self.stream_idle_timeout > 0):
            raise ValueError("stream_idle_timeout must be > 0 seconds or None")
        if self.max_subscriptions_per_socket < 1:
            raise ValueError("max_subscriptions_per_socket must be at least 1")

    @property
    def trpc_url(self) -> str:
        """The tRPC base for HTTP procedures: ``<url>/trpc``."""
        return self.url.rstrip("/") + "/trpc"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint (``ws://`` or ``wss://``), asking for connectionParams when
        there is a key to send in them."""
        base = self.trpc_url
        base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base[7:]
        return base + "?connectionParams=1" if self.api_key else base

    def headers(self) -> dict[str, str]:
        """The headers every HTTP request and WebSocket handshake carries."""
        headers = {"user-agent": user_agent(), "accept": "application/json"}
        headers.update({k.lower(): v for k, v in self.default_headers.items()})
        if self.engine_version is not None:
            headers["x-kairos-engine-version"] = self.engine_version
        if self.api_key is not None:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def connection_params(self) -> dict[str, str] | None:
        """The connectionParams frame's data: the key, as tRPC v11 clients send it."""
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else None

    def replace(self, **changes: Any) -> ClientSettings:
        """A copy with some fields changed (``with_options``)."""
        return replace(self, **changes)
