"""The API's procedures, independent of HTTP and WebSocket.

Every handler receives a :class:`Caller` (who is asking, resolved by the transport from the API
key) and the procedure's input, already validated with the generated model of the registry, and
returns a JSON-ready value or raises an error carrying a tRPC code. Organizations are isolated:
another organization's simulation is NOT_FOUND, never FORBIDDEN, so ids reveal nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kairos import engine, scenarios
from kairos._trpc import ErrorKey, TRPCError
from kairos.server._config import ServerConfig
from kairos.server._details import (
    decree_error,
    engine_version_error,
    limit_error,
    simulation_error,
    validation_error,
)
from kairos.server._execute import replay_scenario, utc_now
from kairos.server._executor import Executor
from kairos.server._pool import Notifier
from kairos.server._series import SeriesCache, reduce_series
from kairos.server._store import (
    DecreeConflict,
    DecreeRecord,
    DecreeRefused,
    IdempotencyConflict,
    NewSimulation,
    SimulationRecord,
    SimulationStore,
)
from kairos_api import models

CANCEL_WAIT_SECONDS = 5.0
DECREE_WAIT_SECONDS = 5.0

# Fixed for the life of the process: built (and checked against the schema) once.
_VERSIONS = models.EngineVersions.model_validate(engine.engine_versions())
_DOMAINS = models.DomainList.model_validate(engine.domain_info())
_LIBRARY = models.LibraryScenarioList(
    data=[models.LibraryScenarioInfo.model_validate(e.info()) for e in scenarios.entries()]
)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the transport established it."""

    owner: str
    """The isolation scope of the caller's simulations (its organization, or anonymous)."""
    organization_id: str | None
    """The organization of the caller's API key; None on a server without keys."""
    engine_version: str | None = None
    """The ``x-kairos-engine-version`` header, when sent."""


@dataclass(frozen=True)
class Tracked:
    """A subscription event with its tracked id; ``data_json`` is the event as JSON text."""

    id: str
    data_json: str


def _error(code: ErrorKey, message: str) -> TRPCError:
    return TRPCError(code, message)


