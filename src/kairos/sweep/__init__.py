"""kairos.sweep: parameter sweeps, Monte Carlo samples and critical thresholds.

::

    from kairos.sweep import sweep, find_threshold

    def build(capability):
        return (
            AISafetyScenario(f"sweep_{capability}", seed=42)
            .add_model(name="model", capability_index=capability,
                       alignment_score=70, guardrail_coverage=60)
            .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
        )

    result = sweep(build, {"capability": range(100, 1001, 18)}, ticks=500)
    result.threshold("capability")          # where basin losses start, between grid points
    # Monte Carlo: grid={"capability": ..., "seed": range(10)} -> one threshold per seed
    # result.threshold_spread("capability")  # each seed's threshold, mean, std, range
    find_threshold(build, "capability", 100, 1000, ticks=500).value   # refined by bisection
    result.to_pandas(); result.plot()

A sweep runs in this process by default (the engine's batch mode), on Dask workers with
``executor=``, or on a server with ``client=``; the rows are the same bit for bit on every path
for one engine version, which is resolved once and recorded in every row. See :func:`sweep`.
"""

import sys
import types
from typing import Any

from ._chunk import summarize_chunk
from ._flips import GridThreshold, Predicate, ThresholdSpread, has_basin_loss
from ._modes import BATCH_SIZE
from ._points import Sampler, choice, integers, loguniform, uniform
from ._result import SweepResult
from ._rows import RESULT_COLUMNS, SweepRow
from ._search import ThresholdSearch, find_threshold
from ._sweep import sweep

__all__ = [
    "BATCH_SIZE",
    "RESULT_COLUMNS",
    "GridThreshold",
    "Predicate",
    "Sampler",
    "SweepResult",
    "SweepRow",
    "ThresholdSearch",
    "ThresholdSpread",
    "choice",
    "find_threshold",
    "has_basin_loss",
    "integers",
    "loguniform",
    "summarize_chunk",
    "sweep",
    "uniform",
]


class _CallableModule(types.ModuleType):
    """``kairos.sweep(...)`` calls :func:`sweep`, as the documentation writes it, while
    ``kairos.sweep.find_threshold`` and the other names stay reachable. Type checkers see a
    module: typed code should write ``from kairos.sweep import sweep``."""

    def __call__(self, *args: Any, **kwargs: Any) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
