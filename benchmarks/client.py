"""Client overhead: ``run()`` and ``stream_run()`` against the same work done with raw httpx
and websockets calls, on one local reference server, measured side by side in one run.

    python -m benchmarks.client [--ticks 20000] [--repeat 5] [--json]

Each line runs the SDK and the raw version alternately ``--repeat`` times and reports the best
time of each and their ratio (SDK / raw). The raw version does the minimum: one POST for
``simulation.create``, one WebSocket subscription, ``json.loads`` of each frame, the steps kept
as dicts. The SDK additionally validates every step into a ``TraceStep`` model, checks
exactly-once delivery and builds the ``Trace``; the ratio is the price of that. Goals: run()
at most 1.1x, stream_run() at most 1.05x, the replay at most 1.3x. ``--json`` prints one JSON
object (stable keys) instead of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.server import ServerConfig, ServerThread


def scenario(seed: int) -> AISafetyScenario:
    return (
        AISafetyScenario(f"bench_{seed}", seed=seed)
        .add_model(name="model", capability_index=500, alignment_score=70, guardrail_coverage=60)
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


async def raw_stream(url: str, simulation_id: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    ws_url = url.replace("http://", "ws://") + "/trpc"
    async with connect(ws_url, compression=None, max_size=None) as ws:
        params = {"path": "simulation.stream", "input": {"id": simulation_id}}
        await ws.send(json.dumps({"id": 1, "method": "subscription", "params": params}))
        async for message in ws:
            result = json.loads(message).get("result", {})
            if result.get("type") == "stopped":
                break
            if result.get("type") == "data":
                steps.extend(result["data"]["data"]["steps"])
    return steps


def raw_create(http: httpx.Client, wire: dict[str, Any], ticks: int) -> str:
    response = http.post("/trpc/simulation.create", json={"scenario": wire, "ticks": ticks})
    response.raise_for_status()
    return str(response.json()["result"]["data"]["id"])


def best(fn: Callable[[int], object], repeat: int, seed0: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(seed0 + i)
        times.append(time.perf_counter() - start)
    return min(times)


GOALS = {"run": 1.1, "stream_run": 1.05, "replay": 1.3}


def decode_figures(ticks: int, repeat: int) -> dict[str, Any]:
    """Decoding the frames of one run's stream (256 steps each, as the server sends them): the
    general path (``json.loads``, then ``TraceChunk.model_validate``) beside the one-call path
    (``decode_chunk_frame``: ``validate_json`` of the frame's bytes), on the same bytes."""
    from kairos import engine
    from kairos.client._chunk_frames import decode_chunk_frame
    from kairos_api import TraceChunk

    steps = engine.run(scenario(1).to_wire(), ticks)
    frames = []
    for first in range(0, ticks, 256):
        chunk = steps[first : first + 256]
        tid = str(chunk[-1]["t"])
        event = {"id": tid, "data": {"steps": chunk}}
        frames.append(json.dumps({"id": 1, "result": {"type": "data", "id": tid, "data": event}}))

    def general() -> int:
        return sum(
            len(TraceChunk.model_validate(json.loads(f)["result"]["data"]["data"]).steps)
            for f in frames
        )

    def one_call() -> int:
        return sum(len(decode_chunk_frame(f).chunk.steps) for f in frames)  # type: ignore[union-attr]

    times: dict[str, list[float]] = {"general": [], "one_call": []}
    for _ in range(repeat):
        for name, fn in (("general", general), ("one_call", one_call)):
            start = time.perf_counter()
            assert fn() == ticks
            times[name].append(time.perf_counter() - start)
    g, o = min(times["general"]), min(times["one_call"])
    return {"general_s": round(g, 4), "one_call_s": round(o, 4), "ratio": round(o / g, 3)}


def measure(ticks: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(db_path=Path(tmp) / "bench.db", port=0, rate_limit=None, workers=2)
        with (
            ServerThread(config) as server,
            KairosClient(server.url) as client,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            url = server.url
            loop = asyncio.new_event_loop()

            def sdk_run(seed: int) -> object:
                return client.run(scenario(seed), ticks=ticks)

            def raw_run(seed: int) -> object:
                simulation_id = raw_create(http, scenario(seed).to_wire(), ticks)
                return loop.run_until_complete(raw_stream(url, simulation_id))

            def sdk_stream(seed: int) -> object:
                return sum(1 for _ in client.stream_run(scenario(seed), ticks=ticks))

            done = raw_create(http, scenario(0).to_wire(), ticks)
            client.run(scenario(0), ticks=ticks)  # warm up both paths, finish the replay run

            def sdk_replay(_: int) -> object:
                return sum(len(chunk.steps) for chunk in client.simulation.stream(id=done))

            def raw_replay(_: int) -> object:
                return loop.run_until_complete(raw_stream(url, done))

            lines = [
                ("run", sdk_run, raw_run),
                ("stream_run", sdk_stream, raw_run),
                ("replay", sdk_replay, raw_replay),
            ]
            result: dict[str, Any] = {"ticks": ticks, "repeat": repeat}
            seed = 1000
            for key, sdk, raw in lines:
                # Interleave so both sides see the same machine state.
                sdk_times, raw_times = [], []
                for _ in range(repeat):
                    sdk_times.append(best(sdk, 1, seed))
                    raw_times.append(best(raw, 1, seed + 1))
                    seed += 2
                s, r = min(sdk_times), min(raw_times)
                result[key] = {
                    "sdk_s": round(s, 4),
                    "raw_s": round(r, 4),
                    "ratio": round(s / r, 3),
                    "goal_ratio": GOALS[key],
                    "goal_met": s / r <= GOALS[key],
                }
            loop.close()
    try:
        result["decode"] = decode_figures(ticks, repeat)
    except ImportError:  # a checkout from before the one-call decoder (for --before runs)
        result["decode"] = None
    return result


LABELS = {
    "run": "run() vs create + stream",
    "stream_run": "stream_run() vs create + stream",
    "replay": "simulation.stream of a finished run",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(args.ticks, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"client overhead, {args.ticks} ticks per run, best of {args.repeat}")
    print(f"{'':40} {'sdk s':>8} {'raw s':>8} {'ratio':>6} {'goal':>6}")
    for key, label in LABELS.items():
        r = result[key]
        print(
            f"{label:40} {r['sdk_s']:8.3f} {r['raw_s']:8.3f} {r['ratio']:6.2f} "
            f"{r['goal_ratio']:6.2f}"
        )
    d = result["decode"]
    if d is None:
        return 0
    print(
        f"{'chunk decode: one call vs loads+validate':40} {d['one_call_s']:8.3f} "
        f"{d['general_s']:8.3f} {d['ratio']:6.2f}   (the WebSocket path's decoder)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
