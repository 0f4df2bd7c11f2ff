"""Batch mode: many scenarios of one engine version advanced in lock-step with numpy.

Scenarios are padded to the largest model and body counts and masked. The arithmetic is the
scalar path's (``_physics``, ``_integrators``, ``_events`` are shared verbatim); the code below
mirrors ``_dynamics.advance`` line by line, replacing branches by ``np.where`` and loops over
entities by loops whose accumulation order is the scalar one (element-wise numpy operations are
IEEE-754 exact and unfused; no numpy reduction other than ``any``/``min`` is used, since
``sum`` may pair terms differently). Masked entries add exactly ``0.0``, which leaves a sum
unchanged. Result: every step is bit-identical to the scenario's lone run (tested).

Tick counts: every scenario of a batch advances together; :func:`iter_batch` accepts one tick
count or one per scenario and reports ``None`` for a scenario past its own count.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._adapter import CompiledScenario, EventSpec, compile_scenario
from ._constants import (
    BASIN_LOAD,
    DECREE_YIELD_FACTOR,
    PARADOX_THRESHOLD,
    PERCENT,
    RESERVE_FLOOR,
    RESERVE_NOISE,
    RESERVE_SEPARATRIX,
)
from ._dynamics import initial_pressure
from ._events import BodyColumns, ModelColumns, apply_event
from ._exceptions import EngineError
from ._kernel import INTEGRATORS, backend_for, summarize_many, use_kernel
from ._phases import PHASE_NAMES, RESONANT, next_phase_array
from ._physics import (
    body_gamma,
    effective_alignment,
    gamma_of,
    intrinsic_gamma,
    lag_update,
    lambda_of,
    load_of,
    normalized,
    pair_score,
    positive_part,
)
from ._prng import (
    STREAM_NODE,
    STREAM_NOISE,
    TICK_SHIFT,
    counter,
    draw_array,
    kick_of_array,
    node_of_array,
    seed_key,
)
from ._simulator import Simulation
from ._summary import BatchSummary
from ._versions import resolve_version

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
ScenarioLike = Mapping[str, Any] | CompiledScenario


class BatchSimulation:
    """Scenarios of one engine version advancing together; see the module docstring."""

    def __init__(
        self, scenarios: Sequence[ScenarioLike], engine_version: str | None = None
    ) -> None:
        if not scenarios:
            raise ValueError("a batch needs at least one scenario")
        self.scenarios = [compile_scenario(s) for s in scenarios]
        self.params = resolve_version(engine_version)
        nb_, m_ = len(self.scenarios), max(len(s.models) for s in self.scenarios)
        k_ = max(len(s.bodies) for s in self.scenarios)
        self.tick = 0

        def grid(cols: int, fill: float) -> F64:
            return np.full((nb_, cols), fill, dtype=np.float64)

        # Padding keeps masked lanes finite and inert: a padded model is fully contained
        # (Lambda exactly 0.0, adding nothing to the total pressure); a padded body has strength
        # 0, so it multiplies the uncovered fraction by exactly 1.0.
        self.capability, self.alignment = grid(m_, 1.0), grid(m_, 0.0)
        self.deception, self.guardrail = grid(m_, 0.0), grid(m_, 0.0)
        self.autonomy, self.oversight = grid(m_, 0.0), grid(m_, 0.0)
        self.containment, self.reserve = grid(m_, 1.0), grid(m_, 1.0)
        self.cumulative = grid(m_, 0.0)
        self.lost = np.zeros((nb_, m_), dtype=np.bool_)
        self.valid = np.zeros((nb_, m_), dtype=np.bool_)
        self.strength, self.readiness = grid(k_, 0.0), grid(k_, 1.0)
        self.perceived, self.lag_gain = grid(k_, 0.0), grid(k_, 1.0)
        self.body_valid = np.zeros((nb_, k_), dtype=np.bool_)
        self.phase = np.full(nb_, RESONANT, dtype=np.int64)
        self.keys = np.array([seed_key(s.seed) for s in self.scenarios], dtype=np.uint64)
        counts = [len(s.models) for s in self.scenarios]
        self.n_models = np.array(counts, dtype=np.float64)
        self.pair_count = np.array([max(c - 1, 1) for c in counts], dtype=np.float64)[:, None]
        self.events: dict[int, list[tuple[int, EventSpec]]] = {}
        for b, sc in enumerate(self.scenarios):
            for i, m in enumerate(sc.models):
                self.capability[b, i], self.alignment[b, i] = m.capability, m.alignment
                self.guardrail[b, i], self.autonomy[b, i] = m.guardrail, m.autonomy
                self.oversight[b, i], self.containment[b, i] = m.oversight, 0.0
                self.valid[b, i] = True
            total = initial_pressure(sc)
            for j, body in enumerate(sc.bodies):
                self.strength[b, j], self.perceived[b, j] = body.strength, total
                self.lag_gain[b, j] = body.lag_gain
                self.body_valid[b, j] = True
            for ev in sc.events:
                self.events.setdefault(ev.tick, []).append((b, ev))
        eye = np.eye(m_, dtype=np.bool_)
        pair_ok = self.valid[:, :, None] & self.valid[:, None, :] & ~eye
        single = (self.n_models == 1.0)[:, None, None] & eye & self.valid[:, :, None]
        self._pair_ok: Bool = pair_ok | single
        self._upper: Bool = pair_ok & np.triu(np.ones((m_, m_), dtype=np.bool_), 1)
        self._rows = [
            (
                ModelColumns(
                    self.capability[b],
                    self.alignment[b],
                    self.deception[b],
                    self.guardrail[b],
                    self.autonomy[b],
                    self.oversight[b],
                    self.containment[b],
                    len(sc.models),
                ),
                BodyColumns(self.strength[b], self.readiness[b], len(sc.bodies)),
            )
            for b, sc in enumerate(self.scenarios)
        ]
        # Counters of this tick's draws: node streams of all models, then noise streams.
        self._lanes = np.array(
            [counter(0, i, STREAM_NODE) for i in range(m_)]
            + [counter(0, i, STREAM_NOISE) for i in range(m_)],
            dtype=np.uint64,
        )
        self._nominal: tuple[F64, F64] | None = None
        self._full = np.ones_like(self.readiness)  # the readiness a body recovers towards
        self._last: dict[str, Any] = {}

    @property
    def engine_version(self) -> str:
        return self.params.version

    def advance(self) -> None:
        """Compute the next tick of every scenario (mirrors ``_dynamics.advance``)."""
        t = self.tick + 1
        nb_, m_ = self.capability.shape
        events = self.events.get(t, [])
        for b, event in events:
            apply_event(event, *self._rows[b])

        if events or self._nominal is None:  # parameters only change through events
            self._nominal = (
                lambda_of(self.capability, self.autonomy, self.containment),
                intrinsic_gamma(self.alignment, self.deception, self.guardrail, self.oversight),
            )
        lam, g_int = self._nominal
        bits = draw_array(self.keys[:, None], (self._lanes + np.uint64(t << TICK_SHIFT))[None, :])
        total = np.zeros(nb_)
        for i in range(m_):
            total = total + lam[:, i]  # padded lanes add exactly 0.0

        tot = total[:, None]
        self.perceived = lag_update(self.perceived, tot, self.lag_gain)
        # In place: the event columns in self._rows are views of readiness and strength.
        self.readiness[...] = lag_update(self.readiness, self._full, self.lag_gain)
        adapted = tot <= self.perceived
        ratio = np.where(adapted, 1.0, self.perceived / np.where(adapted, 1.0, tot))
        strengths = self.strength * self.readiness * ratio
        uncovered = np.ones(nb_)
        for j in range(self.strength.shape[1]):
            uncovered = uncovered * (1.0 - strengths[:, j] / PERCENT)  # padded: times 1.0
        g_body = body_gamma(uncovered)[:, None]

        ghost_rows: dict[int, tuple[float, Bool, Bool]] = {}
        if m_ >= 2:
            gam = gamma_of(self.reserve, g_int, g_body)
            nodes = node_of_array(bits[:, :m_])
            score = pair_score(gam[:, :, None], gam[:, None, :], lam[:, :, None], lam[:, None, :])
            paradox = self._upper & (nodes[:, :, None] == nodes[:, None, :])
            paradox &= score < PARADOX_THRESHOLD
            if paradox.any():
                load = load_of(lam, gam)
                first_yields = load[:, :, None] > load[:, None, :]
                yields = (paradox & first_yields).any(axis=2) | (paradox & ~first_yields).any(
                    axis=1
                )
                involved = paradox.any(axis=2) | paradox.any(axis=1)
                worst = np.where(paradox, score, np.inf).min(axis=(1, 2))
                lam = np.where(yields, lam * DECREE_YIELD_FACTOR, lam)
                for b in np.flatnonzero(involved.any(axis=1)).tolist():
                    ghost_rows[b] = (float(worst[b]), involved[b], yields[b])

        noise = RESERVE_NOISE * kick_of_array(bits[:, m_:])
        kick = np.where(self.lost, 0.0, noise)
        r = self.params.integrator.step(self.reserve, lam, g_int, g_body, kick)
        r = np.where(r > 1.0, 1.0, r)
        self.reserve = np.where(r < RESERVE_FLOOR, 0.0, r)

        gam = gamma_of(self.reserve, g_int, g_body)
        load = load_of(lam, gam)
        new_loss = self.valid & ~self.lost & (self.reserve < RESERVE_SEPARATRIX)
        self.lost = self.lost | new_loss

        raw = pair_score(gam[:, :, None], gam[:, None, :], lam[:, :, None], lam[:, None, :])
        score = np.where(self._pair_ok, raw, 0.0)  # pairs that do not count add exactly 0.0
        sig = np.where(self._pair_ok, normalized(raw), 0.0)
        acc = np.zeros((nb_, m_))
        cumulative = self.cumulative
        for j in range(m_):
            cumulative = cumulative + score[:, :, j]
            acc = acc + sig[:, :, j]
        self.cumulative = cumulative
        stability = acc / self.pair_count
        counted = np.where(self.valid, stability, 0.0)
        total_stability = np.zeros(nb_)
        for i in range(m_):
            total_stability = total_stability + counted[:, i]
        sigma = total_stability / self.n_models

        any_lost: Bool = np.any(self.lost, axis=1)  # padded lanes never lose
        self.phase = next_phase_array(self.phase, sigma, any_lost)
        self.tick = t
        self._last = {
            "events": events,
            "lam": lam,
            "gam": gam,
            "load": load,
            "stability": stability,
            "sigma": sigma,
            "strengths": strengths,
            "new_loss": new_loss,
            "ghosts": ghost_rows,
            "magnitude": positive_part(load - BASIN_LOAD),
        }

    @property
    def sigma(self) -> F64:
        """Global stability of every scenario at the last tick."""
        out: F64 = self._last["sigma"]
        return out

    def loss_counts(self) -> npt.NDArray[np.int64]:
        """Basin losses triggered in the last tick, per scenario."""
        out: npt.NDArray[np.int64] = np.count_nonzero(self._last["new_loss"], axis=1)
        return out

    def ghost_mask(self) -> Bool:
        """Which scenarios had a ghost branch in the last tick."""
        mask = np.zeros(len(self.scenarios), dtype=np.bool_)
        mask[list(self._last["ghosts"])] = True
        return mask

    def step_of(self, b: int) -> dict[str, Any]:
        """Scenario ``b``'s ``TraceStep`` wire dict for the last computed tick."""
        if self.params.foresight:
            raise EngineError(
                f"engine {self.params.version} steps carry prophecies, which the numpy batch "
                "does not compute; use iter_batch/run_batch or Simulation (summaries are fine)"
            )
        sc, last, t = self.scenarios[b], self._last, self.tick
        n = len(sc.models)
        names = [m.name for m in sc.models]
        gam, lam = last["gam"][b, :n].tolist(), last["lam"][b, :n].tolist()
        stab, load = last["stability"][b, :n].tolist(), last["load"][b, :n].tolist()
        cum, cap = self.cumulative[b, :n].tolist(), self.capability[b, :n].tolist()
        align = effective_alignment(self.alignment[b, :n], self.deception[b, :n]).tolist()
        lost = self.lost[b, :n].tolist()
        new_loss, magnitude = last["new_loss"][b], last["magnitude"][b]
        ghost = None
        if b in last["ghosts"]:
            worst, involved, yields = last["ghosts"][b]
            ghost = {
                "tick": t,
                "agents": [names[i] for i in range(n) if involved[i]],
                "score": worst,
                "decree": "yield:" + ",".join(names[i] for i in range(n) if yields[i]),
            }
        strengths = last["strengths"][b].tolist()
        return {
            "t": t,
            "stability": float(last["sigma"][b]),
            "phase": PHASE_NAMES[int(self.phase[b])],
            "agents": {
                names[i]: {
                    "gamma": gam[i],
                    "lambda": lam[i],
                    "stability": stab[i],
                    "cumulativeStability": cum[i],
                    "load": load[i],
                    "capabilityIndex": cap[i],
                    "alignmentScore": align[i],
                    "basinLost": lost[i],
                }
                for i in range(n)
            },
            "oversight": {
                body.name: {"effectiveStrength": strengths[j]} for j, body in enumerate(sc.bodies)
            },
            "events": [dict(ev.wire) for eb, ev in last["events"] if eb == b],
            "losses": [
                {"tick": t, "agent": names[i], "magnitude": float(magnitude[i])}
                for i in range(n)
                if new_loss[i]
            ],
            "ghost": ghost,
        }


