"""The client's stream path on two source trees, side by side against one server in one run.

    python -m benchmarks.client_ab OLD_TREE [NEW_TREE] [--ticks 20000] [--rounds 6]

One reference server (of this tree) holds a finished run of ``--ticks`` ticks. Each round runs
one child process per tree, alternately (the order flips every round), with ``PYTHONPATH`` set
to that tree's ``src`` and ``generated``; the child times ``client.simulation.stream`` of the
finished run (the client's whole stream path: socket, subscription state, exactly-once check,
validation into models) and ``client.run`` of a new run (best of 3 each), and the client's CPU
time for the first (wall time on a shared machine waits for others; CPU time shows the
client's own work). The best of all rounds is reported per tree, with the ratio NEW / OLD
(below 1: the new tree is faster).

``--server old`` serves from the old tree instead (``kairos serve`` in a child process), for
when the schema grew since: an old client refuses fields it does not know, a new client reads
an old server's answers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kairos.client import KairosClient
from kairos.server import ServerConfig, ServerThread

from .client import scenario

CHILD = """
import json, sys, time
from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
url, done, ticks, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def scenario(seed):
    return (AISafetyScenario(f"bench_{seed}", seed=seed)
        .add_model(name="model", capability_index=500, alignment_score=70, guardrail_coverage=60)
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3))
out = {"replay": [], "replay_cpu": [], "run": [], "run_cpu": []}
with KairosClient(url) as client:
    sum(len(c.steps) for c in client.simulation.stream(id=done))  # warm up
    for i in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        n = sum(len(c.steps) for c in client.simulation.stream(id=done))
        out["replay"].append(time.perf_counter() - start)
        out["replay_cpu"].append(time.process_time() - cpu)
        assert n == ticks
        start, cpu = time.perf_counter(), time.process_time()
        assert len(client.run(scenario(seed + i), ticks=ticks)) == ticks
        out["run"].append(time.perf_counter() - start)
        out["run_cpu"].append(time.process_time() - cpu)
print(json.dumps({k: min(v) for k, v in out.items()}))
"""


def child(tree: Path, url: str, done: str, ticks: int, seed: int) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree / 'generated'}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, url, done, str(ticks), str(seed)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise SystemExit(f"the client of {tree} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


@contextlib.contextmanager
def old_server(tree: Path, tmp: str) -> Iterator[str]:
    """``kairos serve`` of ``tree`` on a free port; yields its URL."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree / 'generated'}"
    port = free_port()
    command = [sys.executable, "-m", "kairos", "serve", "--db", f"{tmp}/old.db"]
    command += ["--port", str(port), "--workers", "2", "--rate-limit", "0"]
    log = Path(tmp) / "old-server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, cwd=tmp, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise SystemExit(f"the server of {tree} did not start:\n{tail}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=Path(__file__).parents[1])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--server", choices=("old", "new"), default="new")
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.server == "old":
            url = stack.enter_context(old_server(trees["old"], tmp))
        else:
            db = Path(tmp) / "bench.db"
            config = ServerConfig(db_path=db, port=0, rate_limit=None, workers=2)
            url = stack.enter_context(ServerThread(config)).url
        with KairosClient(url) as client:
            done = client.run(scenario(0), ticks=args.ticks).metadata.simulation_id
            assert done is not None
            best: dict[str, dict[str, float]] = {name: {} for name in trees}
            seed = 5000
            for round in range(args.rounds):
                order = list(trees.items())
                for name, tree in order if round % 2 == 0 else reversed(order):
                    figures = child(tree, url, done, args.ticks, seed)
                    seed += 10
                    for key, value in figures.items():
                        best[name][key] = min(best[name].get(key, value), value)
    print(f"client stream path, {args.ticks} ticks, best of {args.rounds} rounds x 3")
    print(f"  server: the {args.server} tree's")
    for name, tree in trees.items():
        print(f"  {name}: {tree}")
    print(f"{'':38} {'old s':>8} {'new s':>8} {'new/old':>8}")
    for key, label in (
        ("replay", "simulation.stream of a finished run"),
        ("replay_cpu", "  the same, CPU time of the client"),
        ("run", "run()"),
        ("run_cpu", "  the same, CPU time of the client"),
    ):
        old, new = best["old"][key], best["new"][key]
        print(f"{label:38} {old:8.3f} {new:8.3f} {new / old:8.2f}")


if __name__ == "__main__":
    main()
