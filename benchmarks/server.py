"""``scripts/bench server``: the reference server's throughput on loopback.

Prints, measured side by side in one run:
* simulations per second through the server (create over HTTP, run in the worker pool, wait for
  completion) beside the engine running the same scenarios in this process, one after another;
* trace steps per second streamed over the WebSocket to a raw ``websockets`` client (decoding
  every frame) beside the engine computing the same steps in this process.

``--executor local,dask`` measures the simulations per second of one server (one replica) on
each executor side by side: ``local`` is the server's own worker processes, ``dask`` a Dask
scheduler process and as many single-threaded worker processes, started by the benchmark
(``--executor tcp://host:8786`` uses a running cluster instead). ``--json`` prints one JSON
object instead of the table.

    scripts/bench server [--executor local,dask] [--workers N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets

from kairos import engine
from kairos.server import ServerConfig, ServerThread

SIMULATIONS = 64
SIM_TICKS = 500
STREAM_TICKS = 100_000


def scenario(seed: int) -> dict[str, Any]:
    return {
        "name": f"bench {seed}",
        "seed": seed,
        "models": [
            {"name": "a", "capabilityIndex": 300 + seed % 500, "alignmentScore": 70},
            {"name": "b", "capabilityIndex": 500, "alignmentScore": 60},
        ],
        "oversightBodies": [{"name": "board", "guardrailStrength": 70, "responseLatency": 20}],
        "events": [{"tick": 100, "type": "capability_jump", "target": "a", "magnitude": 0.3}],
    }


async def simulations_per_second(url: str) -> float:
    async with httpx.AsyncClient(base_url=url + "/trpc", timeout=120) as http:
        start = time.perf_counter()
        created = await asyncio.gather(
            *(
                http.post("/simulation.create", json={"scenario": scenario(n), "ticks": SIM_TICKS})
                for n in range(SIMULATIONS)
            )
        )
        pending = {r.json()["result"]["data"]["id"] for r in created}
        while pending:
            page = await http.get(
                "/simulation.list",
                params={"input": json.dumps({"limit": 200, "status": "completed"})},
            )
            pending -= {s["id"] for s in page.json()["result"]["data"]["items"]}
            if pending:
                await asyncio.sleep(0.01)
        return SIMULATIONS / (time.perf_counter() - start)


def engine_simulations_per_second() -> float:
    start = time.perf_counter()
    for n in range(SIMULATIONS):
        engine.summarize(engine.iter_steps(scenario(n), SIM_TICKS))
    return SIMULATIONS / (time.perf_counter() - start)


async def streamed_steps_per_second(url: str) -> float:
    async with httpx.AsyncClient(base_url=url + "/trpc", timeout=600) as http:
        created = await http.post(
            "/simulation.create", json={"scenario": scenario(1), "ticks": STREAM_TICKS}
        )
        sim_id = created.json()["result"]["data"]["id"]
        while True:
            record = await http.get("/simulation.get", params={"input": json.dumps({"id": sim_id})})
            if record.json()["result"]["data"]["status"] == "completed":
                break
            await asyncio.sleep(0.05)
    ws_url = url.replace("http://", "ws://") + "/trpc"
    async with websockets.connect(ws_url, max_size=None) as ws:
        start = time.perf_counter()
        await ws.send(
            json.dumps(
                {
                    "id": 1,
                    "method": "subscription",
                    "params": {"path": "simulation.stream", "input": {"id": sim_id}},
                }
            )
        )
        steps = 0
        while True:
            frame = json.loads(await ws.recv())
            result = frame.get("result", {})
            if result.get("type") == "data":
                steps += len(result["data"]["data"]["steps"])
            elif result.get("type") == "stopped" or "error" in frame:
                break
        elapsed = time.perf_counter() - start
    assert steps == STREAM_TICKS, steps
    return steps / elapsed


def engine_steps_per_second() -> float:
    start = time.perf_counter()
    count = sum(1 for _ in engine.iter_steps(scenario(1), STREAM_TICKS))
    return count / (time.perf_counter() - start)


@contextlib.contextmanager
def executor_address(executor: str, workers: int) -> Iterator[str]:
    """The ``ServerConfig.executor`` for ``executor``. ``dask``: a scheduler and ``workers``
    single-threaded worker processes started here, each a process of its own as deployed (a
    LocalCluster would run its scheduler inside this process, beside the server)."""
    if executor != "dask":
        yield executor
        return
    from distributed import Client

    with tempfile.TemporaryDirectory() as tmp:
        scheduler_file = Path(tmp) / "scheduler.json"
        quiet = subprocess.DEVNULL
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            stdout=quiet, stderr=quiet,
        )  # fmt: skip
        nanny = None
        try:
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                time.sleep(0.05)
            address = json.loads(scheduler_file.read_text())["address"]
            nanny = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address,
                 "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard"],
                stdout=quiet, stderr=quiet,
            )  # fmt: skip
            with Client(address, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address
        finally:
            for process in (nanny, scheduler):
                if process is not None:
                    process.terminate()
                    process.wait(30)


def measure_executor(executor: str, workers: int, db: Path) -> dict[str, float]:
    with executor_address(executor, workers) as address:
        config = ServerConfig(
            db_path=db, port=0, workers=workers, rate_limit=None, executor=address
        )
        with ServerThread(config) as server:
            asyncio.run(simulations_per_second(server.url))  # warm the workers up
            cpu = time.process_time()
            served = asyncio.run(simulations_per_second(server.url))
            cpu = time.process_time() - cpu
            streamed = asyncio.run(streamed_steps_per_second(server.url))
    return {
        "simulations_per_second": served,
        # This process: the server (HTTP, storing, and with Dask driving the segments and
        # storing their chunks) and the benchmark's own client; not the workers.
        "server_process_cpu_ms_per_simulation": 1000 * cpu / SIMULATIONS,
        "streamed_steps_per_second": streamed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--executor",
        default="local",
        help="comma-separated: local, dask (a LocalCluster) or a scheduler address",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    executors = [e.strip() for e in args.executor.split(",") if e.strip()]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, executor in enumerate(executors):
            results[executor] = measure_executor(executor, args.workers, Path(tmp) / f"{n}.db")
    local = engine_simulations_per_second()
    computed = engine_steps_per_second()
    if args.json:
        report = {
            "workers": args.workers,
            "simulations": SIMULATIONS,
            "sim_ticks": SIM_TICKS,
            "stream_ticks": STREAM_TICKS,
            "engine_simulations_per_second": local,
            "engine_steps_per_second": computed,
            "executors": results,
        }
        print(json.dumps(report, indent=2))
        return
    print(f"reference server on loopback (one replica), {args.workers} worker process(es)")
    print(f"simulations ({SIMULATIONS} x {SIM_TICKS} ticks, 2 models + 1 body):")
    for executor, result in results.items():
        served = result["simulations_per_second"]
        cpu = result["server_process_cpu_ms_per_simulation"]
        print(
            f"  through the server, {executor:<10} {served:10.1f} /s   ratio {served / local:.2f}"
            f"   (server process CPU {cpu:.1f} ms per simulation)"
        )
    print(f"  engine in-process             {local:10.1f} /s   (one after another)")
    print(f"trace steps ({STREAM_TICKS} ticks, stored run), streamed over WS to a raw client:")
    for executor, result in results.items():
        streamed = result["streamed_steps_per_second"]
        print(
            f"  run on {executor:<10}            {streamed:10.0f} steps/s   "
            f"ratio {streamed / computed:.2f}"
        )
    print(f"  engine computing them in-process  {computed:10.0f} steps/s")


if __name__ == "__main__":
    main()