def _tick_counts(ticks: int | Sequence[int], size: int) -> list[int]:
    counts = [ticks] * size if isinstance(ticks, int) else list(ticks)
    if len(counts) != size:
        raise ValueError(f"got {len(counts)} tick counts for {size} scenarios")
    for count in counts:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"ticks must be positive integers, got {count!r}")
    return counts


def _kernel_plan(
    scenarios: Sequence[ScenarioLike],
    ticks: int | Sequence[int],
    engine_version: str | None,
    backend: str | None,
) -> tuple[list[CompiledScenario], str, bool] | None:
    """(compiled scenarios, version, heun) when the batch runs on the compiled kernel."""
    if not scenarios:
        raise ValueError("a batch needs at least one scenario")
    params = resolve_version(engine_version)
    heun = INTEGRATORS.get(params.integrator.name)
    work = len(scenarios) * max(_tick_counts(ticks, len(scenarios)))
    if heun is None or not use_kernel(backend_for(backend, work)):
        return None
    return [compile_scenario(s) for s in scenarios], params.version, heun


#: Ticks the kernel computes ahead per scenario when a batch materializes steps (bounds memory).
BATCH_CHUNK = 64


def iter_batch(
    scenarios: Sequence[ScenarioLike],
    ticks: int | Sequence[int],
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> Iterator[list[dict[str, Any] | None]]:
    """Yield, tick after tick, every scenario's step (``None`` once past its tick count).
    ``backend`` as for :class:`Simulation` (the compiled kernel runs each scenario on its own,
    in chunks; the bytes are the same)."""
    plan = _kernel_plan(scenarios, ticks, engine_version, backend)
    if plan is None and resolve_version(engine_version).foresight:
        # Prophecies are computed by the lone pure-Python engine only: one run per scenario.
        plan = (
            [compile_scenario(s) for s in scenarios],
            resolve_version(engine_version).version,
            True,
        )
    if plan is not None:
        compiled, version, _ = plan
        counts = _tick_counts(ticks, len(compiled))
        sims = [Simulation(sc, version, backend="kernel") for sc in compiled]
        for sim in sims:
            sim._limit_look_ahead(BATCH_CHUNK)
        streams = [sim.steps(count) for sim, count in zip(sims, counts, strict=True)]

        def kernel_rows() -> Iterator[list[dict[str, Any] | None]]:
            for t in range(1, max(counts) + 1):
                yield [
                    next(stream) if t <= count else None
                    for stream, count in zip(streams, counts, strict=True)
                ]

        return kernel_rows()

    batch = BatchSimulation(scenarios, engine_version)
    counts = _tick_counts(ticks, len(batch.scenarios))

    def generate() -> Iterator[list[dict[str, Any] | None]]:
        for t in range(1, max(counts) + 1):
            batch.advance()
            yield [batch.step_of(b) if t <= c else None for b, c in enumerate(counts)]

    return generate()


def run_batch(
    scenarios: Sequence[ScenarioLike],
    ticks: int | Sequence[int],
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> list[list[dict[str, Any]]]:
    """Every scenario's full trace, computed in one batch."""
    traces: list[list[dict[str, Any]]] = [[] for _ in scenarios]
    for row in iter_batch(scenarios, ticks, engine_version, backend=backend):
        for trace, step in zip(traces, row, strict=True):
            if step is not None:
                trace.append(step)
    return traces


def summarize_batch(
    scenarios: Sequence[ScenarioLike],
    ticks: int | Sequence[int],
    engine_version: str | None = None,
    *,
    backend: str | None = None,
) -> list[dict[str, Any]]:
    """Only the ``SimulationSummary`` of every scenario, without building steps: the Monte
    Carlo fast path. Equal to summarizing each lone run (tested). With the compiled kernel,
    each scenario runs to its own tick count inside one compiled call."""
    plan = _kernel_plan(scenarios, ticks, engine_version, backend)
    if plan is not None:
        compiled, _, heun = plan
        counts = _tick_counts(ticks, len(compiled))
        out = []
        for total, comp, minimum, count, phase, moves, losses, ghosts in summarize_many(
            compiled, counts, heun
        ):
            mean = (total + comp) / float(count)
            out.append(
                {
                    "finalPhase": PHASE_NAMES[phase],
                    "meanStability": 1.0 if mean > 1.0 else mean,
                    "minStability": minimum,
                    "phaseTransitions": moves,
                    "basinLosses": losses,
                    "ghostBranches": ghosts,
                }
            )
        return out

    batch = BatchSimulation(scenarios, engine_version)
    counts = _tick_counts(ticks, len(batch.scenarios))
    limit = np.array(counts)
    acc = BatchSummary(len(counts))
    for t in range(1, max(counts) + 1):
        batch.advance()
        acc.add(batch.sigma, batch.phase, batch.loss_counts(), batch.ghost_mask(), t <= limit)
    return acc.summaries()
