"""One segment of a simulation, computed where an executor puts it (a Dask worker).

:func:`run_segment` is pure computation: from a checkpoint (or tick 0) and the summary state of
the steps before it, it computes chunks of steps for about ``budget_seconds`` and returns them,
each with the checkpoint after its last tick, and the summary state after them. It touches no
store and no network, so a segment can run on any machine, and a segment whose worker dies is
simply computed again from the same inputs, giving the same bytes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from kairos import engine
from kairos.server._execute import positioned, replay_scenario
from kairos.server._store import DecreeRecord


@dataclass(frozen=True)
class SegmentJob:
    """What a segment needs: the run, where it stands, and how much to compute."""

    simulation_id: str
    scenario_json: str
    engine_version: str
    ticks: int
    """The run's last tick."""
    checkpoint: bytes | None
    """The engine state after the last stored tick; None to start at tick 0."""
    summary_state: dict[str, Any] | None
    """``SummaryAccumulator.to_state()`` of the stored steps; None at tick 0."""
    decrees: tuple[DecreeRecord, ...] = ()
    """The decrees applied so far, in the order they took effect (the run's scenario is
    amended with them; the server takes new ones up between segments)."""
    chunk_steps: int = 256
    flush_seconds: float = 0.1
    budget_seconds: float = 0.25


@dataclass(frozen=True)
class SegmentResult:
    """The chunks a segment computed, in tick order, and how the run stands after them."""

    chunks: list[tuple[int, list[bytes], bytes]] = field(default_factory=list)
    """``(first_tick, canonical step lines, checkpoint after the chunk's last tick)``."""
    summary_state: dict[str, Any] | None = None
    summary_json: str | None = None
    """Set when the run reached its last tick: the canonical ``SimulationSummary``."""
    error: tuple[str, str] | None = None
    """``(code, message)`` when the engine failed the run (after the chunks, if any)."""


def run_segment(job: SegmentJob) -> SegmentResult:
    """Compute one segment of ``job``'s run (see the module's docstring).

    The engine's own errors and any fault of its computation come back as ``error`` with the
    codes :func:`kairos.server._execute.execute` uses; only a failure outside the computation
    (the worker dying, a broken installation) raises.
    """
    chunks: list[tuple[int, list[bytes], bytes]] = []
    summary = engine.SummaryAccumulator()
    try:
        scenario = json.loads(job.scenario_json)
        if job.checkpoint is None:
            amended = replay_scenario(scenario, job.decrees)
            simulation = engine.Simulation(amended, job.engine_version)
        else:
            simulation = positioned(scenario, job.decrees, job.checkpoint)
            if job.summary_state is not None:
                summary = engine.SummaryAccumulator.from_state(job.summary_state)
        started = last_flush = time.monotonic()
        first_tick = simulation.tick + 1
        pending: list[bytes] = []
        while simulation.tick < job.ticks:
            step = simulation.step()
            summary.add(step)
            pending.append(engine.canonical_json(step).encode())
            now = time.monotonic()
            if len(pending) >= job.chunk_steps or now - last_flush >= job.flush_seconds:
                chunks.append((first_tick, pending, simulation.checkpoint()))
                first_tick, pending, last_flush = simulation.tick + 1, [], now
                if now - started >= job.budget_seconds:
                    return SegmentResult(chunks, summary.to_state())
        if pending:
            chunks.append((first_tick, pending, simulation.checkpoint()))
        return SegmentResult(
            chunks, summary.to_state(), summary_json=engine.canonical_json(summary.summary())
        )
    except engine.EngineVersionError as exc:
        return SegmentResult(chunks, error=("engine_version", str(exc)))
    except engine.CheckpointError as exc:
        return SegmentResult(chunks, error=("checkpoint_unusable", str(exc)))
    except engine.ScenarioError as exc:
        return SegmentResult(chunks, error=("invalid_scenario", str(exc)))
    except Exception as exc:  # a fault of the engine's computation fails the run
        return SegmentResult(chunks, error=("engine_fault", f"{type(exc).__name__}: {exc}"))
