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

from kairos._deferred import exports_from_stub

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
