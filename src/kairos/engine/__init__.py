"""kairos.engine: the deterministic KAIROS engine the reference server runs.

Pure and I/O-free: scenarios go in as wire-form dicts (``$defs/Scenario``), steps come out as
wire-form dicts (``$defs/TraceStep``). It imports nothing from the client, the server or the
network stack. The physics, units, constants and determinism rules are written down in
docs/engine.md.

Entry points:

* :func:`validate_scenario` / :func:`compile_scenario` - the AI-safety adapter (with
  :func:`late_events`: events after a run's last tick);
* :class:`Simulation`, :func:`run`, :func:`iter_steps`, :func:`iter_lines` - one run, with
  checkpoints;
* :func:`kernel_info`, :func:`load_kernel` - the optional compiled kernel (``kairos-sdk[fast]``);
  every run takes ``backend="auto" | "kernel" | "reference"`` (or ``KAIROS_ENGINE_BACKEND``)
  and gives the same bytes either way;
* :class:`BatchSimulation`, :func:`run_batch`, :func:`iter_batch`, :func:`summarize_batch` -
  many runs of one version in lock-step, bit-identical to lone runs;
* :class:`SummaryAccumulator`, :func:`summarize`, :func:`phase_transitions`,
  :func:`basin_losses`, :func:`ghost_branches` - summaries and records;
* :func:`canonical_trace_bytes`, :func:`trace_sha256` - the canonical bytes behind golden hashes;
* :func:`domain_info`, :func:`engine_versions` - the ``domain.list`` and ``engine.versions``
  answers.
"""

from kairos._deferred import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._adapter import (
        CompiledScenario,
        compile_scenario,
        late_event_message,
        late_events,
        validate_scenario,
    )
    from ._batch import BatchSimulation, iter_batch, run_batch, summarize_batch
    from ._canonical import (
        canonical_json,
        canonical_step_bytes,
        canonical_trace_bytes,
        trace_sha256,
    )
    from ._constants import DEFAULT_MAX_TICKS, PARADOX_EPSILON, PARADOX_THRESHOLD
    from ._domain import domain_info
    from ._exceptions import (
        BackendError,
        CheckpointError,
        EngineError,
        EngineVersionError,
        Issue,
        ScenarioError,
    )
    from ._kernel import kernel_info, load_kernel
    from ._simulator import Simulation, iter_lines, iter_steps, run
    from ._summary import (
        SummaryAccumulator,
        basin_losses,
        ghost_branches,
        phase_transitions,
        summarize,
    )
    from ._versions import DEFAULT_VERSION, active_versions, engine_versions, resolve_version

__all__ = [
    "DEFAULT_MAX_TICKS",
    "DEFAULT_VERSION",
    "PARADOX_EPSILON",
    "PARADOX_THRESHOLD",
    "BackendError",
    "BatchSimulation",
    "CheckpointError",
    "CompiledScenario",
    "EngineError",
    "EngineVersionError",
    "Issue",
    "ScenarioError",
    "Simulation",
    "SummaryAccumulator",
    "active_versions",
    "basin_losses",
    "canonical_json",
    "canonical_step_bytes",
    "canonical_trace_bytes",
    "compile_scenario",
    "domain_info",
    "engine_versions",
    "ghost_branches",
    "iter_batch",
    "iter_lines",
    "iter_steps",
    "kernel_info",
    "late_event_message",
    "late_events",
    "load_kernel",
    "phase_transitions",
    "resolve_version",
    "run",
    "run_batch",
    "summarize",
    "summarize_batch",
    "trace_sha256",
    "validate_scenario",
]

if not TYPE_CHECKING:  # type checkers read the imports above, not a catch-all
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "._adapter": (
                "CompiledScenario compile_scenario late_event_message late_events validate_scenario"
            ),
            "._batch": "BatchSimulation iter_batch run_batch summarize_batch",
            "._canonical": "canonical_json canonical_step_bytes canonical_trace_bytes trace_sha256",
            "._constants": "PARADOX_EPSILON PARADOX_THRESHOLD DEFAULT_MAX_TICKS",
            "._domain": "domain_info",
            "._exceptions": (
                "BackendError CheckpointError EngineError EngineVersionError Issue ScenarioError"
            ),
            "._kernel": "kernel_info load_kernel",
            "._simulator": "Simulation iter_lines iter_steps run",
            "._summary": (
                "SummaryAccumulator basin_losses ghost_branches phase_transitions summarize"
            ),
            "._versions": "DEFAULT_VERSION active_versions engine_versions resolve_version",
        },
    )
