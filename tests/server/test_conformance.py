"""The reference server against the OFFICIAL tRPC client: ``tests/node/conformance.mjs`` drives
``@trpc/client`` 11.25.2 (httpLink, httpBatchLink, httpBatchStreamLink, httpSubscriptionLink,
wsLink) against a real ``kairos serve`` and reports named checks; every check must pass. A
failing check names the request, what @trpc/server does and what this server did."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._node import KairosServe, kairos_command, node_tools

pytestmark = pytest.mark.node

SERVE_OPTIONS = ("--workers", "2", "--rate-limit", "0")


@pytest.fixture(scope="module")
def node_dir() -> Path:
    return node_tools()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    server = KairosServe(tmp_path_factory.mktemp("plain"), *SERVE_OPTIONS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    server = KairosServe(
        tmp_path_factory.mktemp("keyed"), *SERVE_OPTIONS, "--api-key", "org_a=krs_test_a"
    )
    try:
        yield server
    finally:
        server.stop()


def run_conformance(node_dir: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(node_dir / "conformance.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"conformance.mjs printed no report (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    if "crashed" in report:
        pytest.fail(f"conformance.mjs crashed: {report['crashed']}")
    assert result.returncode in (0, 1), result.stderr
    return report


def assert_all_passed(report: dict[str, Any], server: KairosServe) -> None:
    names = [c["name"] for c in report["checks"]]
    assert len(names) == len(set(names)), "check names are unique"
    failed = [c for c in report["checks"] if not c["ok"]]
    if failed:
        lines = [f"{len(failed)} of {len(report['checks'])} conformance checks failed:"]
        for check in failed:
            lines.append(f"- {check['name']}: {json.dumps(check['detail'], indent=2)}")
        lines.append(f"server log (tail):\n{server.log()[-2000:]}")
        pytest.fail("\n".join(lines), pytrace=False)


def test_official_client_against_kairos_serve(
    node_dir: Path, plain_server: KairosServe, tmp_path: Path
) -> None:
    # the script starts, stops (SIGTERM) and restarts a server of its own for the reconnect check
    serve_cmd = [*kairos_command(), "serve", "--db", str(tmp_path / "restart.db"), *SERVE_OPTIONS]
    report = run_conformance(
        node_dir, "--url", plain_server.url, "--serve-cmd", json.dumps(serve_cmd)
    )
    assert report["keyed"] is False
    assert report["passed"] >= 40, report
    assert report["skipped"] == 4  # only the auth checks (HTTP, WS, SSE): this server has no keys
    assert_all_passed(report, plain_server)


def test_official_client_against_kairos_serve_with_api_keys(
    node_dir: Path, keyed_server: KairosServe
) -> None:
    report = run_conformance(node_dir, "--url", keyed_server.url, "--api-key", "krs_test_a")
    assert report["keyed"] is True
    assert report["skipped"] == 1  # the reconnect check runs in the test above
    assert_all_passed(report, keyed_server)
