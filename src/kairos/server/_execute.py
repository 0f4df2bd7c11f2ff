"""Running one simulation to its end, writing its trace to the store as it goes.

:func:`execute` is what a worker process does with a job. It is process-agnostic (tests call it
directly): it resumes from the stored checkpoint when the simulation was interrupted, writes
chunks of steps together with a checkpoint, honours cancellation between chunks, and always
leaves the record in a final status with a summary or a reason.

Only a fault of the engine's own computation fails a run. A failure around it (the store, or
the progress channel to a server that has died) propagates: the worker process exits, the run
stays ``running`` with its last checkpoint, and the pool (or the next server) resumes it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from kairos import engine
from kairos.server._store import DecreeRecord, LeaseLost, SimulationRecord, SimulationStore

ProgressCallback = Callable[[str, int], None]

LOST = "lost"
"""What :func:`execute` returns when another replica took the simulation over (a shared store
only): not a status of the simulation, which goes on with its new owner."""


class _EngineFault(Exception):
    """An unexpected exception raised by the engine's computation (not by the store or the
    progress callback): the run is failed with ``engine_fault``."""


def utc_now() -> str:
    """Now, as the API writes times: ISO 8601 UTC with milliseconds and a ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def execute(
    store: SimulationStore,
    simulation_id: str,
    *,
    chunk_steps: int = 256,
    flush_seconds: float = 0.1,
    on_progress: ProgressCallback | None = None,
) -> str:
    """Run (or resume) a simulation to a final status and return that status."""
    record = store.get(simulation_id)
    if record is None:
        raise KeyError(simulation_id)
    if record.finished:
        return record.status
    try:
        if record.status == "queued" and not store.mark_running(simulation_id):
            return _cancel(store, simulation_id)
        return _run(store, record, chunk_steps, flush_seconds, on_progress)
    except LeaseLost:
        return LOST
    except engine.EngineVersionError as exc:
        return _fail(store, simulation_id, "engine_version", str(exc))
    except engine.CheckpointError as exc:
        return _fail(store, simulation_id, "checkpoint_unusable", str(exc))
    except engine.ScenarioError as exc:
        return _fail(store, simulation_id, "invalid_scenario", str(exc))
    except _EngineFault as fault:  # an engine fault must fail the run, not kill the worker
        cause = fault.__cause__
        return _fail(store, simulation_id, "engine_fault", f"{type(cause).__name__}: {cause}")


def _run(
    store: SimulationStore,
    record: SimulationRecord,
    chunk_steps: int,
    flush_seconds: float,
    on_progress: ProgressCallback | None,
) -> str:
    scenario = json.loads(record.scenario_json)
    simulation, summary, applied = _resume(store, record, scenario)
    decrees = _Decrees(store, record, scenario, applied)
    decrees.take_up(simulation)
    pending: list[bytes] = []
    first_tick = simulation.tick + 1
    last_flush = time.monotonic()
    while simulation.tick < record.ticks:
        with _engine_faults():
            step = simulation.step()
            summary.add(step)
            pending.append(engine.canonical_json(step).encode())
        now = time.monotonic()
        if len(pending) >= chunk_steps or now - last_flush >= flush_seconds:
            if store.cancel_requested(record.id):
                return _cancel(store, record.id)
            _store_chunk(store, record, simulation, first_tick, pending, decrees, on_progress)
            first_tick, pending, last_flush = simulation.tick + 1, [], now
    if pending:
        _store_chunk(store, record, simulation, first_tick, pending, decrees, on_progress)
    with _engine_faults():
        summary_json = engine.canonical_json(summary.summary())
    done = store.finish(record.id, "completed", completed_at=utc_now(), summary_json=summary_json)
    return done.status if done else "completed"


def _store_chunk(
    store: SimulationStore,
    record: SimulationRecord,
    simulation: engine.Simulation,
    first_tick: int,
    lines: list[bytes],
    decrees: _Decrees,
    on_progress: ProgressCallback | None,
) -> None:
    """Store the steps computed since ``first_tick`` with the checkpoint after them, then take
    up the decrees filed meanwhile (they take effect at the next tick) and report progress."""
    with _engine_faults():
        checkpoint = simulation.checkpoint()
    store.append_chunk(record.id, first_tick, lines, checkpoint=checkpoint)
    decrees.take_up(simulation)
    if on_progress is not None:
        on_progress(record.id, simulation.tick)


def decree_event(decree: DecreeRecord) -> dict[str, Any]:
    """A decree as the scenario event it amounts to: its event at the tick it took effect."""
    return {"tick": decree.tick, **json.loads(decree.event_json)}


