"""Redaction hides credentials, not the placeholders of documentation hints (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos.client import KairosClient
from kairos.errors import AuthenticationError, redact
from kairos.server import ServerConfig, ServerThread

KEY = "krs_redaction_test_key_0123456789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "an API key is required: Authorization: Bearer <key>",
            "an API key is required: Authorization: Bearer <key>",
        ),
        ("Authorization: Bearer s3cr3tvalue", "Authorization: Bearer [REDACTED]"),
        ('{"authorization":"Basic dXNlcjpwYXNz"}', '{"authorization":"Basic [REDACTED]"}'),
        ("Authorization: s3cr3tvalue", "Authorization: [REDACTED]"),
        ("x-api-key: <key>", "x-api-key: <key>"),
        ("x-api-key: s3cr3tvalue", "x-api-key: [REDACTED]"),
        # Something glued to a placeholder is not a placeholder.
        ("Authorization: Bearer <key>s3cr3tvalue", "Authorization: Bearer [REDACTED]"),
        # Redacting twice changes nothing.
        ("Authorization: Bearer [REDACTED]", "Authorization: Bearer [REDACTED]"),
    ],
)
def test_redact_keeps_placeholders_and_schemes(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    tmp: Path = tmp_path_factory.mktemp("redaction")
    server = ServerThread(
        ServerConfig(db_path=tmp / "kairos.db", port=0, workers=1, api_keys={KEY: "org_r"})
    )
    server.start()
    yield server
    server.stop()


def test_the_servers_hint_reaches_the_user_readable(keyed_server: ServerThread) -> None:
    with KairosClient(keyed_server.url) as client, pytest.raises(AuthenticationError) as info:
        client.engine.versions()
    assert "Authorization: Bearer <key>" in str(info.value)
    assert "[REDACTED]" not in str(info.value)
