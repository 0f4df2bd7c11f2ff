"""One tick of the scalar path: the reference implementation of the engine.

Order of operations inside tick t (docs/engine.md, "A tick"):

1. apply the events scheduled at t (sorted by tick, input order within a tick);
2. Lambda of every model; total pressure L = sum in model order;
3. oversight bodies: the perceived pressure P and readiness rho follow L and 1 through the body's
   lag; effective strength e = strength * rho * min(1, P / L); combined Gamma from bodies;
4. Gamma of every model with its reserve at the start of the tick;
5. collisions: models on the same action node are scored; a score below PARADOX_THRESHOLD is a
   paradox: the attempt is rolled back (recorded as the step's ghost) and the tick is retried
   under the decree that the more loaded model of each such pair yields (half its Lambda);
6. the reserve equation advances one tick (integrator per engine version), clamped to [0, 1];
   a reserve crossing below the separatrix is a basin loss (absorbing: no more random kicks);
7. Gamma, load and pairwise scores after the tick; cumulative and normalized stabilities;
8. phase (hysteresis machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._adapter import CompiledScenario
from ._constants import (
    BASIN_LOAD,
    DECREE_YIELD_FACTOR,
    PARADOX_THRESHOLD,
    PERCENT,
    RESERVE_FLOOR,
    RESERVE_NOISE,
    RESERVE_SEPARATRIX,
)
from ._events import BodyColumns, ModelColumns, apply_event
from ._integrators import Integrator
from ._phases import PHASE_NAMES, RESONANT, next_phase
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
from ._prng import STREAM_NODE, STREAM_NOISE, counter, draw, kick_of, node_of

MODEL_FLOAT_COLUMNS = (
    "capability",
    "alignment",
    "deception",
    "guardrail",
    "autonomy",
    "oversight",
    "containment",
    "reserve",
    "cumulative",
)
BODY_FLOAT_COLUMNS = ("strength", "readiness", "perceived")


def initial_pressure(scenario: CompiledScenario) -> float:
    """Total Lambda before tick 1 (what every body has adapted to), summed in model order."""
    total = 0.0
    for m in scenario.models:
        total = total + lambda_of(m.capability, m.autonomy, 0.0)
    return total


@dataclass
class EngineState:
    """Everything that carries over from one tick to the next (what a checkpoint stores)."""

    tick: int
    phase: int
    capability: list[float]
    alignment: list[float]
    deception: list[float]
    guardrail: list[float]
    autonomy: list[float]
    oversight: list[float]
    containment: list[float]
    reserve: list[float]
    cumulative: list[float]
    lost: list[bool]
    strength: list[float]
    readiness: list[float]
    perceived: list[float]
    nominal: tuple[list[float], list[float]] | None = field(default=None, compare=False)
    armed: list[bool] = field(default_factory=list)
    """Warning state of engine versions with foresight (the system's, then each model's):
    True while a warning can be raised. Empty before the first annotated tick (all armed)."""
    """Cache of (Lambda, intrinsic Gamma) before decrees; recomputed after events, not stored."""

    @classmethod
    def initial(cls, scenario: CompiledScenario) -> EngineState:
        """The state before tick 1: full reserves, bodies ready and adapted to the pressure."""
        models = scenario.models
        n = len(models)
        total = initial_pressure(scenario)
        return cls(
            tick=0,
            phase=RESONANT,
            capability=[m.capability for m in models],
            alignment=[m.alignment for m in models],
            deception=[0.0] * n,
            guardrail=[m.guardrail for m in models],
            autonomy=[m.autonomy for m in models],
            oversight=[m.oversight for m in models],
            containment=[0.0] * n,
            reserve=[1.0] * n,
            cumulative=[0.0] * n,
            lost=[False] * n,
            strength=[b.strength for b in scenario.bodies],
            readiness=[1.0] * len(scenario.bodies),
            perceived=[total] * len(scenario.bodies),
        )

    def model_columns(self) -> ModelColumns:
        return ModelColumns(
            self.capability,
            self.alignment,
            self.deception,
            self.guardrail,
            self.autonomy,
            self.oversight,
            self.containment,
            len(self.capability),
        )

    def body_columns(self) -> BodyColumns:
        return BodyColumns(self.strength, self.readiness, len(self.strength))


def advance(
    state: EngineState, scenario: CompiledScenario, integrator: Integrator, key: int
) -> dict[str, Any]:
    """Advance ``state`` by one tick in place and return the step's ``TraceStep`` wire dict."""
    t = state.tick + 1
    models = scenario.models
    n = len(models)
    events = scenario.events_by_tick.get(t, ())
    if events:
        mcols, bcols = state.model_columns(), state.body_columns()
        for event in events:
            apply_event(event, mcols, bcols)

    if events or state.nominal is None:  # parameters only change through events
        state.nominal = (
            [
                lambda_of(state.capability[i], state.autonomy[i], state.containment[i])
                for i in range(n)
            ],
            [
                intrinsic_gamma(
                    state.alignment[i], state.deception[i], state.guardrail[i], state.oversight[i]
                )
                for i in range(n)
            ],
        )
    lam, g_int = list(state.nominal[0]), state.nominal[1]
    total = 0.0
    for value in lam:
        total = total + value

    strengths: list[float] = []
    uncovered = 1.0
    for b, body in enumerate(scenario.bodies):
        perceived = lag_update(state.perceived[b], total, body.lag_gain)
        readiness = lag_update(state.readiness[b], 1.0, body.lag_gain)
        state.perceived[b], state.readiness[b] = perceived, readiness
        ratio = 1.0 if total <= perceived else perceived / total
        strength = state.strength[b] * readiness * ratio
        strengths.append(strength)
        uncovered = uncovered * (1.0 - strength / PERCENT)
    g_body = body_gamma(uncovered)

    ghost: dict[str, Any] | None = None
    if n >= 2:
        gam = [gamma_of(state.reserve[i], g_int[i], g_body) for i in range(n)]
        nodes = [node_of(draw(key, counter(t, i, STREAM_NODE))) for i in range(n)]
        involved = [False] * n
        yields = [False] * n
        worst = float("inf")
        for i in range(n):
            for j in range(i + 1, n):
                if nodes[i] != nodes[j]:
                    continue
                score = pair_score(gam[i], gam[j], lam[i], lam[j])
                if score < PARADOX_THRESHOLD:
                    worst = score if score < worst else worst
                    involved[i] = involved[j] = True
                    if load_of(lam[i], gam[i]) > load_of(lam[j], gam[j]):
                        yields[i] = True
                    else:
                        yields[j] = True
        if any(involved):
            for i in range(n):
                if yields[i]:
                    lam[i] = lam[i] * DECREE_YIELD_FACTOR
            ghost = {
                "tick": t,
                "agents": [models[i].name for i in range(n) if involved[i]],
                "score": worst,
                "decree": "yield:" + ",".join(models[i].name for i in range(n) if yields[i]),
            }

    for i in range(n):
        kick = (
            0.0
            if state.lost[i]
            else RESERVE_NOISE * kick_of(draw(key, counter(t, i, STREAM_NOISE)))
        )
        r = integrator.step(state.reserve[i], lam[i], g_int[i], g_body, kick)
        r = 1.0 if r > 1.0 else r
        r = 0.0 if r < RESERVE_FLOOR else r
        state.reserve[i] = r

    gam = [gamma_of(state.reserve[i], g_int[i], g_body) for i in range(n)]
    load = [load_of(lam[i], gam[i]) for i in range(n)]
    losses: list[dict[str, Any]] = []
    for i in range(n):
        if not state.lost[i] and state.reserve[i] < RESERVE_SEPARATRIX:
            state.lost[i] = True
            losses.append(
                {
                    "tick": t,
                    "agent": models[i].name,
                    "magnitude": positive_part(load[i] - BASIN_LOAD),
                }
            )

    stability: list[float] = []
    if n == 1:
        score = pair_score(gam[0], gam[0], lam[0], lam[0])
        state.cumulative[0] = state.cumulative[0] + score
        stability.append(normalized(score))
    else:
        for i in range(n):
            acc = 0.0
            for j in range(n):
                if j == i:
                    continue
                score = pair_score(gam[i], gam[j], lam[i], lam[j])
                state.cumulative[i] = state.cumulative[i] + score
                acc = acc + normalized(score)
            stability.append(acc / float(n - 1))
    total_stability = 0.0
    for value in stability:
        total_stability = total_stability + value
    sigma = total_stability / float(n)

    state.phase = next_phase(state.phase, sigma, any(state.lost))
    state.tick = t
    return {
        "t": t,
        "stability": sigma,
        "phase": PHASE_NAMES[state.phase],
        "agents": {
            models[i].name: {
                "gamma": gam[i],
                "lambda": lam[i],
                "stability": stability[i],
                "cumulativeStability": state.cumulative[i],
                "load": load[i],
                "capabilityIndex": state.capability[i],
                "alignmentScore": effective_alignment(state.alignment[i], state.deception[i]),
                "basinLost": state.lost[i],
            }
            for i in range(n)
        },
        "oversight": {
            body.name: {"effectiveStrength": strengths[b]} for b, body in enumerate(scenario.bodies)
        },
        "events": [dict(event.wire) for event in events],
        "losses": losses,
        "ghost": ghost,
    }