def replay_scenario(scenario: dict[str, Any], decrees: Sequence[DecreeRecord]) -> dict[str, Any]:
    """The scenario with its applied decrees appended as events (in the order they took
    effect): running it from tick 1 gives the decreed run's trace bit for bit."""
    events = [decree_event(d) for d in decrees if d.status == "applied"]
    if not events:
        return scenario
    return {**scenario, "events": [*scenario.get("events", []), *events]}


class _Decrees:
    """Takes up the pending decrees of a run between two ticks.

    The worker decides the tick: the next one it has not computed, recorded in the store in
    the same transaction that marks the decree applied; the simulation then continues under the
    scenario amended with the decree as an event at that tick. A decree after the last tick is
    rejected (the store refuses new ones once the last chunk is stored).
    """

    def __init__(
        self,
        store: SimulationStore,
        record: SimulationRecord,
        scenario: dict[str, Any],
        applied: list[DecreeRecord],
    ) -> None:
        self.store = store
        self.record = record
        self.scenario = scenario
        self.applied = list(applied)

    def take_up(self, simulation: engine.Simulation) -> None:
        claimed = self.store.claim_decrees(self.record.id, simulation.tick + 1, self.record.ticks)
        if claimed:
            self.applied.extend(claimed)
            with _engine_faults():
                simulation.amend(replay_scenario(self.scenario, self.applied))


@contextlib.contextmanager
def _engine_faults() -> Iterator[None]:
    """Marks an unexpected exception of the engine's computation as an engine fault (the
    engine's own typed errors keep their meaning)."""
    try:
        yield
    except (engine.EngineVersionError, engine.CheckpointError, engine.ScenarioError):
        raise
    except Exception as exc:
        raise _EngineFault() from exc


def _resume(
    store: SimulationStore, record: SimulationRecord, scenario: dict[str, Any]
) -> tuple[engine.Simulation, engine.SummaryAccumulator, list[DecreeRecord]]:
    """A simulation positioned after the last stored tick, the summary of the stored steps and
    the decrees applied so far (the simulation runs their amended scenario).

    The checkpoint is written with the chunk that ends at its tick, so they agree; anything
    stored after the checkpoint (impossible with the store's transactions, but cheap to guard)
    is dropped and recomputed. The decrees are replayed as :func:`positioned` says.
    """
    summary = engine.SummaryAccumulator()
    applied = [d for d in store.decrees(record.id) if d.status == "applied"]
    full = replay_scenario(scenario, applied)
    checkpoint = store.latest_checkpoint(record.id)
    if checkpoint is None or record.tick == 0:
        if record.tick:
            store.rewind(record.id, 0)
        with _engine_faults():
            return engine.Simulation(full, record.engine_version), summary, applied
    tick, data = checkpoint
    if tick != record.tick:
        store.rewind(record.id, tick)
    with _engine_faults():
        simulation = positioned(scenario, applied, data)
    for _first, _last, lines in store.iter_chunks(record.id, after_tick=0):
        with _engine_faults():
            for line in lines:
                summary.add(json.loads(line))
    return simulation, summary, applied


def positioned(
    scenario: dict[str, Any], applied: Sequence[DecreeRecord], checkpoint: bytes
) -> engine.Simulation:
    """The simulation at ``checkpoint`` under ``scenario`` amended with the ``applied``
    decrees. A checkpoint may predate the last decrees (they are taken up after their chunk is
    stored): it is resumed under the scenario with the decrees taken up before it (the one
    whose fingerprint it carries), then amended with the rest, all of which come after it."""
    try:
        fingerprint = json.loads(checkpoint).get("scenarioFingerprint")
    except (ValueError, UnicodeDecodeError, AttributeError):
        fingerprint = None  # from_checkpoint below says what is wrong with it
    decrees = list(applied)
    count = len(decrees)
    for prefix in range(len(decrees), -1, -1):
        amended = replay_scenario(scenario, decrees[:prefix])
        if engine.compile_scenario(amended).fingerprint == fingerprint:
            count = prefix
            break
    simulation = engine.Simulation.from_checkpoint(
        replay_scenario(scenario, decrees[:count]), checkpoint
    )
    if count < len(decrees):
        simulation.amend(replay_scenario(scenario, decrees))
    return simulation


def _cancel(store: SimulationStore, simulation_id: str) -> str:
    store.reject_pending_decrees(simulation_id, "the simulation was cancelled")
    done = store.finish(simulation_id, "cancelled", completed_at=utc_now())
    return done.status if done else "cancelled"


def _fail(store: SimulationStore, simulation_id: str, code: str, message: str) -> str:
    error = json.dumps({"code": code, "message": message})
    store.reject_pending_decrees(simulation_id, "the simulation failed")
    done = store.finish(simulation_id, "failed", completed_at=utc_now(), error_json=error)
    return done.status if done else "failed"
