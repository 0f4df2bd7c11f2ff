"""The sync API has one event-loop thread per process, shared by every client and by blocking
sweeps (issue 12: a second thread, the sweeps', duplicated the client's)."""

from __future__ import annotations

import threading

from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyScenario
from kairos.server import ServerThread
from kairos.sweep import sweep

from .conftest import scenario


def build(capability: int) -> AISafetyScenario:
    return scenario("loop-sweep", seed=5, capability=capability)


def loop_threads() -> list[str]:
    return sorted(
        t.name for t in threading.enumerate() if t.name.startswith("kairos") and "loop" in t.name
    )


def test_clients_and_blocking_sweeps_share_one_loop_thread(server: ServerThread) -> None:
    with KairosClient(server.url) as first, KairosClient(server.url) as second:
        assert len(list(first.stream_run(scenario("loop-a"), 50))) == 50
        assert len(list(second.stream_run(scenario("loop-b"), 50))) == 50
        result = sweep(build, {"capability": [300, 400]}, ticks=50, client=first, progress=False)
        assert len(result.rows) == 2
        assert loop_threads() == ["kairos-loop"]
    # Closing the clients closes what they held on it; the thread serves the next client.
    with KairosClient(server.url) as third:
        assert len(list(third.stream_run(scenario("loop-c"), 50))) == 50
    assert loop_threads() == ["kairos-loop"]
