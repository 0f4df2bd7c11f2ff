"""``KairosClient``: the one entry point of the SDK (sync and async on the same object)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal, overload

from kairos._arguments import Arguments
from kairos._closing import ClosedOnExit
from kairos.trace import LazyTrace, Trace
from kairos_api import Decree, DecreeEvent, KairosAPI, TraceStep
from kairos_api.enums import AISafetyEventType
from kairos_api.procedures import SIMULATION_DECREE

from . import _embedded
from ._connections import Connections
from ._flows import adrive, drive, run_chunks, run_flow, trace_flow
from ._logging import configure_from_env
from ._preflight import ScenarioLike, check_run, create_request
from ._runs import create_input, decree_input
from ._runtime import ClientRuntime, check_arguments
from ._settings import ClientSettings, env_api_key, env_url

__all__ = ["KairosClient"]

_UNSET: Any = object()


class KairosClient(ClosedOnExit, KairosAPI):
    """The KAIROS client: high-level runs plus every API procedure, sync and async.

    ``url`` falls back to ``KAIROS_URL`` and ``api_key`` to ``KAIROS_API_KEY``; with no URL at
    all the client starts the embedded reference server in this process (logged once at INFO)
    so that the documentation's examples run with nothing configured. ``timeout`` bounds each
    HTTP request and WebSocket opening; ``engine_version`` pins the engine (sent as
    ``x-kairos-engine-version`` and in ``simulation.create``'s ``engineVersion``); 429, 502 and
    503 answers, and connection errors of retry-safe procedures, are retried up to
    ``max_retries`` times after ``retry_backoff * 2**n`` seconds plus jitter, or after the
    server's ``Retry-After``. ``simulation.create`` always carries an idempotency key but is
    retried after a connection error only with ``retry_create_on_connection_error=True`` (the
    key makes that safe; the default stays conservative, as documented). ``stream_idle_timeout``
    raises ``APITimeoutError`` when a stream stays silent that long (None: wait forever).
    ``stream_transport`` is ``"ws"`` (WebSocket), ``"sse"`` (Server-Sent Events, for networks
    that block WebSockets) or ``"auto"`` (WebSocket, falling back to SSE when the upgrade is
    refused); both resume exactly once after a cut.

    The generated procedures are here too: ``client.simulation.get(id=...)``, ``await
    client.simulation.aget(id=...)``. One client is meant to be shared: it is safe across
    threads (sync) and tasks (async), pools its connections and multiplexes streams over few
    WebSockets. Close it (``with``/``async with``/``close()``) to release them.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        engine_version: str | None = None,
        max_retries: int = 3,
        retry_backoff: float = 1.0,
        *,
        retry_create_on_connection_error: bool = False,
        stream_idle_timeout: float | None = 300.0,
        default_headers: Mapping[str, str] | None = None,
        stream_transport: Literal["auto", "ws", "sse"] = "auto",
    ) -> None:
        configure_from_env()
        resolved = url if url not in (None, "") else env_url()
        # Every argument is checked before an embedded server is started for a missing URL.
        settings = ClientSettings.from_options(
            "KairosClient()",
            url=resolved if resolved is not None else "http://127.0.0.1",
            api_key=api_key if api_key not in (None, "") else env_api_key(),
            timeout=timeout,
            engine_version=engine_version,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            retry_create_on_connection_error=retry_create_on_connection_error,
            stream_idle_timeout=stream_idle_timeout,
            default_headers=default_headers,
            stream_transport=stream_transport,
        )
        self._embedded = resolved is None
        if resolved is None:
            settings = settings.replace(url=_embedded.acquire())
        on_close = _embedded.release if self._embedded else None
        self._init(settings, Connections(settings, on_close=on_close), owner=True)

    def _init(self, settings: ClientSettings, connections: Connections, *, owner: bool) -> None:
        self._settings = settings
        self._connections = connections
        self._owner = owner
        self._closed = False
        self._runtime = ClientRuntime(settings, connections)
        KairosAPI.__init__(self, self._runtime)
        check_arguments(self, self._runtime)

    # -- configuration ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (the embedded server's when none was configured)."""
        return self._settings.url

    @property
    def engine_version(self) -> str | None:
        """The engine pin, if any."""
        return self._settings.engine_version

    @property
    def settings(self) -> ClientSettings:
        """The resolved configuration (its repr hides the API key)."""
        return self._settings

    def with_options(
        self,
        *,
        engine_version: str | None = _UNSET,
        timeout: float = _UNSET,
        max_retries: int = _UNSET,
        retry_backoff: float = _UNSET,
        retry_create_on_connection_error: bool = _UNSET,
        stream_idle_timeout: float | None = _UNSET,
    ) -> KairosClient:
        """A client with some options changed that shares this one's connections (cheap; no
        new pool, no new server). Closing it does nothing; close the original."""
        changes = {
            name: value
            for name, value in (
                ("engine_version", engine_version),
                ("timeout", timeout),
                ("max_retries", max_retries),
                ("retry_backoff", retry_backoff),
                ("retry_create_on_connection_error", retry_create_on_connection_error),
                ("stream_idle_timeout", stream_idle_timeout),
            )
            if value is not _UNSET
        }
        settings = self._settings.with_options("KairosClient.with_options()", **changes)
        clone = object.__new__(KairosClient)
        clone._embedded = False
        clone._init(settings, self._connections, owner=False)
        return clone

    def __repr__(self) -> str:
        key = "'[REDACTED]'" if self._settings.api_key else "None"
        embedded = ", embedded=True" if self._embedded else ""
        return (
            f"KairosClient(url={self._settings.url!r}, api_key={key}, "
            f"engine_version={self._settings.engine_version!r}{embedded})"
        )

    # -- runs -----------------------------------------------------------------------------------

    @overload
    def run(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: None = None,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> Trace: ...

    @overload
    def run(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: str | os.PathLike[str],
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> LazyTrace: ...

    def run(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: str | os.PathLike[str] | None = None,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> Trace | LazyTrace:
        """Create a simulation, stream it to completion and return its :class:`Trace`.

        With ``out="trace.jsonl"`` the steps are written to that file as they arrive and a
        :class:`LazyTrace` over it is returned (memory stays constant). The scenario is checked
        before anything is sent (``ValidationError``); a retired ``engine_version`` raises
        ``EngineVersionError``; a simulation that fails or is cancelled raises
        ``SimulationError`` (``.simulation_id``) rather than returning a short trace.
        ``progress``, if given, is called with the number of new steps as each chunk arrives
        (for a progress bar). Every argument is checked before anything is sent; a mistake
        raises ``ValidationError`` naming the argument.

        An event scheduled after the last tick is refused (``ValidationError``), because a
        run that silently leaves out part of its scenario is easily mistaken for the whole.
        For a quick look at the start of such a scenario pass ``drop_late_events=True``: those
        events are then left out of the scenario sent (the steps up to ``ticks`` are the same
        as the full scenario's).
        """
        request = create_request(
            scenario,
            ticks,
            engine_version,
            organization_id,
            idempotency_key,
            where="KairosClient.run()",
            drop_late_events=drop_late_events,
            out=out,
            progress=progress,
            retry_create_on_connection_error=retry_create_on_connection_error,
        )
        flow = run_flow(request, out, progress, retry_create_on_connection_error)
        return drive(flow, self._runtime)

    @overload
    async def arun(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: None = None,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> Trace: ...

    @overload
    async def arun(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: str | os.PathLike[str],
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> LazyTrace: ...

    async def arun(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        out: str | os.PathLike[str] | None = None,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
        progress: Callable[[int], object] | None = None,
        drop_late_events: bool = False,
    ) -> Trace | LazyTrace:
        """The async twin of :meth:`run`."""
        request = create_request(
            scenario,
            ticks,
            engine_version,
            organization_id,
            idempotency_key,
            where="KairosClient.arun()",
            drop_late_events=drop_late_events,
            out=out,
            progress=progress,
            retry_create_on_connection_error=retry_create_on_connection_error,
        )
        flow = run_flow(request, out, progress, retry_create_on_connection_error)
        return await adrive(flow, self._runtime)

    def stream_run(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
    ) -> Iterator[TraceStep]:
        """Create a simulation and yield its steps as they are computed, in constant memory.

        The scenario is checked now (``ValidationError`` before any I/O); the simulation is
        created when iteration starts. Every tick arrives exactly once and in order, across
        lost connections, or a typed error is raised.

        Leaving before the last step abandons the run: ``break`` (once the iterator is
        collected), ``close()`` on the iterator, an exception such as KeyboardInterrupt, or
        closing the client stop the stream and cancel the simulation this call created, quietly
        (stream a simulation you created yourself with ``client.simulation.stream`` to keep it
        running when you leave). Closing the iterator waits until that is done.
        """
        model = check_run(scenario, ticks)
        request = create_input(model, ticks, engine_version, organization_id, idempotency_key)

        def steps() -> Iterator[TraceStep]:
            chunks = self._connections.bridge.iterate(
                lambda: run_chunks(self._runtime, request, retry_create_on_connection_error)
            )
            try:
                for chunk in chunks:
                    yield from chunk.steps
            finally:
                chunks.close()

        return steps()

    def astream_run(
        self,
        scenario: ScenarioLike,
        ticks: int,
        organization_id: str | None = None,
        engine_version: str | None = None,
        *,
        idempotency_key: str | None = None,
        retry_create_on_connection_error: bool | None = None,
    ) -> AsyncIterator[TraceStep]:
        """The async twin of :meth:`stream_run` (``async for step in client.astream_run(...)``).

        It is abandoned as :meth:`stream_run` is: ``aclose()``, collection after ``break``,
        cancelling the task that iterates it, or closing the client."""
        model = check_run(scenario, ticks)
        request = create_input(model, ticks, engine_version, organization_id, idempotency_key)

        async def steps() -> AsyncIterator[TraceStep]:
            chunks = run_chunks(self._runtime, request, retry_create_on_connection_error)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    for step in chunk.steps:
                        yield step

        return steps()

    # -- decrees and existing simulations ------------------------------------------------------

    def decree(
        self,
        simulation_id: str,
        event: DecreeEvent | Mapping[str, Any] | AISafetyEventType | str,
        *,
        target: str | None = None,
        magnitude: float | None = None,
        idempotency_key: str | None = None,
    ) -> Decree:
        """Submit an intervention into a running (or queued) simulation and return the
        :class:`~kairos_api.Decree`, normally ``applied`` with ``decree.tick``, the tick it took
        effect in: the next tick the engine had not computed.

        ``event`` is an event type with ``target`` and ``magnitude`` (``client.decree(sim_id,
        AISafetyEventType.CONTAINMENT, target="frontier_model", magnitude=0.5)``), or a
        ``DecreeEvent`` / its wire dict. Safe to call while the run streams (from the loop that
        iterates ``stream_run`` or another thread). Every call carries an idempotency key
        (minted when not given), so it is retried after a lost connection without ever being
        applied twice. A finished, failing or cancelled run raises
        :class:`~kairos.errors.DecreeRefusedError`; a bad event ``ValidationError``. The answer
        is ``pending`` (``tick`` None) when the run did not take it up within a few seconds (a
        queued run, say): ``client.simulation.get(id=...).decrees`` shows it later.
        """
        request = decree_input(
            simulation_id, event, target, magnitude, idempotency_key, "KairosClient.decree()"
        )
        return self._runtime.call(SIMULATION_DECREE, request, allow_unsafe_retry=True)

    async def adecree(
        self,
        simulation_id: str,
        event: DecreeEvent | Mapping[str, Any] | AISafetyEventType | str,
        *,
        target: str | None = None,
        magnitude: float | None = None,
        idempotency_key: str | None = None,
    ) -> Decree:
        """The async twin of :meth:`decree`."""
        request = decree_input(
            simulation_id, event, target, magnitude, idempotency_key, "KairosClient.adecree()"
        )
        return await self._runtime.acall(SIMULATION_DECREE, request, allow_unsafe_retry=True)

    @overload
    def trace(self, simulation_id: str, *, out: None = None) -> Trace: ...

    @overload
    def trace(self, simulation_id: str, *, out: str | os.PathLike[str]) -> LazyTrace: ...

    def trace(
        self, simulation_id: str, *, out: str | os.PathLike[str] | None = None
    ) -> Trace | LazyTrace:
        """The :class:`Trace` of an existing simulation (created earlier, by another process,
        or decreed), once it has finished: this waits for it. ``out=`` writes the steps to a
        file and returns a :class:`LazyTrace`, as :meth:`run` does. The metadata carries the
        scenario as submitted and the decrees, so ``trace.replay_scenario()`` rebuilds the run.
        A failed or cancelled simulation raises ``SimulationError``; an unknown id
        ``NotFoundError``."""
        ident = _trace_arguments(simulation_id, out, "KairosClient.trace()")
        return drive(trace_flow(ident, out), self._runtime)

    @overload
    async def atrace(self, simulation_id: str, *, out: None = None) -> Trace: ...

    @overload
    async def atrace(self, simulation_id: str, *, out: str | os.PathLike[str]) -> LazyTrace: ...

    async def atrace(
        self, simulation_id: str, *, out: str | os.PathLike[str] | None = None
    ) -> Trace | LazyTrace:
        """The async twin of :meth:`trace`."""
        ident = _trace_arguments(simulation_id, out, "KairosClient.atrace()")
        return await adrive(trace_flow(ident, out), self._runtime)

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close connections, the background loop and (for the last client using it) the
        embedded server. Safe to call twice; a ``with_options`` copy's close does nothing."""
        if self._closed or not self._owner:
            return
        self._closed = True
        self._connections.close()

    async def aclose(self) -> None:
        """Close this event loop's connections, then everything :meth:`close` closes."""
        if self._closed or not self._owner:
            return
        await self._connections.aclose_loop()
        self.close()

    async def __aenter__(self) -> KairosClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _trace_arguments(simulation_id: object, out: object, where: str) -> str:
    args = Arguments(where)
    ident = args.string("simulation_id", simulation_id, none=False)
    args.path("out", out, new=True)
    args.check()
    assert ident is not None
    return ident
