"""Node.js tools for the TypeScript and OpenAPI targets' tests: tsc, @redocly/cli,
openapi-typescript (all pinned in tests/node's lockfile), and a temp project to run programs in."""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests._node import NODE_DIR, node_tools

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"
TS_PACKAGE = GENERATED / "typescript"
OPENAPI = GENERATED / "openapi.json"
# What these tests need from tests/node beyond what tests/_node.py checks for.
PACKAGES = (
    "typescript",
    "@redocly/cli",
    "openapi-typescript",
    "openapi-fetch",
    "eventsource",
    "@types/node",
    "@types/ws",
)


def target_tools() -> Path:
    """``tests/node`` with every package installed (``npm ci`` when one is missing); skips
    where node/npm are absent, as every Node-based test does."""
    node_dir = node_tools()
    if not all((node_dir / "node_modules" / name / "package.json").exists() for name in PACKAGES):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=node_dir,
            check=True,
            timeout=300,
        )
    return node_dir


def bin_path(name: str) -> str:
    return str(NODE_DIR / "node_modules" / ".bin" / name)


def tsc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The pinned ``tsc`` (plain, one line per diagnostic)."""
    return subprocess.run(
        [bin_path("tsc"), "--pretty", "false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def node_project(directory: Path) -> Path:
    """Make ``directory`` an ES-module project that resolves packages from tests/node."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "node_modules").symlink_to(NODE_DIR / "node_modules", target_is_directory=True)
    (directory / "package.json").write_text(json.dumps({"type": "module", "private": True}))
    return directory


def run_node(script: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(script), *args], capture_output=True, text=True, timeout=timeout
    )


def _get(url: str, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """Status, content type and the first bytes of a GET (a stream is not read to its end)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        content_type = response.getheader("content-type") or ""
        head = b"" if content_type.startswith("text/event-stream") else response.read(4096)
        return response.status, content_type, head
    finally:
        connection.close()


def server_streams_over_http(url: str) -> bool:
    """Whether the server speaks the two streaming HTTP forms of tRPC v11 (issue 13, item 1),
    asked of the wire itself so that the streaming checks switch on when the server gains them:

    * SSE subscriptions: httpSubscriptionLink's GET of a subscription is routed (answered with
      an event stream, or a tRPC error of the call) instead of 405 METHOD_NOT_SUPPORTED;
    * JSONL batches: a batch with ``trpc-accept: application/jsonl`` (httpBatchStreamLink)
      comes back as a stream of JSON lines, whose head is an object, not a JSON array.
    """
    sse_input = quote(json.dumps({"id": "sim_probe0000000000"}))
    status, content_type, _ = _get(
        url, f"/trpc/simulation.stream?input={sse_input}", {"accept": "text/event-stream"}
    )
    sse = status != 405 and (content_type.startswith("text/event-stream") or status < 500)
    batch_input = quote(json.dumps({"0": None}))
    status, _, head = _get(
        url,
        f"/trpc/engine.versions?batch=1&input={batch_input}",
        {"trpc-accept": "application/jsonl"},
    )
    text = head.lstrip()
    jsonl = status == 200 and text.startswith(b"{") and not text.startswith(b'{"error"')
    return sse and jsonl
