"""API keys, organizations and rate limits against a real server."""

from __future__ import annotations

import pytest

from kairos.server import ServerThread
from tests.server.conftest import SCENARIO, Wire


@pytest.fixture(scope="module")
def alpha(keyed_server: ServerThread) -> Wire:
    return Wire(keyed_server.url, "krs_alpha")


@pytest.fixture(scope="module")
def beta(keyed_server: ServerThread) -> Wire:
    return Wire(keyed_server.url, "krs_beta")


def test_missing_and_wrong_keys_are_unauthorized(keyed_server: ServerThread) -> None:
    for key in (None, "krs_nope", "krs_alph"):
        response = Wire(keyed_server.url, key).query("engine.versions")
        assert response.status_code == 401
        assert response.json()["error"]["data"]["code"] == "UNAUTHORIZED"
        assert key is None or key not in response.text


def test_organizations_never_see_each_other(alpha: Wire, beta: Wire) -> None:
    mine = alpha.create(ticks=20)
    assert mine["organizationId"] == "org_alpha"
    for response in (
        beta.query("simulation.get", {"id": mine["id"]}),
        beta.query("simulation.trace", {"id": mine["id"]}),
        beta.mutate("simulation.cancel", {"id": mine["id"]}),
    ):
        assert response.status_code == 404, "another organization's simulation does not exist"
    listed = beta.data(beta.query("simulation.list"))
    assert mine["id"] not in [s["id"] for s in listed["items"]]
    assert alpha.data(alpha.query("simulation.get", {"id": mine["id"]}))["id"] == mine["id"]


def test_a_key_cannot_file_under_another_organization(alpha: Wire) -> None:
    response = alpha.mutate(
        "simulation.create", {"scenario": SCENARIO, "ticks": 10, "organizationId": "org_beta"}
    )
    assert response.status_code == 403


def test_rate_limit_answers_429_with_retry_after(keyed_server: ServerThread) -> None:
    hammer = Wire(keyed_server.url, "krs_beta")
    statuses = [hammer.query("engine.versions") for _ in range(40)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, "a burst of 20 at 5/s cannot absorb 40 requests"
    first = limited[0]
    retry_after = int(first.headers["retry-after"])
    error = first.json()["error"]
    assert error["data"]["code"] == "TOO_MANY_REQUESTS"
    assert error["data"]["kairos"] == {"kind": "rate_limit", "retryAfter": retry_after}
    assert retry_after >= 1
