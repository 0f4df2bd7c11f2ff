"""Fault injection against a real ``kairos serve``: a TCP/WebSocket proxy (tests/client/faults.py)
drops, delays, truncates and resets connections and injects 429/502/503 answers; the server
process itself is killed, restarted and shut down gracefully under streaming clients.

Every check is on data (what the server stored, every tick once, the engine's hash), except the
retry-budget test, which bounds the time a failing call may take by what its policy allows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kairos.client import KairosClient
from kairos.errors import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    KairosError,
    RateLimitError,
)
from tests.client.faults import FaultProxy, error_body

from .conftest import (
    Serve,
    ServeFactory,
    TraceHasher,
    engine_sha256,
    free_port,
    reliability_scenario,
)

FAST = {"retry_backoff": 0.01, "timeout": 5.0}


@pytest.fixture(params=["sync", "async"])
def use_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """One ``kairos serve`` for the tests that do not restart it."""
    factory = ServeFactory(tmp_path_factory.mktemp("faults"))
    try:
        yield factory("--workers", "2", "--rate-limit", "0")
    finally:
        factory.close()


@pytest.fixture
def proxy(shared: Serve) -> Iterator[FaultProxy]:
    fault = FaultProxy(shared.port)
    fault.start()
    yield fault
    fault.stop()


def simulations_named(url: str, name: str) -> list[Any]:
    """Every simulation the server holds under ``name`` (all pages)."""
    found: list[Any] = []
    cursor = None
    with KairosClient(url) as client:
        while True:
            page = client.simulation.list(limit=100, cursor=cursor)
            found += [s for s in page.items if s.scenario_name == name]
            cursor = page.next_cursor
            if cursor is None:
                return found


# -- 1. connection faults around simulation.create -----------------------------------------------

FAULTS = {
    "reset-before-server": "reset",  # the request never reaches the server
    "dropped-after-commit": "drop_response",  # the server filed it; the answer is lost
    "truncated-after-commit": ("truncate", 40),  # half an answer, then a reset
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("retry_create", [False, True], ids=["no-retry", "retry"])
async def test_create_under_connection_faults_never_duplicates(
    shared: Serve, proxy: FaultProxy, fault: str, retry_create: bool, use_async: bool
) -> None:
    name = f"create-{fault}-{uuid.uuid4().hex[:8]}"
    reached_server = fault != "reset-before-server"
    proxy.push(FAULTS[fault])
    outcome: Any
    with KairosClient(
        proxy.start_url, max_retries=3, retry_create_on_connection_error=retry_create, **FAST
    ) as client:
        try:
            if use_async:
                outcome = await client.arun(reliability_scenario(name), ticks=30)
            else:
                outcome = client.run(reliability_scenario(name), ticks=30)
        except APIConnectionError as exc:
            outcome = exc
    created = simulations_named(shared.url, name)
    if retry_create:
        # retried with the same idempotency key: one simulation, the one the client got
        assert not isinstance(outcome, Exception), outcome
        assert [s.id for s in created] == [outcome.metadata.simulation_id]
        assert len(outcome) == 30
    else:
        # not retried: a typed error, and the server holds it at most once
        assert isinstance(outcome, APIConnectionError), outcome
        assert outcome.path == "simulation.create"
        assert len(created) == (1 if reached_server else 0)
        assert proxy.requests == (1 if reached_server else 0)


# -- 2. a WebSocket killed every N frames during a 100 000-tick stream ----------------------------

LONG = 100_000


@pytest.mark.parametrize("every", [40])
async def test_stream_survives_a_socket_killed_every_n_frames(
    proxy: FaultProxy, use_async: bool, every: int
) -> None:
    name, seed = f"cut-every-{'a' if use_async else 's'}", 21 if use_async else 22
    proxy.default = ("ws_cut_every", every)
    hasher = TraceHasher()
    with KairosClient(proxy.start_url, max_retries=5, retry_backoff=0.05) as client:
        if use_async:
            async for step in client.astream_run(
                reliability_scenario(name, seed), LONG, engine_version="1.4.4"
            ):
                hasher.add(step)
        else:
            for step in client.stream_run(
                reliability_scenario(name, seed), LONG, engine_version="1.4.4"
            ):
                hasher.add(step)
    assert proxy.ws_cuts >= 5, "the sockets were not killed often enough to test anything"
    assert hasher.out_of_order == []
    assert hasher.count == LONG
    assert hasher.hexdigest() == engine_sha256(name, seed, LONG)


# -- 3. the server process killed and restarted mid-stream -----------------------------------------


def _restart_in_background(serve: ServeFactory, first: Serve, how: str) -> threading.Thread:
    def restart() -> None:
        if how == "kill":
            first.kill()
        else:
            first.stop(timeout=15)  # SIGTERM: graceful, with the reconnect notification
        serve("--workers", "2", "--rate-limit", "0", port=first.port, name="srv")

    thread = threading.Thread(target=restart)
    thread.start()
    return thread


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_stream_resumes_on_a_restarted_server_process(
    serve: ServeFactory, use_async: bool
) -> None:
    first = serve("--workers", "2", "--rate-limit", "0", port=free_port(), name="srv")
    name, seed, ticks = "killed-mid-stream", 31 + use_async, 60_000
    hasher = TraceHasher()
    restarter: threading.Thread | None = None
    try:
        with KairosClient(first.url, max_retries=10, retry_backoff=0.1) as client:
            stream: Any = (
                client.astream_run(reliability_scenario(name, seed), ticks, engine_version="1.4.4")
                if use_async
                else client.stream_run(
                    reliability_scenario(name, seed), ticks, engine_version="1.4.4"
                )
            )
            if use_async:
                async for step in stream:
                    hasher.add(step)
                    if step.t == 5_000:
                        restarter = _restart_in_background(serve, first, "kill")
            else:
                for step in stream:
                    hasher.add(step)
                    if step.t == 5_000:
                        restarter = _restart_in_background(serve, first, "kill")
    finally:
        if restarter is not None:
            restarter.join()
    assert restarter is not None and len(serve.started) == 2
    assert first.process.returncode == -9  # it really was killed
    assert hasher.out_of_order == []
    assert hasher.count == ticks
    assert hasher.hexdigest() == engine_sha256(name, seed, ticks)


# -- 4. retry budgets: a typed error, within the time the policy allows ----------------------------


def budget_bound(client: KairosClient, per_attempt: float, hint: float | None = None) -> float:
    """The longest a failing call may take under the client's retry policy: every attempt
    taking ``per_attempt`` (at most the request timeout), and every wait its maximum (the
    capped Retry-After ``hint`` when given, else the backoff with full jitter), within the
    policy's total-wait cap; plus 2 s of slack for a loaded machine's scheduling."""
    policy = client.settings.policy
    waits = [
        min(hint, policy.max_retry_after) if hint is not None else policy.backoff_delay(a, 1.0)
        for a in range(policy.max_retries)
    ]
    return min(sum(waits), policy.max_total_delay) + (policy.max_retries + 1) * per_attempt + 2.0


def injected(code: int, **headers: str) -> tuple[str, int, dict[str, str], bytes]:
    key = {429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}[code]
    number = {429: -32029}.get(code, -32603)
    return ("status", code, headers, error_body(key, code, number, "engine.versions"))


BUDGETS: dict[str, tuple[Any, type[KairosError], float | None]] = {
    "429-retry-after": (injected(429, **{"retry-after": "0.2"}), RateLimitError, 0.2),
    "502": (injected(502), InternalServerError, None),
    "503": (injected(503), InternalServerError, None),
    "reset": ("reset", APIConnectionError, None),
    "slow-timeout": ("hang", APITimeoutError, None),
}


@pytest.mark.parametrize("fault", list(BUDGETS))
async def test_spent_retry_budget_raises_a_typed_error_in_bounded_time(
    proxy: FaultProxy, fault: str, use_async: bool
) -> None:
    mode, error_type, hint = BUDGETS[fault]
    proxy.default = mode
    with KairosClient(proxy.start_url, max_retries=3, retry_backoff=0.05, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(error_type) as info:
            if use_async:
                await client.engine.aversions()
            else:
                client.engine.versions()
        elapsed = time.monotonic() - started
        bound = budget_bound(client, per_attempt=client.settings.timeout, hint=hint)
    assert info.value.path == "engine.versions"
    assert proxy.connections == 4  # one attempt and max_retries retries, no more
    assert elapsed <= bound, f"{elapsed:.2f} s > the policy's bound {bound:.2f} s"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_stream_reconnect_budget_is_bounded(proxy: FaultProxy, use_async: bool) -> None:
    """The server goes away for good mid-stream: the stream ends in APIConnectionError within
    the reconnect budget (each reconnect episode spends at most one policy budget)."""
    cut_at: list[float] = []
    steps = 0
    with KairosClient(proxy.start_url, max_retries=3, retry_backoff=0.05, timeout=0.5) as client:
        with pytest.raises(APIConnectionError):
            stream: Any = (
                client.astream_run(reliability_scenario("gone", 41), LONG)
                if use_async
                else client.stream_run(reliability_scenario("gone", 41), LONG)
            )
            if use_async:
                async for _ in stream:
                    steps += 1
                    if steps == 300:
                        proxy.default = "reset"
                        proxy.cut()
                        cut_at.append(time.monotonic())
            else:
                for _ in stream:
                    steps += 1
                    if steps == 300:
                        proxy.default = "reset"
                        proxy.cut()
                        cut_at.append(time.monotonic())
        elapsed = time.monotonic() - cut_at[0]
        bound = budget_bound(client, per_attempt=client.settings.timeout)
    assert elapsed <= bound, f"{elapsed:.2f} s > the policy's bound {bound:.2f} s"


# -- 5. graceful shutdown with several clients streaming, then a new server ------------------------


async def test_graceful_shutdown_moves_every_client_to_the_new_server(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kairos")
    first = serve("--workers", "2", "--rate-limit", "0", port=free_port(), name="srv")
    ticks, clients = 40_000, 4
    hashers = [TraceHasher() for _ in range(clients)]
    restarted = threading.Event()
    restarter: list[threading.Thread] = []

    async def one(index: int) -> None:
        name = f"graceful-{index}"
        async with KairosClient(first.url, max_retries=10, retry_backoff=0.1) as client:
            async for step in client.astream_run(
                reliability_scenario(name, 50 + index), ticks, engine_version="1.4.4"
            ):
                hashers[index].add(step)
                if index == 0 and step.t == 3_000 and not restarter:
                    restarter.append(_restart_in_background(serve, first, "sigterm"))
                    restarted.set()
                if step.t == 6_000 and not restarted.is_set():
                    await asyncio.sleep(0)  # the others keep going; nothing to wait for

    try:
        results = await asyncio.gather(*(one(i) for i in range(clients)), return_exceptions=True)
    finally:
        for thread in restarter:
            thread.join()
    assert [r for r in results if r is not None] == []  # no client saw an error
    assert first.process.returncode is not None and len(serve.started) == 2
    notified = [r for r in caplog.records if "server asked to reconnect" in r.getMessage()]
    assert len(notified) >= 1
    for index, hasher in enumerate(hashers):
        assert hasher.out_of_order == [], index
        assert hasher.count == ticks, index
        assert hasher.hexdigest() == engine_sha256(f"graceful-{index}", 50 + index, ticks)


def test_fault_proxy_delays_are_only_latency(proxy: FaultProxy, tmp_path: Path) -> None:
    """A slow answer (delayed connections) costs time, never correctness."""
    proxy.push(("delay", 0.3), ("delay", 0.3))
    with KairosClient(proxy.start_url, timeout=5) as client:
        trace = client.run(reliability_scenario("slow", 61), ticks=200, engine_version="1.4.4")
    assert len(trace) == 200
    hasher = TraceHasher()
    for step in trace:
        hasher.add(step)
    assert hasher.hexdigest() == engine_sha256("slow", 61, 200)


# -- 6. flow control: one slow subscription does not stall the others on a shared socket ----------


def test_interleaved_sync_streams_on_one_socket_do_not_block_each_other(
    shared: Serve,
) -> None:
    """Two sync ``stream_run`` iterators of one client share its WebSocket. The consumer reads
    one step of A, then all of B, then the rest of A: A's consumer is full the whole time B is
    read, which must not hold B back (head-of-line blocking), and A then resumes exactly."""
    ticks = 20_000
    with KairosClient(shared.url, stream_idle_timeout=10) as client:
        a = client.stream_run(reliability_scenario("hol-a", 71), ticks, engine_version="1.4.4")
        b = client.stream_run(reliability_scenario("hol-b", 72), ticks, engine_version="1.4.4")
        first = next(a)
        time.sleep(0.5)  # A's queues fill up while nobody reads them
        hasher_b = TraceHasher()
        for step in b:
            hasher_b.add(step)
        hasher_a = TraceHasher()
        hasher_a.add(first)
        for step in a:
            hasher_a.add(step)
    for hasher, name, seed in ((hasher_a, "hol-a", 71), (hasher_b, "hol-b", 72)):
        assert hasher.out_of_order == [] and hasher.count == ticks
        assert hasher.hexdigest() == engine_sha256(name, seed, ticks)


# -- 7. a pooled connection the server is closing as the next request arrives ----------------------


async def test_create_after_an_idle_pause_is_not_sent_on_a_connection_the_server_drops(
    shared: Serve, proxy: FaultProxy
) -> None:
    """The server (as uvicorn does after 5 s) closes idle keep-alive connections. A request
    sent on one as its timer fires is reset unanswered, and a create is not retried after
    that: the client must not keep idle connections as long as the server does. Found by the
    load test (98 of 3,400 operations failed with ReadError on simulation.create)."""
    proxy.default = ("idle_reset", 4.5)  # a 5 s keep-alive timer firing a little early
    with KairosClient(proxy.start_url, max_retries=3, retry_backoff=0.01) as client:
        await client.engine.aversions()  # one pooled connection, then silence
        await asyncio.sleep(4.6)
        record = await client.simulation.acreate(
            scenario=reliability_scenario("after-idle", 81).to_wire(), ticks=10
        )
    assert proxy.idle_resets == 0  # the idle connection was not reused
    assert [s.id for s in simulations_named(shared.url, "after-idle")] == [record.id]


# -- 8. the socket a client moves to after a reconnect notification dies at once -------------------


async def test_the_socket_moved_to_after_a_reconnect_notice_may_die_too() -> None:
    """A server told its clients to reconnect but still accepts for a moment (kairos serve
    flushes the notification before closing its listener): the client's new socket lands on
    the old server and is closed at once, while the client is still letting go of the old one.
    The client must recover from that socket too, not wait forever on a dead one."""
    import json as _json

    from websockets.asyncio.server import ServerConnection, serve

    from kairos import engine
    from kairos._trpc.ws_server import (
        encode_data,
        encode_reconnect,
        encode_started,
        encode_stopped,
    )

    steps = list(engine.iter_steps(reliability_scenario("move", 91).to_wire(), 30, "1.4.4"))
    connections: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(len(connections) + 1)
        number = len(connections)
        if number == 2:
            await ws.close()  # the old server, shutting down, drops the new socket
            return
        async for frame in ws:
            message = _json.loads(frame)
            if message.get("method") != "subscription":
                continue
            sub = message["id"]
            params = message["params"]
            after = int(params.get("lastEventId") or params["input"].get("lastEventId") or 0)
            await ws.send(encode_started(sub))
            for step in steps[after : 10 if number == 1 else None]:
                await ws.send(encode_data(sub, {"steps": [step]}, tracked_id=str(step["t"])))
            await ws.send(encode_reconnect() if number == 1 else encode_stopped(sub))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        received: list[int] = []
        async with KairosClient(
            f"http://127.0.0.1:{port}", stream_idle_timeout=5, retry_backoff=0.05
        ) as client:
            async for chunk in client.simulation.astream(id="sim_move"):
                received += [s.t for s in chunk.steps]
    assert received == list(range(1, 31))
    assert len(connections) >= 3


def test_a_slow_stream_alone_on_its_socket_is_not_paused(
    shared: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """Pausing is for shared sockets: a lone slow consumer slows its socket (TCP backpressure)
    instead of re-subscribing over and over (each re-subscription counts against the
    server's rate limit)."""
    caplog.set_level(logging.DEBUG, logger="kairos.client")
    ticks = 20_000
    with KairosClient(shared.url) as client:
        done = client.run(reliability_scenario("lone", 73), ticks, engine_version="1.4.4")
        hasher = TraceHasher()
        for n, chunk in enumerate(client.simulation.stream(id=done.metadata.simulation_id)):
            if n == 0:
                time.sleep(0.5)  # the whole stored trace is ready: every queue fills up
            for step in chunk.steps:
                hasher.add(step)
    assert hasher.count == ticks and hasher.hexdigest() == engine_sha256("lone", 73, ticks)
    assert not [r for r in caplog.records if "pausing a subscription" in r.getMessage()]
