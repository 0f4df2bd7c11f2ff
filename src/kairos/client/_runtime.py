"""The one hand-written runtime behind the generated stubs (``kairos_api.Runtime``).

Queries and mutations run the sans-I/O call machine (:mod:`._machine`) through the sync or the
async HTTP driver. Subscriptions run over the per-loop stream manager (:mod:`._streams`), whose
connections drive the sans-I/O subscription machine; the sync ``subscribe`` iterates the same
async code on the client's background loop. A tracked trace stream is checked by
:func:`~kairos._trpc.resume.check_chunk` inside the machine, so a consumer sees every step
exactly once and in order across reconnects, or a typed error; never a hole.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pydantic

from kairos._arguments import from_pydantic
from kairos._trpc.resume import check_chunk
from kairos.errors import APIProtocolError
from kairos_api import PROCEDURES, KairosAPI, Procedure, SimulationIdInput, TraceChunk
from kairos_api.procedures import SIMULATION_CANCEL

from ._bridge import BridgedIterator
from ._connections import Connections
from ._gc_paused import gc_paused
from ._http import drive_async, drive_sync
from ._machine import call_machine, encode_input
from ._preflight import as_scenario
from ._settings import ClientSettings

__all__ = ["ClientRuntime", "check_arguments"]

InputT = TypeVar("InputT", bound="pydantic.BaseModel | None")
OutputT = TypeVar("OutputT", bound=pydantic.BaseModel)


class ClientRuntime:
    """Implements ``call``/``acall``/``subscribe``/``asubscribe`` for one set of settings."""

    def __init__(self, settings: ClientSettings, connections: Connections) -> None:
        self.settings = settings
        self.connections = connections

    def call(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        allow_unsafe_retry: bool | None = None,
    ) -> OutputT:
        """Run a query or mutation with blocking I/O."""
        machine = call_machine(
            procedure, input, self.settings, allow_unsafe_retry=allow_unsafe_retry
        )
        return drive_sync(machine, self.connections.http())

    async def acall(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        allow_unsafe_retry: bool | None = None,
    ) -> OutputT:
        """Run a query or mutation on the running event loop."""
        machine = call_machine(
            procedure, input, self.settings, allow_unsafe_retry=allow_unsafe_retry
        )
        return await drive_async(machine, self.connections.for_loop().http)

    def subscribe(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        owned_simulation: str | None = None,
    ) -> BridgedIterator[OutputT]:
        """Iterate a subscription from blocking code (on the client's background loop)."""
        return self.connections.bridge.iterate(
            lambda: self.asubscribe(procedure, input, owned_simulation=owned_simulation)
        )

    async def asubscribe(
        self,
        procedure: Procedure[InputT, OutputT],
        input: InputT,
        *,
        owned_simulation: str | None = None,
    ) -> AsyncGenerator[OutputT, None]:
        """Iterate a subscription's decoded events; resumable streams survive lost sockets.

        ``owned_simulation`` is cancelled when the consumer leaves before the end (the stream
        of a run that ``stream_run`` created); any stream is stopped on the server then.
        """
        payload = encode_input(procedure, input, self.settings)
        resources = self.connections.for_loop()
        manager = resources.streams
        on_abandon = None
        if owned_simulation is not None:
            on_abandon = self._canceller(owned_simulation, resources.http)
        chunks = procedure.tracked and procedure.output_model is TraceChunk
        # A caller resuming a stream (``StreamInput(last_event_id=...)``) starts the machine's
        # one tracked id there, so the exactly-once check expects the tick after it.
        resume_after = getattr(input, "last_event_id", None)
        stream = await manager.subscribe(
            procedure.path,
            payload,
            last_event_id=resume_after if isinstance(resume_after, str) else None,
            check=check_chunk if chunks else None,
            on_abandon=on_abandon,
        )
        events = manager.events(stream, self.settings.stream_idle_timeout)
        async with contextlib.aclosing(events):
            async for item in events:
                data = item.data
                if isinstance(data, pydantic.BaseModel) and not isinstance(
                    data, procedure.output_model
                ):  # the driver validated it as a trace chunk: another model wants its JSON
                    data = data.model_dump(mode="json", by_alias=True, exclude_unset=True)
                try:
                    with gc_paused():  # a trace chunk from SSE: thousands of new objects
                        event = procedure.output_model.model_validate(data)
                except pydantic.ValidationError as exc:
                    raise APIProtocolError(
                        f"an event of {procedure.path} does not match the API schema: {exc}",
                        path=procedure.path,
                    ) from None
                yield event

    def _canceller(
        self, simulation_id: str, http: httpx.AsyncClient
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """``on_abandon`` for a stream that owns ``simulation_id``: cancel it, through this
        loop's HTTP client (closed after the stream manager). The id is noted with the
        connections first, so that closing the client cancels it should this be interrupted."""
        connections = self.connections

        def on_abandon() -> Coroutine[Any, Any, None]:
            connections.note_abandoned(simulation_id)

            async def cancel() -> None:
                machine = call_machine(
                    SIMULATION_CANCEL, SimulationIdInput(id=simulation_id), self.settings
                )
                await drive_async(machine, http)
                connections.cancelled(simulation_id)

            return cancel()

        return on_abandon


def check_arguments(api: KairosAPI, runtime: ClientRuntime) -> None:
    """Give every generated procedure of ``api`` the client's argument handling.

    The generated stubs build their input model from their keyword arguments before handing it
    to the runtime, so a mistake there would escape as a raw ``pydantic.ValidationError``, and
    an ``AISafetyScenario`` would be refused where a ``Scenario`` is expected. Each namespace is
    replaced by a subclass whose methods first convert a builder to the scenario form the
    input takes, then check the arguments against the procedure's input model (raising
    :class:`~kairos.errors.ValidationError` naming each argument), then call the stub.
    """
    for router, namespace in list(vars(api).items()):
        if type(namespace).__module__ == "kairos_api.namespaces":
            setattr(api, router, _checked_class(type(namespace), router)(runtime))


_CHECKED: dict[tuple[type[Any], str], type[Any]] = {}


def _checked_class(cls: type[Any], router: str) -> type[Any]:
    if (cls, router) in _CHECKED:
        return _CHECKED[cls, router]
    members: dict[str, Any] = {"__doc__": cls.__doc__, "__module__": __name__}
    for name, stub in vars(cls).items():
        if name.startswith("_") or not callable(stub):
            continue
        procedure = _procedure_of(cls, router, name)
        if procedure is not None and procedure.input_model is not None:
            members[name] = _checked_stub(stub, procedure, f"client.{router}.{name}()")
    checked: type[Any] = type(cls.__name__, (cls,), members)
    _CHECKED[cls, router] = checked
    return checked


def _procedure_of(cls: type[Any], router: str, name: str) -> Procedure[Any, Any] | None:
    """The procedure behind stub ``name`` (``acreate`` is the async twin of ``create``)."""
    if f"{router}.{name}" in PROCEDURES:
        return PROCEDURES[f"{router}.{name}"]
    if name.startswith("a") and name[1:] in vars(cls):
        return PROCEDURES.get(f"{router}.{name[1:]}")
    return None


def _checked_stub(
    stub: Callable[..., Any], procedure: Procedure[Any, Any], where: str
) -> Callable[..., Any]:
    model = procedure.input_model
    assert model is not None
    scenario_fields = {
        name: _is_dict(field.annotation)
        for name, field in model.model_fields.items()
        if name == "scenario"
    }

    def prepare(kwargs: dict[str, Any]) -> dict[str, Any]:
        for name, wire in scenario_fields.items():
            if name in kwargs:
                kwargs[name] = as_scenario(kwargs[name], wire, where)
        try:
            model.model_validate(kwargs)
        except pydantic.ValidationError as exc:
            raise from_pydantic(exc, where) from None
        return kwargs

    if inspect.iscoroutinefunction(stub):

        @functools.wraps(stub)
        async def checked_async(self: Any, **kwargs: Any) -> Any:
            return await stub(self, **prepare(kwargs))

        return checked_async

    @functools.wraps(stub)
    def checked(self: Any, **kwargs: Any) -> Any:
        return stub(self, **prepare(kwargs))

    return checked


def _is_dict(annotation: object) -> bool:
    return annotation is dict or getattr(annotation, "__origin__", None) is dict
