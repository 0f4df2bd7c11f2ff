"""An unexpected fault inside a procedure: a well-formed INTERNAL_SERVER_ERROR, with the stack
only in development mode. (The fault is injected: a healthy server cannot produce one.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos.server import ServerThread
from tests.server.conftest import Wire, start_server


@pytest.fixture(params=[False, True], ids=["production", "dev"])
def faulty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerThread, bool]]:
    dev: bool = request.param
    server = start_server(tmp_path, rate_limit=None, workers=1, dev=dev)

    async def explode(caller: Any, input: Any) -> Any:
        raise RuntimeError("disk on fire at /var/secret/path")

    server._server.state.service.handlers["engine.versions"] = explode
    yield server, dev
    server.stop()


def test_internal_errors_leak_nothing_outside_dev_mode(faulty: tuple[ServerThread, bool]) -> None:
    server, dev = faulty
    response = Wire(server.url).query("engine.versions")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["data"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["data"]["path"] == "engine.versions"
    if dev:
        assert "disk on fire" in error["message"]
        assert "Traceback" in error["data"]["stack"] and "explode" in error["data"]["stack"]
    else:
        assert error["message"] == "Internal server error"
        assert "stack" not in error["data"]
        assert "secret" not in response.text and "Traceback" not in response.text
