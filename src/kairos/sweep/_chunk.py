"""The function every non-server path runs: one chunk of scenarios through the engine's batch.

It is a top-level function of an importable module so that Dask can pickle it by reference and
run it on a worker; the local path calls the very same function, which is what makes the local
and Dask rows identical by construction (and the tests check it).

It is :func:`kairos.engine.summarize_batch` plus one number: the tick of the first basin loss,
which the summary does not carry but a threshold study wants. It drives the same
:class:`~kairos.engine.BatchSimulation` and the same element-wise summary accumulator in the
same order, so its summaries equal ``summarize_batch``'s (tested), and the first-loss tick is
the ``tick`` of ``trace.basin_losses()[0]`` of the lone run (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kairos.engine import BatchSimulation
from kairos.engine._summary import BatchSummary

FIRST_LOSS_KEY = "firstBasinLossTick"
PROGRESS_TICKS = 100
"""How often (in ticks) :func:`summarize_chunk` reports progress."""


def summarize_chunk(
    scenarios: Sequence[Mapping[str, Any]],
    ticks: int,
    engine_version: str,
    progress: Callable[[int], object] | None = None,
) -> list[dict[str, Any]]:
    """``SimulationSummary`` wire dicts of ``scenarios`` run for ``ticks`` ticks on the pinned
    ``engine_version``, each with ``firstBasinLossTick`` (``None`` when no model lost its
    basin). ``progress``, if given, is called with the number of ticks advanced since its
    last call (every :data:`PROGRESS_TICKS` ticks, and at the end)."""
    batch = BatchSimulation(scenarios, engine_version)
    size = len(batch.scenarios)
    acc = BatchSummary(size)
    active = np.ones(size, dtype=np.bool_)
    first = np.zeros(size, dtype=np.int64)
    for t in range(1, ticks + 1):
        batch.advance()
        losses = batch.loss_counts()
        acc.add(batch.sigma, batch.phase, losses, batch.ghost_mask(), active)
        first = np.where((first == 0) & (losses > 0), t, first)
        if progress is not None and (t % PROGRESS_TICKS == 0 or t == ticks):
            progress(t - (t - 1) // PROGRESS_TICKS * PROGRESS_TICKS)
    out = acc.summaries()
    for summary, tick in zip(out, first.tolist(), strict=True):
        summary[FIRST_LOSS_KEY] = tick or None
    return out
