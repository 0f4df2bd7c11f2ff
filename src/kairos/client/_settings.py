"""What one client (or one ``with_options`` copy of it) is configured to do, resolved once.

Everything here is plain data: the call machine reads it to build requests and decide retries,
the drivers read it for timeouts, and ``repr`` shows it without the API key.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import httpx
import pydantic
from pydantic import TypeAdapter

from kairos._arguments import Arguments, describe
from kairos._trpc.retry import RetryPolicy
from kairos_api import EngineVersionString

__all__ = ["STREAM_TRANSPORTS", "ClientSettings", "user_agent"]

STREAM_TRANSPORTS = ("auto", "ws", "sse")
"""How streams travel: ``"ws"`` WebSocket, ``"sse"`` Server-Sent Events, ``"auto"`` WebSocket
unless the server (or a proxy) refuses the upgrade, then SSE."""

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
    ``stream_transport`` is one of :data:`STREAM_TRANSPORTS`.
    """

    url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    engine_version: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    retry_create_on_connection_error: bool = False
    stream_idle_timeout: float | None = 300.0
    max_subscriptions_per_socket: int = 64
    stream_transport: str = "auto"
    default_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        args = Arguments("KairosClient")
        _check_fields(args, {f.name: getattr(self, f.name) for f in fields(self)})
        args.check()

    @classmethod
    def from_options(cls, where: str, **options: Any) -> ClientSettings:
        """Settings from the keyword arguments of ``KairosClient(...)`` (``max_retries`` and
        ``retry_backoff`` instead of ``policy``); every bad argument is reported at once as a
        :class:`~kairos.errors.ValidationError` naming it."""
        args = Arguments(where)
        values = _check_options(args, options)
        _check_fields(args, values)
        args.check()
        return cls(**values)

    def with_options(self, where: str, **changes: Any) -> ClientSettings:
        """A copy with some options changed (``with_options``), checked as
        :meth:`from_options` checks them."""
        args = Arguments(where)
        if "max_retries" in changes or "retry_backoff" in changes:
            changes.setdefault("max_retries", self.policy.max_retries)
            changes.setdefault("retry_backoff", self.policy.backoff)
        values = _check_options(args, changes)
        _check_fields(args, values)
        args.check()
        return replace(self, **values)

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
        """A copy with some fields changed."""
        return replace(self, **changes)


_ENGINE_VERSION: TypeAdapter[str] = TypeAdapter(EngineVersionString)


def _check_options(args: Arguments, options: dict[str, Any]) -> dict[str, Any]:
    """The options as settings fields: the retry options become a policy."""
    values = dict(options)
    if "max_retries" in values or "retry_backoff" in values:
        retries = args.integer("max_retries", values.pop("max_retries", 3), minimum=0)
        backoff = args.number("retry_backoff", values.pop("retry_backoff", 1.0), minimum=0)
        if not args.issues:
            assert backoff is not None
            values["policy"] = RetryPolicy(max_retries=retries, backoff=backoff)
    return values


def _check_fields(args: Arguments, values: dict[str, Any]) -> None:
    """Check (and normalize, in place) the settings fields present in ``values``."""
    if "url" in values:
        url = args.string("url", values["url"], none=False)
        if url is not None and not url.startswith(("http://", "https://")):
            args.add("url", f"must start with http:// or https://, got {url!r}")
        elif url is not None:
            problem = _url_problem(url)
            if problem:
                args.add("url", f"{problem}: {url!r}")
    if "api_key" in values:
        args.header_value("api_key", values["api_key"])
    if "timeout" in values:
        args.number("timeout", values["timeout"], above=0)
    if values.get("engine_version") is not None:
        version = values["engine_version"]
        if not isinstance(version, str):
            args.add(
                "engine_version",
                f"must be a version string like '1.4.4' (or None), got {describe(version)}",
            )
        else:
            try:
                _ENGINE_VERSION.validate_python(version)
            except pydantic.ValidationError:
                args.add(
                    "engine_version", f"must be MAJOR.MINOR.PATCH like '1.4.4', got {version!r}"
                )
    if "retry_create_on_connection_error" in values:
        args.boolean("retry_create_on_connection_error", values["retry_create_on_connection_error"])
    if "stream_idle_timeout" in values:
        args.number("stream_idle_timeout", values["stream_idle_timeout"], above=0, none=True)
    if "max_subscriptions_per_socket" in values:
        args.integer("max_subscriptions_per_socket", values["max_subscriptions_per_socket"])
    if "stream_transport" in values:
        args.choice("stream_transport", values["stream_transport"], STREAM_TRANSPORTS)
    if "default_headers" in values:
        values["default_headers"] = args.headers("default_headers", values["default_headers"])
    if "policy" in values and not isinstance(values["policy"], RetryPolicy):
        args.add("policy", f"must be a RetryPolicy, got {describe(values['policy'])}")


def _url_problem(url: str) -> str | None:
    """What is wrong with an http(s) URL, or None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"is not a valid URL ({exc})"
    if not parsed.host:
        return "has no host"
    if any(char.isspace() for char in url):
        return "contains whitespace"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"has an invalid port {parsed.port}"
    return None
