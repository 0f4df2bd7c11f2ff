"""The call machine on its own: no network, every decision visible as an action."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kairos._trpc.retry import RetryPolicy
from kairos.client import ClientSettings
from kairos.client._machine import Failed, Received, Send, Sleep, call_machine
from kairos.errors import APIConnectionError, APITimeoutError, InternalServerError, RateLimitError
from kairos_api import CreateSimulationInput, Scenario
from kairos_api.procedures import ENGINE_VERSIONS, SIMULATION_CREATE

VERSIONS = {"default": "1.5.0", "active": [], "retired": []}
SCENARIO = Scenario.model_validate(
    {
        "name": "m",
        "domain": "ai_safety",
        "seed": 1,
        "models": [{"name": "a", "capabilityIndex": 300, "alignmentScore": 60}],
    }
)


def settings(**changes: Any) -> ClientSettings:
    base = ClientSettings(url="http://127.0.0.1:1", policy=RetryPolicy(max_retries=2, backoff=1.0))
    return base.replace(**changes)


def ok(data: Any) -> Received:
    return Received(200, {}, json.dumps({"result": {"data": data}}).encode())


def limited(retry_after_header: str | None, body_hint: float | None) -> Received:
    data: dict[str, Any] = {"code": "TOO_MANY_REQUESTS", "httpStatus": 429}
    if body_hint is not None:
        data["kairos"] = {"kind": "rate_limit", "retryAfter": body_hint}
    headers = {"retry-after": retry_after_header} if retry_after_header else {}
    body = {"error": {"message": "slow down", "code": -32029, "data": data}}
    return Received(429, headers, json.dumps(body).encode())


def test_retry_after_header_wins_over_body_and_is_spread_by_jitter() -> None:
    machine = call_machine(ENGINE_VERSIONS, None, settings(), rng=lambda: 0.5)
    assert isinstance(next(machine), Send)
    assert machine.send(limited("2", 5.0)) == Sleep(2.25)  # 2 s, plus a quarter of the jitter
    assert isinstance(next(machine), Send)
    assert machine.send(limited(None, 0.4)) == Sleep(0.45)  # the error data's kairos.retryAfter
    assert isinstance(next(machine), Send)
    with pytest.raises(StopIteration) as done:
        machine.send(ok(VERSIONS))
    assert done.value.value.default == "1.5.0"


def test_budget_spent_raises_the_last_error_and_backoff_doubles() -> None:
    machine = call_machine(ENGINE_VERSIONS, None, settings(), rng=lambda: 0.0)
    next(machine)
    unavailable = Received(503, {}, b"<html>busy</html>")
    assert machine.send(unavailable) == Sleep(1.0)
    next(machine)
    assert machine.send(unavailable) == Sleep(2.0)
    next(machine)
    with pytest.raises(InternalServerError) as info:
        machine.send(unavailable)
    assert info.value.http_status == 503


def test_rate_limit_after_budget_is_a_rate_limit_error_with_retry_after() -> None:
    machine = call_machine(ENGINE_VERSIONS, None, settings(policy=RetryPolicy(max_retries=0)))
    next(machine)
    with pytest.raises(RateLimitError) as info:
        machine.send(limited("3", None))
    assert info.value.retry_after == 3.0


def test_create_mints_one_idempotency_key_and_is_not_retried_after_a_connection_error() -> None:
    request = CreateSimulationInput(scenario=SCENARIO, ticks=10)
    machine = call_machine(SIMULATION_CREATE, request, settings(engine_version="1.4.4"))
    send = next(machine)
    assert isinstance(send, Send)
    body = json.loads(send.request.body or b"")
    assert body["idempotencyKey"].startswith("kairos-")
    assert body["engineVersion"] == "1.4.4"
    assert send.headers["x-kairos-engine-version"] == "1.4.4"
    assert send.headers["user-agent"].startswith("kairos-sdk/")
    with pytest.raises(APIConnectionError) as info:
        machine.send(Failed("connection", httpx.ConnectError("refused")))
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.cause, httpx.ConnectError)


def test_create_retry_option_resends_the_same_key() -> None:
    request = CreateSimulationInput(scenario=SCENARIO, ticks=10)
    machine = call_machine(SIMULATION_CREATE, request, settings(), allow_unsafe_retry=True)
    first = next(machine)
    assert isinstance(first, Send)
    assert isinstance(machine.send(Failed("timeout", httpx.ReadTimeout("slow"))), Sleep)
    second = next(machine)
    assert isinstance(second, Send)
    assert second.request.body == first.request.body
    assert second.headers["x-kairos-retry-count"] == "1"


def test_timeouts_of_queries_are_retried_then_raise_api_timeout_error() -> None:
    machine = call_machine(ENGINE_VERSIONS, None, settings(policy=RetryPolicy(max_retries=1)))
    next(machine)
    assert isinstance(machine.send(Failed("timeout", httpx.ReadTimeout("slow"))), Sleep)
    next(machine)
    with pytest.raises(APITimeoutError):
        machine.send(Failed("timeout", httpx.ReadTimeout("slow")))
