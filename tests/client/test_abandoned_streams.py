"""Streams a consumer abandons end quietly, stop on the server and cancel what they created.

Each case is a real script in a subprocess (the symptoms were output at exit): against a real
``kairos serve`` on 127.0.0.1, whose records show afterwards what became of the simulation, and
against the embedded server, where the script reports the status itself through a second client.
stderr must stay empty in every case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos.client import KairosClient
from tests._node import KairosServe

TICKS = 1_000_000  # far more than a case needs: the run is still going when it is abandoned

# A script that hangs prints every thread's stack and exits, so that a hang is a readable
# failure rather than a bare TimeoutExpired.
HANG_SECONDS = int(os.environ.get("KAIROS_TEST_HANG_SECONDS", "100"))

PRELUDE = f"""
import asyncio, faulthandler, gc, json, os, signal, sys
faulthandler.dump_traceback_later({HANG_SECONDS}, exit=True)
from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyScenario

NAME = sys.argv[1]
TICKS = {TICKS}
SCENARIO = AISafetyScenario(NAME, seed=3).add_model(
    name="m", capability_index=400, alignment_score=70, guardrail_coverage=60
)

def mine(items):
    return [s.status for s in items if s.scenario_name == NAME]
"""

SYNC_CASES = {
    "break-then-close": """
        client = KairosClient()
        steps = client.stream_run(SCENARIO, TICKS)
        for step in steps:
            break
        client.close()
    """,
    "break-in-with-block": """
        with KairosClient() as client:
            steps = client.stream_run(SCENARIO, TICKS)
            for step in steps:
                break
    """,
    "break-inline": """
        client = KairosClient()
        for step in client.stream_run(SCENARIO, TICKS):
            break
        print(json.dumps(mine(client.simulation.list(limit=100).items)))
        client.close()
    """,
    "iterator-close": """
        client = KairosClient()
        steps = client.stream_run(SCENARIO, TICKS)
        next(steps)
        steps.close()
        print(json.dumps(mine(client.simulation.list(limit=100).items)))
        client.close()
    """,
    "garbage-collected": """
        client = KairosClient()
        steps = client.stream_run(SCENARIO, TICKS)
        for step in steps:
            break
        del steps
        gc.collect()
        print(json.dumps(mine(client.simulation.list(limit=100).items)))
        client.close()
    """,
    "break-and-exit-without-close": """
        client = KairosClient()
        steps = client.stream_run(SCENARIO, TICKS)
        for step in steps:
            break
    """,
    "keyboard-interrupt": """
        client = KairosClient()
        try:
            for step in client.stream_run(SCENARIO, TICKS):
                if step.t == 300:
                    os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            print(json.dumps(mine(client.simulation.list(limit=100).items)))
        client.close()
    """,
}

ASYNC_CASES = {
    "async-break-in-with-block": """
        async def main():
            async with KairosClient() as client:
                steps = client.astream_run(SCENARIO, TICKS)
                async for step in steps:
                    break
        asyncio.run(main())
    """,
    "async-aclose": """
        async def main():
            client = KairosClient()
            steps = client.astream_run(SCENARIO, TICKS)
            async for step in steps:
                break
            await steps.aclose()
            print(json.dumps(mine((await client.simulation.alist(limit=100)).items)))
            await client.aclose()
        asyncio.run(main())
    """,
    "async-garbage-collected": """
        async def main():
            client = KairosClient()
            steps = client.astream_run(SCENARIO, TICKS)
            async for step in steps:
                break
            del steps
            gc.collect()
            await client.aclose()
        asyncio.run(main())
    """,
    "async-break-and-exit-without-close": """
        async def main():
            client = KairosClient()
            async for step in client.astream_run(SCENARIO, TICKS):
                break
        asyncio.run(main())
    """,
    "async-task-cancelled": """
        async def main():
            client = KairosClient()
            started = asyncio.Event()
            async def consume():
                async for step in client.astream_run(SCENARIO, TICKS):
                    started.set()
            task = asyncio.create_task(consume())
            await started.wait()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await client.aclose()
        asyncio.run(main())
    """,
    "async-keyboard-interrupt": """
        async def main():
            client = KairosClient()
            async for step in client.astream_run(SCENARIO, TICKS):
                if step.t == 300:
                    os.kill(os.getpid(), signal.SIGINT)
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
    """,
}

CASES = {**SYNC_CASES, **ASYNC_CASES}


def run_script(
    body: str, name: str, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / f"{name}.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script), name],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=tmp_path,
    )


def statuses(client: KairosClient, name: str) -> list[str]:
    return [s.status for s in client.simulation.list(limit=100).items if s.scenario_name == name]


def settled(client: KairosClient, name: str) -> list[str]:
    """The statuses of ``name``'s simulations once none is queued or running any more (a
    cancellation requested at exit may still be on its way)."""
    deadline = time.monotonic() + 60
    while True:
        found = statuses(client, name)
        if not any(s in ("queued", "running") for s in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KairosServe]:
    server = KairosServe(tmp_path_factory.mktemp("abandon-serve"), "--workers", "2")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_an_abandoned_stream_run_ends_quietly_and_cancels_its_simulation(
    case: str, serve: KairosServe, tmp_path: Path
) -> None:
    result = run_script(CASES[case], case, tmp_path, {"KAIROS_URL": serve.url})
    assert result.stderr == ""
    assert result.returncode == 0
    if result.stdout.strip():
        # Closing a sync iterator (explicitly, by collection, by an exception) and aclose()
        # return once the simulation is cancelled: the script itself saw it.
        assert json.loads(result.stdout.strip().splitlines()[-1]) == ["cancelled"]
    with KairosClient(serve.url) as client:
        assert settled(client, case) == ["cancelled"]
    log = serve.log()
    assert "internal error" not in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    "case",
    [
        "break-then-close",
        "break-and-exit-without-close",
        "async-break-and-exit-without-close",
        "async-task-cancelled",
    ],
)
def test_abandoning_a_stream_of_the_embedded_server_leaves_stderr_empty(
    case: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAIROS_URL"}
    script = tmp_path / f"{case}.py"
    script.write_text(PRELUDE + textwrap.dedent(CASES[case]))
    result = subprocess.run(
        [sys.executable, "-W", "default", str(script), case],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.stderr == ""
    assert result.returncode == 0


def test_a_stream_of_a_simulation_created_separately_only_unsubscribes(
    serve: KairosServe, tmp_path: Path
) -> None:
    body = """
        from kairos_api import StreamInput
        client = KairosClient()
        record = client.simulation.create(scenario=SCENARIO.to_model(), ticks=20_000)
        for chunk in client.simulation.stream(id=record.id):
            break
        client.close()
    """
    name = "created-separately"
    result = run_script(body, name, tmp_path, {"KAIROS_URL": serve.url})
    assert result.stderr == ""
    with KairosClient(serve.url) as client:
        assert settled(client, name) == ["completed"]
