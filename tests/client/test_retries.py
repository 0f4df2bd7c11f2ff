"""Retries against the real server behind a fault proxy, through both drivers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kairos.client import KairosClient
from kairos.errors import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
)
from kairos.server import ServerThread

from .conftest import scenario
from .faults import FaultProxy, error_body

FAST = {"retry_backoff": 0.01, "timeout": 5.0}


def unavailable(code: int = 503, **headers: str) -> tuple[str, int, dict[str, str], bytes]:
    key = {429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}[code]
    number = {429: -32029}.get(code, -32603)
    return ("status", code, headers, error_body(key, code, number, "engine.versions"))


async def _versions(client: KairosClient, use_async: bool) -> Any:
    return await client.engine.aversions() if use_async else client.engine.versions()


@pytest.fixture(params=["sync", "async"])
def use_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


async def test_429_502_503_are_retried_then_succeed(proxy: FaultProxy, use_async: bool) -> None:
    proxy.push(unavailable(429, **{"retry-after": "0.01"}), unavailable(502), unavailable(503))
    with KairosClient(proxy.start_url, max_retries=3, **FAST) as client:
        versions = await _versions(client, use_async)
    assert versions.default
    assert proxy.requests == 4


async def test_retry_budget_is_max_retries(proxy: FaultProxy, use_async: bool) -> None:
    proxy.default = unavailable(503)
    with (
        KairosClient(proxy.start_url, max_retries=2, **FAST) as client,
        pytest.raises(InternalServerError) as info,
    ):
        await _versions(client, use_async)
    assert info.value.http_status == 503 and info.value.path == "engine.versions"
    assert proxy.requests == 3  # one attempt and two retries


async def test_rate_limit_retry_after_from_error_data(proxy: FaultProxy, use_async: bool) -> None:
    body = error_body(
        "TOO_MANY_REQUESTS", 429, -32029, "engine.versions", kind="rate_limit", retryAfter=0.05
    )
    proxy.default = ("status", 429, {}, body)
    with (
        KairosClient(proxy.start_url, max_retries=1, **FAST) as client,
        pytest.raises(RateLimitError) as info,
    ):
        await _versions(client, use_async)
    assert info.value.retry_after == 0.05
    assert proxy.requests == 2


async def test_connection_errors_of_queries_are_retried(proxy: FaultProxy, use_async: bool) -> None:
    proxy.push("reset", "reset")
    with KairosClient(proxy.start_url, max_retries=2, **FAST) as client:
        assert (await _versions(client, use_async)).default
    assert proxy.connections == 3


async def test_connection_errors_become_api_connection_error(
    proxy: FaultProxy, use_async: bool
) -> None:
    proxy.default = "reset"
    with (
        KairosClient(proxy.start_url, max_retries=1, **FAST) as client,
        pytest.raises(APIConnectionError) as info,
    ):
        await _versions(client, use_async)
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.path == "engine.versions"
    assert proxy.connections == 2


async def test_timeouts_become_api_timeout_error(proxy: FaultProxy, use_async: bool) -> None:
    proxy.default = "hang"
    with (
        KairosClient(proxy.start_url, max_retries=1, retry_backoff=0.01, timeout=0.3) as client,
        pytest.raises(APITimeoutError),
    ):
        await _versions(client, use_async)
    assert proxy.requests == 2


def _created(server: ServerThread, name: str) -> list[Any]:
    with KairosClient(server.url) as client:
        page = client.simulation.list(limit=100)
    return [s for s in page.items if s.scenario_name == name]


async def test_create_is_not_retried_after_a_connection_error_by_default(
    server: ServerThread, proxy: FaultProxy, use_async: bool
) -> None:
    name = f"no-retry-{uuid.uuid4().hex[:8]}"
    proxy.push("drop_response")
    with (
        KairosClient(proxy.start_url, max_retries=3, **FAST) as client,
        pytest.raises(APIConnectionError),
    ):
        if use_async:
            await client.arun(scenario(name), ticks=20)
        else:
            client.run(scenario(name), ticks=20)
    assert proxy.requests == 1  # the lost answer was not followed by a second create
    assert len(_created(server, name)) == 1  # the server did create it once


async def test_create_retry_option_is_safe_no_duplicate(
    server: ServerThread, proxy: FaultProxy, use_async: bool
) -> None:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    proxy.push("drop_response")
    with KairosClient(proxy.start_url, max_retries=3, **FAST) as client:
        if use_async:
            trace = await client.arun(
                scenario(name), ticks=20, retry_create_on_connection_error=True
            )
        else:
            retrying = client.with_options(retry_create_on_connection_error=True)
            trace = retrying.run(scenario(name), ticks=20)
    assert len(trace) == 20
    created = _created(server, name)
    assert [s.id for s in created] == [trace.metadata.simulation_id]  # the same key, one run


def test_every_request_carries_user_agent_and_engine_pin(proxy: FaultProxy) -> None:
    with KairosClient(proxy.start_url, engine_version="1.4.4") as client:
        client.engine.versions()
    head = proxy.sent_bytes().lower()
    assert b"user-agent: kairos-sdk/0.1.0 python/" in head
    assert b"x-kairos-engine-version: 1.4.4" in head