class Service:
    """The procedures of one server, over its store and executor (local workers or Dask)."""

    def __init__(
        self,
        config: ServerConfig,
        store: SimulationStore,
        pool: Executor,
        notifier: Notifier,
    ) -> None:
        self.config = config
        self.store = store
        self.pool = pool
        self.notifier = notifier
        self.series_cache = SeriesCache(store)
        self.handlers: dict[str, Callable[[Caller, Any], Awaitable[Any]]] = {
            "engine.versions": self.engine_versions,
            "domain.list": self.domain_list,
            "scenario.validate": self.scenario_validate,
            "scenario.list": self.scenario_list,
            "scenario.get": self.scenario_get,
            "simulation.create": self.simulation_create,
            "simulation.get": self.simulation_get,
            "simulation.list": self.simulation_list,
            "simulation.trace": self.simulation_trace,
            "simulation.series": self.simulation_series,
            "simulation.cancel": self.simulation_cancel,
            "simulation.decree": self.simulation_decree,
            "simulation.scenario": self.simulation_scenario,
        }
        self.subscriptions: dict[str, Callable[[Caller, Any], AsyncIterator[Tracked]]] = {
            "simulation.stream": self.simulation_stream,
        }

    def resume_unfinished(self) -> int:
        """Queue every simulation a previous server left queued or running (on a shared store:
        those of replicas whose lease expired, now claimed by this one); they continue from
        their last checkpoint. Returns how many."""
        unfinished = self.store.claim_unfinished(self.config.lease_seconds)
        for record in unfinished:
            self.pool.submit(record.id)
        return len(unfinished)

    # -- queries ---------------------------------------------------------------------------

    async def engine_versions(self, caller: Caller, _input: None) -> models.EngineVersions:
        return _VERSIONS

    async def domain_list(self, caller: Caller, _input: None) -> models.DomainList:
        return _DOMAINS

    async def scenario_validate(
        self, caller: Caller, input: models.ValidateScenarioInput
    ) -> models.ValidationResult:
        issues = engine.validate_scenario(input.scenario)
        return models.ValidationResult.model_validate(
            {"valid": not issues, "issues": [issue.to_wire() for issue in issues]}
        )

    async def scenario_list(self, caller: Caller, _input: None) -> models.LibraryScenarioList:
        return _LIBRARY

    async def scenario_get(
        self, caller: Caller, input: models.LibraryScenarioIdInput
    ) -> models.LibraryScenario:
        try:
            return models.LibraryScenario.model_validate(scenarios.get(input.id).to_wire())
        except scenarios.UnknownScenarioError as exc:
            raise _error(
                "NOT_FOUND",
                f"no library scenario {input.id!r}; known ids: {', '.join(exc.known)}",
            ) from None

    async def simulation_get(
        self, caller: Caller, input: models.SimulationIdInput
    ) -> models.Simulation:
        return simulation_model(self._find(caller, input.id), self.store)

    async def simulation_list(
        self, caller: Caller, input: models.ListSimulationsInput
    ) -> models.SimulationPage:
        before = _decode_cursor(input.cursor) if input.cursor is not None else None
        records, next_seq = self.store.page(
            caller.owner,
            before_seq=before,
            limit=input.limit,
            organization_id=input.organization_id,
            status=input.status,
        )
        return models.SimulationPage(
            items=[simulation_model(r, self.store) for r in records],
            next_cursor=_encode_cursor(next_seq) if next_seq is not None else None,
        )

    async def simulation_trace(self, caller: Caller, input: models.TraceInput) -> Any:
        record = self._find(caller, input.id)
        lines = await asyncio.to_thread(
            self.store.read_steps, record.id, input.from_tick, input.limit
        )
        steps = [json.loads(line) for line in lines]
        following = input.from_tick + len(steps)
        # A later step exists, or will once the run gets there; null when it never will.
        reachable = following <= record.ticks and (not record.finished or following <= record.tick)
        return {"steps": steps, "nextTick": following if reachable else None}

    async def simulation_series(self, caller: Caller, input: models.SeriesInput) -> Any:
        record = self._find(caller, input.id)
        if input.to_tick is not None and input.to_tick < input.from_tick:
            raise _error("BAD_REQUEST", "toTick must not be before fromTick")
        columns = await asyncio.to_thread(self.series_cache.columns, record.id)
        series = reduce_series(
            columns, input.from_tick, input.to_tick, input.buckets, input.max_markers
        )
        return {"id": record.id, "status": record.status, "ticks": record.ticks, **series}

    # -- mutations -------------------------------------------------------------------------

    async def simulation_create(
        self, caller: Caller, input: models.CreateSimulationInput
    ) -> models.Simulation:
        scenario = input.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
        issues = [
            issue._replace(path=f"scenario.{issue.path}")
            for issue in engine.validate_scenario(scenario, input.ticks)
        ]
        if issues:
            raise validation_error(
                "invalid scenario: "
                + "; ".join(f"{i.path}: {i.message}" for i in issues[:5])
                + (f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""),
                [issue.to_wire() for issue in issues],
            )
        if input.ticks > self.config.max_ticks:
            raise limit_error(
                "BAD_REQUEST",
                f"ticks={input.ticks} exceeds this server's limit of {self.config.max_ticks}",
                "max_ticks",
                self.config.max_ticks,
                actual=input.ticks,
            )
        version = self._engine_version(input.engine_version or caller.engine_version)
        organization_id = self._organization(caller, input.organization_id)
        digest = hashlib.sha256(
            engine.canonical_json(
                {
                    "scenario": scenario,
                    "ticks": input.ticks,
                    "engineVersion": version,
                    "organizationId": organization_id,
                }
            ).encode()
        ).hexdigest()
        new = NewSimulation(
            id="sim_" + base64.b32encode(secrets.token_bytes(15)).decode().lower(),
            owner=caller.owner,
            organization_id=organization_id,
            scenario_json=engine.canonical_json(scenario),
            scenario_name=input.scenario.name,
            domain=input.scenario.domain,
            seed=input.scenario.seed,
            ticks=input.ticks,
            engine_version=version,
            idempotency_key=input.idempotency_key,
            input_hash=digest,
            created_at=utc_now(),
        )
        try:
            record, created = self.store.create(new)
        except IdempotencyConflict as exc:
            raise _error(
                "CONFLICT",
                f"idempotency key already used for {exc.existing.id} with a different input",
            ) from None
        if created:
            self.pool.submit(record.id)
        return simulation_model(record, self.store)

    async def simulation_cancel(
        self, caller: Caller, input: models.SimulationIdInput
    ) -> models.Simulation:
        record = self._find(caller, input.id)
        if record.finished:
            return simulation_model(record, self.store)
        self.store.request_cancel(record.id)
        if record.status == "queued":
            self.store.reject_pending_decrees(record.id, "the simulation was cancelled")
            self.store.finish(record.id, "cancelled", completed_at=utc_now())
            self.notifier.notify(record.id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_WAIT_SECONDS
        while True:
            current = self._find(caller, record.id)
            if current.finished or loop.time() >= deadline:
                return simulation_model(current, self.store)
            await self.notifier.wait(record.id, min(0.2, deadline - loop.time()))

    async def simulation_decree(self, caller: Caller, input: models.DecreeInput) -> models.Decree:
        record = self._find(caller, input.id)
        event = input.event.model_dump(mode="json", by_alias=True, exclude_none=True)
        scenario = json.loads(record.scenario_json)
        # The event is checked as the scenario event it will become (its target must exist).
        probe = {**scenario, "events": [{"tick": 1, **event}]}
        issues = [
            issue._replace(path="event" + issue.path[len("events[0]") :])
            for issue in engine.validate_scenario(probe)
            if issue.path.startswith("events[0]")
        ]
        if issues:
            raise validation_error(
                "invalid decree: " + "; ".join(f"{i.path}: {i.message}" for i in issues),
                [issue.to_wire() for issue in issues],
            )
        try:
            decree, _created = self.store.add_decree(
                decree_id="dec_" + base64.b32encode(secrets.token_bytes(15)).decode().lower(),
                simulation_id=record.id,
                event_json=engine.canonical_json(event),
                idempotency_key=input.idempotency_key,
                created_at=utc_now(),
            )
        except DecreeConflict as exc:
            raise _error(
                "CONFLICT",
                f"idempotency key already used for {exc.existing.id} with a different event",
            ) from None
        except DecreeRefused as exc:
            current = exc.record
            if current.finished:
                reason = "finished"
            elif current.cancel_requested:
                reason = "cancelling"
            else:
                reason = "last_tick"
            raise decree_error(
                current.id,
                current.status,
                reason,
                f"simulation {current.id} cannot take a decree: {exc.reason}",
            ) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DECREE_WAIT_SECONDS
        while decree.status == "pending" and loop.time() < deadline:
            await self.notifier.wait(record.id, min(0.2, deadline - loop.time()))
            current = self._find(caller, record.id)
            if current.finished:
                # A run that ended without taking it up (a queued run cancelled, say).
                self.store.reject_pending_decrees(record.id, f"the simulation {current.status}")
            found = self.store.get_decree(decree.id)
            assert found is not None
            decree = found
        if decree.status == "rejected":
            current = self._find(caller, record.id)
            raise decree_error(
                record.id,
                current.status,
                "last_tick" if current.status in ("running", "completed") else "finished",
                f"simulation {record.id} cannot take decree {decree.id}: {decree.reason}",
            )
        return decree_model(decree)

    async def simulation_scenario(
        self, caller: Caller, input: models.SimulationIdInput
    ) -> models.SimulationScenario:
        record = self._find(caller, input.id)
        scenario = json.loads(record.scenario_json)
        return models.SimulationScenario.model_validate(
            {
                "id": record.id,
                "scenario": scenario,
                "replayScenario": replay_scenario(scenario, self.store.decrees(record.id)),
            }
        )

    # -- subscriptions ---------------------------------------------------------------------

    async def simulation_stream(
        self, caller: Caller, input: models.StreamInput
    ) -> AsyncIterator[Tracked]:
        record = self._find(caller, input.id)
        position = int(input.last_event_id) if input.last_event_id is not None else 0
        while True:
            chunks = await asyncio.to_thread(self._chunks_after, record.id, position)
            applied = [d for d in self.store.decrees(record.id) if d.status == "applied"]
            for last_tick, lines in chunks:
                # Stored steps are canonical JSON already: splice them, don't re-encode.
                data = '{"steps":[' + b",".join(lines).decode() + "]"
                taken = [
                    d for d in applied if d.tick is not None and position < d.tick <= last_tick
                ]
                if taken:
                    wire = [decree_model(d).model_dump(mode="json", by_alias=True) for d in taken]
                    data += ',"decrees":' + json.dumps(wire, separators=(",", ":"))
                yield Tracked(str(last_tick), data + "}")
                position = last_tick
            record = self._find(caller, record.id)
            if position >= record.tick and record.finished:
                if record.status == "completed" or position >= record.ticks:
                    return
                reason = "cancelled"
                message = f"simulation {record.id} was cancelled at tick {record.tick}"
                if record.status == "failed":
                    error = json.loads(record.error_json or "{}")
                    reason = error.get("code", "failed")
                    message = f"simulation {record.id} failed: {error.get('message', reason)}"
                raise simulation_error(record.id, reason, message)
            if position >= record.tick:
                await self.notifier.wait(record.id, self.config.stream_poll_seconds)

    def _chunks_after(self, simulation_id: str, position: int) -> list[tuple[int, list[bytes]]]:
        out = []
        for _first, last, lines in self.store.iter_chunks(simulation_id, after_tick=position):
            out.append((last, lines))
            if len(out) >= 8:  # bounded read per wake-up; the loop comes back for more
                break
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _find(self, caller: Caller, simulation_id: str) -> SimulationRecord:
        record = self.store.get(simulation_id, caller.owner)
        if record is None:
            raise _error("NOT_FOUND", f"simulation {simulation_id!r} not found")
        return record

    def _engine_version(self, requested: str | None) -> str:
        try:
            return engine.resolve_version(requested).version
        except engine.EngineVersionError as exc:
            raise engine_version_error(str(exc), exc.requested, exc.active) from None

    def _organization(self, caller: Caller, requested: str | None) -> str | None:
        if caller.organization_id is None:
            return requested
        if requested is not None and requested != caller.organization_id:
            raise _error(
                "FORBIDDEN",
                f"this API key files simulations under its own organization "
                f"({caller.organization_id}), not {requested}",
            )
        return caller.organization_id


def decree_model(decree: DecreeRecord) -> models.Decree:
    """A decree record as the API answers it (``$defs/Decree``)."""
    return models.Decree.model_validate(
        {
            "id": decree.id,
            "simulationId": decree.simulation_id,
            "event": json.loads(decree.event_json),
            "status": decree.status,
            "tick": decree.tick,
            "reason": decree.reason,
            "createdAt": decree.created_at,
        }
    )


def simulation_model(
    record: SimulationRecord, store: SimulationStore | None = None
) -> models.Simulation:
    """A simulation record as the API answers it (``$defs/Simulation``), with its decrees when
    the store is given."""
    return models.Simulation.model_validate(
        {
            "id": record.id,
            "status": record.status,
            "scenarioName": record.scenario_name,
            "domain": record.domain,
            "seed": record.seed,
            "ticks": record.ticks,
            "tick": record.tick,
            "engineVersion": record.engine_version,
            "organizationId": record.organization_id,
            "createdAt": record.created_at,
            "completedAt": record.completed_at,
            "summary": json.loads(record.summary_json) if record.summary_json else None,
            "error": json.loads(record.error_json) if record.error_json else None,
            "decrees": [decree_model(d) for d in store.decrees(record.id)] if store else [],
        }
    )


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("s") or not text[1:].isdigit():
            raise ValueError
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _error("BAD_REQUEST", "cursor is not one this server issued") from None
