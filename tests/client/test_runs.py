"""run/stream_run against the real server: exact traces, version pins, pre-flight checks,
traces on disk, threads, constant memory, and failed runs."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos import engine
from kairos.client import KairosClient
from kairos.errors import EngineVersionError, SimulationError, ValidationError
from kairos.server import ServerThread
from kairos.trace import LazyTrace, Trace
from kairos_api import Scenario

from .conftest import expected_trace, scenario
from .faults import FaultProxy


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[KairosClient]:
    with KairosClient(server.url) as shared:
        yield shared


@pytest.mark.parametrize("version", ["1.4.4", "1.5.0"])
def test_run_equals_the_engine_step_for_step(client: KairosClient, version: str) -> None:
    source = scenario("exact", seed=42)
    trace = client.run(source, ticks=700, engine_version=version)
    assert isinstance(trace, Trace)
    assert trace.metadata.engine_version == version
    assert trace.metadata.seed == 42 and trace.metadata.scenario_name == "exact"
    assert trace == expected_trace(source, 700, version, trace.metadata.simulation_id)


async def test_arun_equals_the_engine_and_accepts_all_scenario_forms(
    client: KairosClient,
) -> None:
    source = scenario("forms", seed=9)
    wire = source.to_wire()
    traces = await asyncio.gather(
        client.arun(source, ticks=200),
        client.arun(wire, ticks=200),
        client.arun(Scenario.model_validate(wire), ticks=200),
    )
    default = engine.DEFAULT_VERSION
    for trace in traces:
        assert trace == expected_trace(source, 200, default, trace.metadata.simulation_id)


def test_client_pin_is_recorded_and_per_call_override_wins(server: ServerThread) -> None:
    with KairosClient(server.url, engine_version="1.4.4") as pinned:
        assert pinned.run(scenario(), ticks=50).metadata.engine_version == "1.4.4"
        override = pinned.run(scenario(), ticks=50, engine_version="1.5.0")
        assert override.metadata.engine_version == "1.5.0"
        with_options = pinned.with_options(engine_version="1.5.0").run(scenario(), ticks=50)
        assert with_options.metadata.engine_version == "1.5.0"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_retired_version_raises_engine_version_error(
    server: ServerThread, use_async: bool
) -> None:
    with (
        KairosClient(server.url, engine_version="1.4.0") as pinned,
        pytest.raises(EngineVersionError) as info,
    ):
        if use_async:
            await pinned.arun(scenario(), ticks=10)
        else:
            pinned.run(scenario(), ticks=10)
    assert info.value.requested == "1.4.0"
    assert set(info.value.available) >= {"1.4.4", "1.5.0"}
    assert "1.4.4" in str(info.value)


def test_preflight_validation_sends_nothing(proxy: FaultProxy) -> None:
    bad = scenario().to_wire()
    bad["models"][0]["capabilityIndex"] = -5
    bad["events"][0]["tick"] = 10_000
    with (
        KairosClient(proxy.start_url) as client,
        pytest.raises(ValidationError) as info,
    ):
        client.run(bad, ticks=100)
        paths = {issue.path for issue in info.value.issues}
        assert "scenario.models[0].capabilityIndex" in paths
        with pytest.raises(ValidationError):
            client.stream_run(scenario(), ticks=0)
        with pytest.raises(ValidationError):
            client.astream_run(bad, ticks=5)
    assert proxy.connections == 0  # not a single connection was opened


def test_preflight_validation_against_a_closed_port() -> None:
    with (
        KairosClient("http://127.0.0.1:9", max_retries=0) as client,
        pytest.raises(ValidationError) as info,
    ):
        client.run(scenario().to_wire() | {"seed": -1}, ticks=10)
    assert [issue.path for issue in info.value.issues] == ["scenario.seed"]


def test_run_to_disk_returns_a_lazy_trace(client: KairosClient, tmp_path: Path) -> None:
    source = scenario("on-disk", seed=3)
    lazy = client.run(source, ticks=600, out=tmp_path / "run.jsonl")
    assert isinstance(lazy, LazyTrace)
    expected = expected_trace(
        source, 600, lazy.metadata.engine_version, lazy.metadata.simulation_id
    )
    assert list(lazy) == list(expected)
    assert lazy.final_phase() == expected.final_phase()


def test_one_sync_client_shared_by_threads(client: KairosClient) -> None:
    results: dict[int, Trace] = {}
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            results[seed] = client.run(scenario("threads", seed), ticks=400)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for seed, trace in results.items():
        source = scenario("threads", seed)
        version = trace.metadata.engine_version
        assert trace == expected_trace(source, 400, version, trace.metadata.simulation_id)
    assert len(results) == 8


def test_stream_run_memory_stays_constant(client: KairosClient) -> None:
    ticks = 40_000
    tracemalloc.start()
    try:
        count = 0
        baseline = 0
        for step in client.stream_run(scenario("memory", 1), ticks=ticks):
            count += 1
            if step.t == 5_000:
                baseline, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == ticks
    # Holding the 35 000 later steps would take tens of MB; streaming holds a few chunks (1 to
    # 3 MB here). tracemalloc also counts the embedded server's threads: once in a full suite
    # the peak reached 10.7 MB, so the bound is 16 MB, still far below holding the steps.
    assert peak - baseline < 16 * 1024 * 1024


async def test_a_cancelled_simulation_raises_simulation_error(client: KairosClient) -> None:
    name = "to-cancel"
    run = asyncio.ensure_future(client.arun(scenario(name, 77), ticks=1_000_000))
    simulation_id = None
    while simulation_id is None:
        await asyncio.sleep(0.05)
        page = await client.simulation.alist(limit=20)
        running = [s for s in page.items if s.scenario_name == name and s.status != "cancelled"]
        simulation_id = running[0].id if running else None
    await client.simulation.acancel(id=simulation_id)
    with pytest.raises(SimulationError) as info:
        await run
    assert info.value.simulation_id == simulation_id


def test_run_reports_progress_chunk_by_chunk(client: KairosClient) -> None:
    counts: list[int] = []
    trace = client.run(scenario(), 3_000, progress=counts.append)
    assert sum(counts) == len(trace) == 3_000
    assert len(counts) >= 2 and all(c > 0 for c in counts)

    async def arun() -> list[int]:
        seen: list[int] = []
        await client.arun(scenario(), 700, progress=seen.append)
        return seen

    assert sum(asyncio.run(arun())) == 700


class _Stop(Exception):
    pass


def test_a_run_to_disk_left_by_an_error_keeps_every_step_received(
    client: KairosClient, tmp_path: Path
) -> None:
    """The file of a run that fails mid-stream (here its progress callback raises after the
    first chunk) is closed at once, with every step received: sync and async alike."""

    def stop_after_first_chunk(received: list[int]) -> object:
        def progress(steps: int) -> None:
            received.append(steps)
            raise _Stop

        return progress

    sync_seen: list[int] = []
    path = tmp_path / "sync.jsonl"
    with pytest.raises(_Stop) as info:
        client.run(scenario(), 3_000, out=path, progress=stop_after_first_chunk(sync_seen))
    # The exception (alive here) holds the run's frames: only closing the file flushes it.
    assert info.value is not None
    assert len(LazyTrace.open(path)) == sync_seen[0] > 0

    async def arun() -> list[int]:
        seen: list[int] = []
        with pytest.raises(_Stop) as ainfo:
            await client.arun(
                scenario(),
                3_000,
                out=tmp_path / "async.jsonl",
                progress=stop_after_first_chunk(seen),
            )
        assert ainfo.value is not None
        assert len(LazyTrace.open(tmp_path / "async.jsonl")) == seen[0] > 0
        return seen

    assert len(asyncio.run(arun())) == 1
