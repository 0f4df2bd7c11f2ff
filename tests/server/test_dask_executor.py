"""The Dask executor against a real LocalCluster (worker processes): runs and streams give the
engine's exact trace, a ``kill -9`` of a worker mid-run loses nothing and repeats nothing, and
a scheduler that cannot be reached is a typed error (one line on the CLI)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from kairos import engine
from kairos.server import ExecutorError, ServerConfig, ServerThread
from kairos.server._segment import SegmentJob, run_segment
from kairos.server._sqlite_store import Store
from tests.server.conftest import SCENARIO, Wire, start_server
from tests.server.test_ws import Socket, connect, subscribe, ticks_of


@pytest.fixture(scope="module")
def dask(dask_cluster: Any) -> Iterator[Client]:
    """A client of the test's own, to look into the cluster (which worker computes what)."""
    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        yield client


def _trace(wire: Wire, simulation_id: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    from_tick: int | None = 1
    while from_tick is not None:
        page = wire.data(
            wire.query(
                "simulation.trace", {"id": simulation_id, "fromTick": from_tick, "limit": 5000}
            )
        )
        steps += page["steps"]
        from_tick = page["nextTick"]
    return steps


def _expected_sha(seed: int, ticks: int) -> str:
    return engine.trace_sha256(engine.iter_steps({**SCENARIO, "seed": seed}, ticks))


def _kairos_suspicious(cluster: Any) -> int:
    """How often the scheduler saw a worker die while it computed a kairos segment."""
    prefix = cluster.scheduler.task_prefixes.get("kairos-segment")
    return 0 if prefix is None else int(prefix.suspicious)


def _kill_a_worker_computing_a_segment(dask: Client, cluster: Any) -> None:
    """``kill -9`` a worker process while it computes a kairos segment, and wait until the
    scheduler counted the segment as lost with it (a segment may end in the instant between
    looking and killing: then another worker is killed)."""
    deadline = time.monotonic() + 120
    before = _kairos_suspicious(cluster)
    while _kairos_suspicious(cluster) == before:
        assert time.monotonic() < deadline, "no worker died computing a segment"
        pids = dask.run(os.getpid)
        busy = [
            address
            for address, keys in dask.processing().items()
            if any(str(key).startswith("kairos-segment-") for key in keys) and address in pids
        ]
        if not busy:
            time.sleep(0.01)
            continue
        os.kill(pids[busy[0]], signal.SIGKILL)
        _wait_until_gone(cluster, busy[0])


def _wait_until_gone(cluster: Any, address: str) -> None:
    deadline = time.monotonic() + 60
    while address in cluster.scheduler.workers:
        assert time.monotonic() < deadline, "the scheduler never noticed the dead worker"
        time.sleep(0.05)


def test_a_segment_is_pure_and_chains_to_the_engines_trace() -> None:
    scenario = engine.canonical_json(SCENARIO)
    # Chunks end on count only (flush_seconds=inf): a slow moment cannot move a boundary, so a
    # rerun from the same inputs must give the same result to the byte.
    job = SegmentJob(
        "sim_x", scenario, "1.5.0", 700, None, None, chunk_steps=100, flush_seconds=float("inf")
    )
    lines: list[bytes] = []
    while True:
        result = run_segment(job)
        assert result.error is None and result.chunks
        for first, chunk, _checkpoint in result.chunks:
            assert first == len(lines) + 1
            lines += chunk
        if result.summary_json is not None:
            break
        job = SegmentJob(
            "sim_x", scenario, "1.5.0", 700, result.chunks[-1][2], result.summary_state,
            chunk_steps=100, flush_seconds=float("inf"), budget_seconds=0.0,
        )  # fmt: skip
    expected = engine.run(SCENARIO, 700, "1.5.0")
    assert engine.trace_sha256(json.loads(line) for line in lines) == engine.trace_sha256(expected)
    assert json.loads(result.summary_json) == json.loads(
        engine.canonical_json(engine.summarize(expected))
    )
    # Run again from the same inputs (as Dask does after a worker died): the same bytes.
    assert run_segment(job) == result
    broken = SegmentJob("sim_x", scenario, "1.5.0", 700, b"not a checkpoint", None)
    assert run_segment(broken).error == ("checkpoint_unusable", "checkpoint is not JSON: "
                                         "Expecting value: line 1 column 1 (char 0)")  # fmt: skip
    retired = SegmentJob("sim_x", scenario, "1.3.2", 700, None, None)
    assert run_segment(retired).error[0] == "engine_version"  # type: ignore[index]


def test_runs_on_the_cluster_give_the_engines_exact_traces(
    dask_cluster: Any, tmp_path: Path
) -> None:
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    try:
        wire = Wire(server.url)
        created = {seed: wire.create(ticks=1500, seed=seed)["id"] for seed in (1, 2, 3, 4)}
        for seed, simulation_id in created.items():
            record = wire.wait(simulation_id)
            assert record["status"] == "completed" and record["tick"] == 1500
            expected = list(engine.iter_steps({**SCENARIO, "seed": seed}, 1500))
            assert record["summary"] == json.loads(
                engine.canonical_json(engine.summarize(expected))
            )
            steps = _trace(wire, simulation_id)
            assert [s["t"] for s in steps] == list(range(1, 1501))
            assert engine.trace_sha256(steps) == engine.trace_sha256(expected)
    finally:
        server.stop()


async def _stream(url: str, simulation_ids: list[str]) -> dict[str, list[int] | str]:
    """Every simulation streamed over one socket to its end: ticks, or the error."""
    out: dict[str, list[int] | str] = {}
    async with connect(url) as raw:
        ws = Socket(raw)
        for n, simulation_id in enumerate(simulation_ids, start=1):
            await ws.send(subscribe(n, simulation_id))
        frames: dict[int, list[Any]] = {n: [] for n in range(1, len(simulation_ids) + 1)}
        open_ids = set(frames)
        while open_ids:
            frame = await ws.recv(timeout=120)
            n = frame.get("id")
            if n not in open_ids:
                continue
            if "error" in frame:
                out[simulation_ids[n - 1]] = json.dumps(frame["error"])
                open_ids.discard(n)
                continue
            frames[n].append(frame)
            if frame.get("result", {}).get("type") == "stopped":
                out[simulation_ids[n - 1]] = ticks_of(frames[n])
                open_ids.discard(n)
    return out


async def test_kill_9_of_a_worker_mid_runs_and_streams_loses_and_repeats_nothing(
    dask_cluster: Any, dask: Client, tmp_path: Path
) -> None:
    ticks = 12_000
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    wire = Wire(server.url)
    try:
        seeds = (31, 32, 33)
        ids = [wire.create(ticks=ticks, seed=seed)["id"] for seed in seeds]
        streams = asyncio.create_task(_stream(wire.ws_url, ids))
        # Mid-run: the first simulation has stored steps, and none has finished.
        deadline = time.monotonic() + 60
        while wire.data(wire.query("simulation.get", {"id": ids[0]}))["tick"] < 1000:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        # The segment it computes is lost with it, and will be computed again elsewhere.
        await asyncio.to_thread(_kill_a_worker_computing_a_segment, dask, dask_cluster)
        assert all(
            wire.data(wire.query("simulation.get", {"id": i}))["status"] != "completed"
            for i in ids[1:]
        ), "the kill came too late to interrupt a run"
        # Accepted after the kill: run as well.
        later = {seed: wire.create(ticks=2000, seed=seed)["id"] for seed in (34, 35)}
        streamed = await asyncio.wait_for(streams, 300)
        for seed, simulation_id in zip(seeds, ids, strict=True):
            record = wire.wait(simulation_id, timeout=300)
            assert record["status"] == "completed", record
            assert streamed[simulation_id] == list(range(1, ticks + 1)), "a tick lost or repeated"
            assert engine.trace_sha256(_trace(wire, simulation_id)) == _expected_sha(seed, ticks)
        for seed, simulation_id in later.items():
            assert wire.wait(simulation_id, timeout=300)["status"] == "completed"
            assert engine.trace_sha256(_trace(wire, simulation_id)) == _expected_sha(seed, 2000)
    finally:
        server.stop()


def test_workers_dying_again_and_again_fail_the_run_with_worker_crashed(
    dask_cluster: Any, dask: Client, tmp_path: Path
) -> None:
    scheduler = dask_cluster.scheduler
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    allowed = scheduler.allowed_failures
    scheduler.allowed_failures = 0  # Dask gives up on a task at its first dead worker
    try:
        wire = Wire(server.url)
        simulation_id = wire.create(ticks=500_000, seed=41)["id"]
        _kill_a_worker_computing_a_segment(dask, dask_cluster)
        record = wire.wait(simulation_id)
        assert record["status"] == "failed"
        assert record["error"] == {
            "code": "worker_crashed",
            "message": "the Dask workers computing this simulation died once",
        }
        # The cluster (its nanny restarted the worker) and the server go on.
        scheduler.allowed_failures = allowed
        assert wire.wait(wire.create(ticks=300, seed=42)["id"])["status"] == "completed"
    finally:
        scheduler.allowed_failures = allowed
        server.stop()


def test_a_server_restart_resumes_dask_runs_from_their_checkpoint(
    dask_cluster: Any, tmp_path: Path
) -> None:
    # Long enough that the segments computed while the first server shuts down gracefully
    # cannot finish the run (15,000 ticks could: a run completed before the restart).
    ticks = 100_000
    first = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    wire = Wire(first.url)
    simulation_id = wire.create(ticks=ticks, seed=51)["id"]
    deadline = time.monotonic() + 60
    while wire.data(wire.query("simulation.get", {"id": simulation_id}))["tick"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.stop()
    store = Store(tmp_path / "kairos.db")
    interrupted = store.get(simulation_id)
    store.close()
    assert interrupted is not None and interrupted.status == "running"
    assert 0 < interrupted.tick < ticks

    second = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    try:
        wire = Wire(second.url)
        record = wire.wait(simulation_id, timeout=300)
        assert record["status"] == "completed"
        expected = list(engine.iter_steps({**SCENARIO, "seed": 51}, ticks))
        # The summary covers the steps of both servers: replayed from the store, then carried.
        assert record["summary"] == json.loads(engine.canonical_json(engine.summarize(expected)))
        steps = _trace(wire, simulation_id)
        assert [s["t"] for s in steps] == list(range(1, ticks + 1))
        assert engine.trace_sha256(steps) == engine.trace_sha256(expected)
    finally:
        second.stop()


def test_cancelling_a_running_dask_simulation(dask_cluster: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    try:
        wire = Wire(server.url)
        simulation_id = wire.create(ticks=1_000_000, seed=61)["id"]
        deadline = time.monotonic() + 60
        while wire.data(wire.query("simulation.get", {"id": simulation_id}))["tick"] < 500:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        cancelled = wire.data(wire.mutate("simulation.cancel", {"id": simulation_id}))
        assert cancelled["status"] == "cancelled" and 500 <= cancelled["tick"] < 1_000_000
        steps = _trace(wire, simulation_id)
        assert len(steps) == cancelled["tick"]
        assert engine.trace_sha256(steps) == _expected_sha(61, cancelled["tick"])
    finally:
        server.stop()


def test_an_executor_that_is_not_an_address_is_a_typed_error(tmp_path: Path) -> None:
    for spec in (
        "dask",
        "tcp://",
        "http://scheduler:8786",
        "tcp://host:8786/path",
        "tcp://[::1",
        "",
    ):
        with pytest.raises(ExecutorError, match="neither 'local' nor a Dask scheduler address"):
            ServerConfig(db_path=tmp_path / "k.db", executor=spec)
    for spec in ("tls://scheduler.example:8786", "tcp://10.0.0.5", "tcp://[::1]:8786"):
        assert ServerConfig(db_path=tmp_path / "k.db", executor=spec).executor == spec


def test_an_unreachable_scheduler_is_a_typed_error(tmp_path: Path) -> None:
    config = ServerConfig(
        db_path=tmp_path / "k.db",
        port=0,
        executor="tcp://127.0.0.1:9",  # discard: nothing listens there
        executor_timeout_seconds=1.0,
    )
    with pytest.raises(ExecutorError) as caught:
        ServerThread(config).start()
    message = str(caught.value)
    assert message.startswith("cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert "\n" not in message


def test_the_cli_reports_an_unreachable_scheduler_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    command = [sys.executable, "-m", "kairos", "serve", "--port", "0", "--db", "k.db"]
    unreachable = subprocess.run(
        [*command, "--executor", "tcp://127.0.0.1:9", "--executor-timeout", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    bad = subprocess.run(
        [*command, "--executor", "dask"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    for result, fragment in (
        (unreachable, "kairos: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: "),
        (bad, "kairos: error: --executor 'dask' is neither 'local' nor a Dask scheduler"),
    ):
        assert result.returncode == 1, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith(fragment), result.stderr
        assert "Traceback" not in result.stderr


def test_segments_the_cluster_drops_are_taken_up_again_from_the_store(
    dask_cluster: Any, dask: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from distributed import Future

    ticks = 20_000
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    try:
        wire = Wire(server.url)
        simulation_id = wire.create(ticks=ticks, seed=71)["id"]
        dropped = 0
        deadline = time.monotonic() + 60
        while dropped < 2:  # as a scheduler that lost its tasks would: cancelled under us
            assert time.monotonic() < deadline, "no segment to drop"
            keys = [
                key
                for keys in dask.processing().values()
                for key in keys
                if str(key).startswith(f"kairos-segment-{simulation_id}-")
            ]
            if keys:
                dask.cancel([Future(keys[0], dask)], force=True)
                dropped += 1
            time.sleep(0.05)
        record = wire.wait(simulation_id, timeout=300)
        assert record["status"] == "completed"
        steps = _trace(wire, simulation_id)
        assert [s["t"] for s in steps] == list(range(1, ticks + 1))
        assert engine.trace_sha256(steps) == _expected_sha(71, ticks)
        taken_up = [r for r in caplog.records if "taking it up again" in r.getMessage()]
        # (a segment may finish in the instant between looking and cancelling)
        assert 1 <= len(taken_up) <= 2
        assert all(simulation_id in r.getMessage() for r in taken_up)
    finally:
        server.stop()


def _broken_segment(job: SegmentJob) -> None:
    raise ModuleNotFoundError("No module named 'kairos_api'")


def _break_segments(broken: bool) -> None:
    """On a worker: make ``run_segment`` (pickled by reference) the broken one, or undo it."""
    import kairos.server._segment as segment

    if broken:
        segment.__dict__.setdefault("_working", segment.run_segment)
        segment.run_segment = _broken_segment  # type: ignore[assignment]
    else:
        segment.run_segment = segment.__dict__.pop("_working", segment.run_segment)


def test_a_worker_that_cannot_run_segments_fails_the_run_with_its_reason(
    dask_cluster: Any, dask: Client, tmp_path: Path
) -> None:
    # A fault no real part of this machine produces: a worker with a broken installation.
    server = start_server(tmp_path, rate_limit=None, executor=dask_cluster.scheduler_address)
    dask.run(_break_segments, True)
    try:
        wire = Wire(server.url)
        record = wire.wait(wire.create(ticks=300, seed=81)["id"])
        assert record["status"] == "failed"
        assert record["error"]["code"] == "executor_error"
        assert "ModuleNotFoundError: No module named 'kairos_api'" in record["error"]["message"]
        dask.run(_break_segments, False)
        assert wire.wait(wire.create(ticks=300, seed=82)["id"])["status"] == "completed"
    finally:
        dask.run(_break_segments, False)
        server.stop()
