"""API keys: Bearer over HTTP, connectionParams over the WebSocket, never in logs or reprs."""

from __future__ import annotations

import logging

import pytest

from kairos.client import KairosClient
from kairos.errors import AuthenticationError, PermissionDeniedError
from kairos.server import ServerThread

from .conftest import API_KEY, expected_trace, scenario


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_keyed_server_runs_with_the_key(
    keyed_server: ServerThread, use_async: bool
) -> None:
    # The HTTP create proves the Bearer header; the stream proves connectionParams (the client
    # sends no Authorization header on the WebSocket handshake).
    source = scenario("auth", 21)
    with KairosClient(keyed_server.url, api_key=API_KEY) as client:
        trace = await client.arun(source, 100) if use_async else client.run(source, 100)
        record = client.simulation.get(id=trace.metadata.simulation_id or "")
    assert record.organization_id == "org_client"
    version = trace.metadata.engine_version
    assert trace == expected_trace(source, 100, version, trace.metadata.simulation_id)


def test_key_from_environment(keyed_server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIROS_API_KEY", API_KEY)
    monkeypatch.setenv("KAIROS_URL", keyed_server.url)
    with KairosClient() as client:
        assert client.url == keyed_server.url
        assert len(client.run(scenario(), 20)) == 20


def test_missing_or_wrong_key_raises_authentication_error(keyed_server: ServerThread) -> None:
    with KairosClient(keyed_server.url) as anonymous, pytest.raises(AuthenticationError) as info:
        anonymous.engine.versions()
    assert info.value.http_status == 401
    with (
        KairosClient(keyed_server.url, api_key="krs_wrong_key") as wrong,
        pytest.raises(AuthenticationError),
    ):
        wrong.run(scenario(), 10)


async def test_websocket_with_a_wrong_key_fails_typed(keyed_server: ServerThread) -> None:
    async with KairosClient(keyed_server.url, api_key="krs_wrong_key", max_retries=0) as client:
        with pytest.raises(AuthenticationError):
            async for _ in client.simulation.astream(id="sim_unknown"):
                pass


def test_organization_mismatch_is_permission_denied(keyed_server: ServerThread) -> None:
    with (
        KairosClient(keyed_server.url, api_key=API_KEY) as client,
        pytest.raises(PermissionDeniedError),
    ):
        client.run(scenario(), 10, organization_id="org_someone_else")


def test_the_key_never_shows_in_repr_logs_or_errors(
    keyed_server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with KairosClient(keyed_server.url, api_key=API_KEY) as client:
        assert API_KEY not in repr(client) and keyed_server.url in repr(client)
        assert "REDACTED" in repr(client)
        assert API_KEY not in repr(client.settings)
        client.run(scenario(), 10)
    with (
        KairosClient(keyed_server.url, api_key=API_KEY + "x") as wrong,
        pytest.raises(AuthenticationError) as info,
    ):
        wrong.engine.versions()
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert caplog.records  # debug logging was on
    assert API_KEY not in caplog.text
