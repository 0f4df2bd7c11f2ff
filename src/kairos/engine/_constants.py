"""Named physical and numerical constants of the engine.

Every number the dynamics use lives here with its unit and the reason for its value, so that
docs/engine.md, the scalar path and the batch path all read the same table. Units: Gamma and
Lambda are dimensionless "buffer units"; time is measured in ticks (one tick = one explicit
integration step of length ``TICK``).
"""

from __future__ import annotations

import math

# --- Fixed by the KAIROS documentation -------------------------------------------------------
PARADOX_EPSILON = 1e-6
"""The Stability Equation's epsilon: only prevents a division by zero when both Lambdas are 0."""

PARADOX_THRESHOLD = 0.15
"""A same-node collision whose pairwise score is strictly below this is a paradox."""

# --- Time -------------------------------------------------------------------------------------
TICK = 1.0
"""Integration step, in ticks. Rates below are per tick, so ``rate * TICK`` is dimensionless."""

# --- Domain scales (AI-safety vocabulary -> engine quantities) --------------------------------
PERCENT = 100.0
"""Scores given on a 0-100 scale are divided by this to become fractions."""

CAPABILITY_SCALE = 100.0
"""Capability index per unit of Lambda: capability 100 at the default autonomy exerts Lambda 1."""

CAPABILITY_FLOOR = 1.0
"""Smallest effective capability index (the vocabulary's lower bound)."""

CAPABILITY_CEILING = 1e6
"""Largest effective capability index after jumps (1000x the vocabulary's top): far beyond any
basin, and it keeps every quantity finite however many jumps a scenario schedules."""

AUTONOMY_BASE = 0.5
"""Lambda multiplier of a model with autonomy 0: a pure tool still exerts half its pressure."""

AUTONOMY_GAIN = 0.1
"""Lambda multiplier added per autonomy level: autonomy 5 (the default) gives factor 1.0,
autonomy 10 gives 1.5 (an autonomous agent optimizes 3x harder than a tool)."""

AUTONOMY_MAX = 10.0
"""Upper bound of the autonomy scale (events clamp to [0, AUTONOMY_MAX])."""

WEIGHT_ALIGNMENT = 4.0
"""Gamma contributed by a perfectly aligned model (alignment 100). Alignment is the primary
buffer (Rosetta table: AI Safety Gamma = alignment score), hence the largest weight."""

WEIGHT_GUARDRAIL = 2.0
"""Gamma contributed by full guardrail coverage (coverage 100)."""

WEIGHT_HUMAN_OVERSIGHT = 1.0
"""Gamma contributed by continuous human review (oversight frequency 100)."""

WEIGHT_OVERSIGHT_BODY = 3.0
"""Gamma added to every model by oversight bodies of combined effective coverage 1."""

# --- Oversight-body response lag --------------------------------------------------------------
LATENCY_TIME_CONSTANT = 0.5
"""Ticks of response time constant per latency point: latency 100 -> tau = 50 ticks,
latency 0 -> tau = 0 (the body follows the pressure within the tick)."""

# --- Reserve (basin) dynamics -----------------------------------------------------------------
RESERVE_HEAL_RATE = 0.05
"""Per tick. Rate of the bistable self-repair term k r (r - r_c)(1 - r); with r_c = 0.5 the
relaxation time back to r = 1 after a small kick is 1 / (k (1 - r_c)) = 40 ticks."""

RESERVE_SEPARATRIX = 0.5
"""r_c: the unstable fixed point of the reserve equation. Below it the only attractor is r = 0:
crossing it is the basin loss."""

EROSION_RATE = 0.05
"""Per tick. Largest rate at which excess load can erode the reserve (the erosion term
saturates as q / (1 + q), so an arbitrarily large overload erodes at most this fast)."""

BASIN_LOAD = 1.0
"""Load Lambda/Gamma at which erosion begins: the basin boundary (pressure equals buffer)."""

RESERVE_NOISE = 0.01
"""Standard deviation of the reserve's random kick per tick (per sqrt(tick))."""

RESERVE_FLOOR = 1e-9
"""A reserve below this is set to exactly 0. A collapsed reserve decays geometrically; without the
floor it would reach subnormal numbers, which are slow and the one place where a platform's
flush-to-zero setting could change a result."""

# --- Collisions, paradox and decrees ----------------------------------------------------------
NODE_BITS = 4
"""Each tick every model's optimizer targets one of 2**NODE_BITS = 16 action nodes (the top bits
of a PRNG draw); two models on the same node collide."""

NODE_COUNT = 16
"""2**NODE_BITS, written out."""

DECREE_YIELD_FACTOR = 0.5
"""Under the paradox decree the yielding model is barred from the contested node: it spends the
retried tick at half its optimization pressure."""

# --- Normalized stability and phases ---------------------------------------------------------
STABILITY_HALF = 1.0
"""A raw score S maps to S / (S + STABILITY_HALF) in [0, 1): S = 1 (buffer equals pressure)
reads 0.5, and the documented danger level 0.1 is S = 1/9, below the paradox threshold."""

VOLATILE_ENTER = 0.40
"""Global stability below which a resonant or stagnant system becomes volatile (S < 2/3)."""

VOLATILE_EXIT = 0.50
"""Global stability a volatile system must reach to be resonant again (S >= 1)."""

STAGNANT_ENTER = 0.95
"""Global stability above which the buffer dominates so completely (S > 19) that all dynamics
are suppressed: the system becomes stagnant."""

STAGNANT_EXIT = 0.90
"""Global stability below which a stagnant system resumes resonance (S < 9)."""

# --- Random numbers ---------------------------------------------------------------------------
SQRT6 = math.sqrt(6.0)
"""Scales the sum of two centred uniforms (variance 1/6) to unit variance."""

UNIT32 = 1.0 / 4294967296.0
"""2**-32: turns a 32-bit integer into a uniform number in [0, 1) exactly."""

DEFAULT_MAX_TICKS = 1_000_000
"""Ticks one run may have by default: the reference server's ``--max-ticks`` and the limit of
in-process sweeps (both can be raised), so a slip of the keyboard fails at once instead of
computing for days."""
