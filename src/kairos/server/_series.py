"""``simulation.series``: a trace reduced for a chart, for runs of any length.

A trace of a million ticks is half a gigabyte of JSON; a chart needs about one value pair per
pixel. :class:`SeriesCache` keeps, per simulation, compact per-tick columns (global stability,
phase, each model's Gamma and Lambda) and the sparse markers, extended from the store as the run
goes on. :func:`reduce_series` cuts a range of them into power-of-two buckets and keeps the lowest
and highest value of each bucket, so a one-tick dip shows at any zoom.

Reading the columns uses a scanner over the stored canonical JSON lines (a few regular
expressions per chunk, several times faster than ``json.loads``); a chunk whose lines do not
have the expected shape is decoded with ``json`` instead, so the result is the same either way.
Markers come from the few lines that carry one, decoded in full. A new kind of marker is one
more :class:`MarkerKind` in :data:`MARKER_KINDS`. A decree shows in the step of the tick it took
effect as one of its events (the last ones of that tick, in the order the decrees took effect):
:func:`mark_decrees` turns those event markers into ``decree`` markers.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from kairos.server._store import SimulationStore

if TYPE_CHECKING:
    from kairos.server._store import DecreeRecord

PHASES = ("resonant", "volatile", "stagnant")
_PHASE_CODE = {name.encode(): code for code, name in enumerate(PHASES)}

FloatArray = npt.NDArray[np.float64]


class Marker(NamedTuple):
    """One marker as ``simulation.series`` answers it (``$defs/SeriesMarker``)."""

    tick: int
    kind: str
    label: str
    agents: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"tick": self.tick, "kind": self.kind, "label": self.label, "agents": self.agents}


@dataclass(frozen=True)
class MarkerKind:
    """A kind of marker: the bytes that show a stored step may hold one (a cheap test on the
    canonical JSON line) and how to read the markers from the decoded step."""

    trigger: bytes
    extract: Callable[[dict[str, Any]], Iterable[Marker]]


def _basin_losses(step: dict[str, Any]) -> Iterator[Marker]:
    for loss in step.get("losses") or ():
        agent = str(loss["agent"])
        label = f"basin loss: {agent} (load over the boundary by {loss['magnitude']:.3g})"
        yield Marker(int(loss["tick"]), "basinLoss", label, (agent,))


def _ghost_branches(step: dict[str, Any]) -> Iterator[Marker]:
    ghost = step.get("ghost")
    if ghost:
        agents = tuple(str(a) for a in ghost["agents"])
        label = (
            f"ghost branch: paradox between {', '.join(agents)} (score {ghost['score']:.3g}), "
            f"retried under {ghost['decree']}"
        )
        yield Marker(int(ghost["tick"]), "ghostBranch", label, agents)


def _events(step: dict[str, Any]) -> Iterator[Marker]:
    for event in step.get("events") or ():
        target = event.get("target")
        label = str(event["type"]) + (f" on {target}" if target else "")
        if event.get("magnitude") is not None:
            label += f" ({event['magnitude']:g})"
        yield Marker(int(step["t"]), "event", label, (str(target),) if target else ())


def _warnings(step: dict[str, Any]) -> Iterator[Marker]:
    for warning in step.get("warnings") or ():
        agent = warning.get("agent")
        whose = f"{agent}'s stability" if agent else "system stability"
        label = f"warning: {whose} {warning['stability']:.3g} fell below {warning['level']:g}"
        yield Marker(int(warning["tick"]), "warning", label, (str(agent),) if agent else ())


def _prophecies(step: dict[str, Any]) -> Iterator[Marker]:
    prophecy = step.get("prophecy")
    if prophecy:
        tick, horizon = int(prophecy["tick"]), int(prophecy["horizon"])
        at_risk = tuple(str(a) for a in prophecy["atRisk"])
        label = (
            f"prophecy: {prophecy['predictedPhase']} at tick {tick + horizon} "
            f"(confidence {prophecy['confidence']:g}, loss risk {prophecy['lossRisk']:g}"
            + (f": {', '.join(at_risk)}" if at_risk else "")
            + ")"
        )
        yield Marker(tick, "prophecy", label, at_risk)


MARKER_KINDS: tuple[MarkerKind, ...] = (
    MarkerKind(b'"losses":[{', _basin_losses),
    MarkerKind(b'"ghost":{', _ghost_branches),
    MarkerKind(b'"events":[{', _events),
    MarkerKind(b'"warnings":[{', _warnings),
    MarkerKind(b'"prophecy":{', _prophecies),
)
"""Every kind of marker read from a step, in the order they are read. ``decree`` markers are
event markers marked by :func:`mark_decrees`."""

BACKGROUND_KINDS = frozenset({"prophecy"})
"""Kinds that come at a regular interval: when markers must be left out, these go first, so a
run's prophecies (one every 25 ticks) never crowd out its decrees, losses or warnings."""


def step_markers(step: dict[str, Any]) -> list[Marker]:
    """The markers of one decoded step."""
    return [marker for kind in MARKER_KINDS for marker in kind.extract(step)]


def mark_decrees(markers: list[Marker], decrees: Iterable[DecreeRecord], first_tick: int) -> None:
    """Turn the event markers of applied decrees (ticks from ``first_tick``) into ``decree``
    markers, in place: a decree's event is among the events of the step of the tick it took
    effect, after the scenario's own, in the order the decrees took effect."""
    by_tick: dict[int, list[DecreeRecord]] = {}
    for decree in decrees:
        if decree.status == "applied" and decree.tick is not None and decree.tick >= first_tick:
            by_tick.setdefault(decree.tick, []).append(decree)
    if not by_tick:
        return
    events = Counter(m.tick for m in markers if m.kind == "event" and m.tick in by_tick)
    seen: Counter[int] = Counter()
    for i, marker in enumerate(markers):
        if marker.kind != "event" or marker.tick not in by_tick:
            continue
        applied = by_tick[marker.tick]
        position = seen[marker.tick] - (events[marker.tick] - len(applied))
        seen[marker.tick] += 1
        if position >= 0:
            label = f"decree {applied[position].id}: {marker.label}"
            markers[i] = marker._replace(kind="decree", label=label)


_NUMBER = rb"(-?[0-9][0-9.eE+-]*)"
_TAIL = re.compile(rb'"stability":' + _NUMBER + rb',"t":([0-9]+)[,}]')
_PHASE = re.compile(rb'"phase":"(resonant|volatile|stagnant)"')
_GAMMA_LAMBDA = re.compile(rb'"gamma":' + _NUMBER + rb',"lambda":' + _NUMBER + rb",")


class ChunkColumns(NamedTuple):
    """The columns of consecutive steps, and their markers."""

    stability: list[float]
    phase: list[int]
    gamma: list[float]
    """Each model's Gamma, step after step, the models in the order of their names."""
    lam: list[float]
    markers: list[Marker]


def scan_lines(lines: Sequence[bytes], first_tick: int, agents: Sequence[str]) -> ChunkColumns:
    """Read the columns of stored steps (canonical JSON lines for ticks ``first_tick``...),
    with a scanner where the lines have the expected shape and ``json`` where they do not."""
    fast = _scan_fast(lines, first_tick, len(agents))
    if fast is not None:
        return fast
    return decode_lines(lines, first_tick, agents)


def _scan_fast(lines: Sequence[bytes], first_tick: int, n_agents: int) -> ChunkColumns | None:
    blob = b"\n".join(lines)
    tails = _TAIL.findall(blob)
    phases = _PHASE.findall(blob)
    pairs = _GAMMA_LAMBDA.findall(blob)
    n = len(lines)
    if len(tails) != n or len(phases) != n or len(pairs) != n * n_agents:
        return None
    if int(tails[0][1]) != first_tick or int(tails[-1][1]) != first_tick + n - 1:
        return None
    markers = []
    if any(kind.trigger in blob for kind in MARKER_KINDS):
        markers = [
            marker
            for line in lines
            if any(kind.trigger in line for kind in MARKER_KINDS)
            for marker in step_markers(json.loads(line))
        ]
    return ChunkColumns(
        stability=[float(s) for s, _t in tails],
        phase=[_PHASE_CODE[p] for p in phases],
        gamma=[float(g) for g, _l in pairs],
        lam=[float(lam) for _g, lam in pairs],
        markers=markers,
    )


def decode_lines(lines: Sequence[bytes], first_tick: int, agents: Sequence[str]) -> ChunkColumns:
    """The columns of stored steps, decoded with ``json`` (the reference for the scanner)."""
    out = ChunkColumns([], [], [], [], [])
    for offset, line in enumerate(lines):
        step = json.loads(line)
        if int(step["t"]) != first_tick + offset:
            raise ValueError(f"stored step {step['t']} where {first_tick + offset} was expected")
        out.stability.append(float(step["stability"]))
        out.phase.append(PHASES.index(step["phase"]))
        out.gamma.extend(float(step["agents"][a]["gamma"]) for a in agents)
        out.lam.extend(float(step["agents"][a]["lambda"]) for a in agents)
        out.markers.extend(step_markers(step))
    return out


@dataclass
class Columns:
    """Per-tick columns of ticks ``1..tick`` of one simulation, grown as the run goes on."""

    agents: tuple[str, ...]
    tick: int = 0
    stability: FloatArray = field(default_factory=lambda: np.empty(0))
    phase: npt.NDArray[np.uint8] = field(default_factory=lambda: np.empty(0, np.uint8))
    gamma: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    lam: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    markers: list[Marker] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        """The memory the columns take (allocated, not only used)."""
        arrays = (self.stability, self.phase, self.gamma, self.lam)
        return sum(a.nbytes for a in arrays) + 100 * len(self.markers)

    def append(self, chunk: ChunkColumns) -> None:
        n = len(chunk.stability)
        if self.tick + n > len(self.stability):
            capacity = max(1024, 2 * (self.tick + n))
            self.stability = _grow(self.stability, capacity)
            self.phase = _grow(self.phase, capacity)
            self.gamma = _grow(self.gamma, capacity)
            self.lam = _grow(self.lam, capacity)
        end = self.tick + n
        self.stability[self.tick : end] = chunk.stability
        self.phase[self.tick : end] = chunk.phase
        k = len(self.agents)
        self.gamma[self.tick : end] = np.asarray(chunk.gamma, dtype=np.float64).reshape(n, k)
        self.lam[self.tick : end] = np.asarray(chunk.lam, dtype=np.float64).reshape(n, k)
        self.markers.extend(chunk.markers)
        self.tick = end


def _grow(array: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    shape = (capacity, *array.shape[1:])
    grown = np.empty(shape, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class SeriesCache:
    """Columns of recently charted simulations, kept up to date from the store. Holds at most
    about ``max_bytes`` of columns in all (the least recently charted are dropped first; the one
    being read stays, whatever its size)."""

    def __init__(self, store: SimulationStore, max_bytes: int = 256 * 2**20) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[threading.Lock, Columns | None]] = OrderedDict()

    def columns(self, simulation_id: str) -> Columns | None:
        """The simulation's columns up to its last stored tick (None before its first step).
        Blocking: call it in a worker thread."""
        with self._lock:
            entry = self._entries.get(simulation_id)
            if entry is None:
                entry = (threading.Lock(), None)
                self._entries[simulation_id] = entry
            self._entries.move_to_end(simulation_id)
        lock, columns = entry
        with lock:
            columns = self._entries.get(simulation_id, entry)[1]
            read_from = len(columns.markers) if columns is not None else 0
            first_new = columns.tick + 1 if columns is not None else 1
            for first, _last, lines in self.store.iter_chunks(
                simulation_id, after_tick=columns.tick if columns is not None else 0
            ):
                if columns is None:
                    columns = Columns(agents=tuple(sorted(json.loads(lines[0])["agents"])))
                    columns.gamma = np.empty((0, len(columns.agents)))
                    columns.lam = np.empty((0, len(columns.agents)))
                columns.append(scan_lines(lines, first, columns.agents))
            if columns is not None and any(m.kind == "event" for m in columns.markers[read_from:]):
                # A decree's tick is recorded before its step is computed, so before it is read.
                new = columns.markers[read_from:]
                mark_decrees(new, self.store.decrees(simulation_id), first_new)
                columns.markers[read_from:] = new
            with self._lock:
                self._entries[simulation_id] = (lock, columns)
                self._evict(keep=simulation_id)
        return columns

    def _evict(self, keep: str) -> None:
        total = sum(c.nbytes for _l, c in self._entries.values() if c is not None)
        for simulation_id in list(self._entries):
            if total <= self.max_bytes:
                return
            if simulation_id == keep:
                continue
            _lock, columns = self._entries.pop(simulation_id)
            total -= columns.nbytes if columns is not None else 0


def reduce_series(
    columns: Columns | None,
    from_tick: int,
    to_tick: int | None,
    buckets: int,
    max_markers: int,
) -> dict[str, Any]:
    """The ``simulation.series`` columns of ticks ``from_tick..to_tick`` (the last stored tick
    when None): at most ``buckets`` aligned power-of-two buckets, min and max in each."""
    empty: dict[str, Any] = {
        "fromTick": from_tick,
        "tick": 0,
        "bucketTicks": 1,
        "start": [],
        "end": [],
        "stabilityMin": [],
        "stabilityMax": [],
        "phase": [],
        "agents": {},
        "markers": [],
        "markersTotal": 0,
    }
    if columns is None:
        return empty
    last = columns.tick if to_tick is None else min(to_tick, columns.tick)
    empty["agents"] = {name: _agent_columns([], [], [], []) for name in columns.agents}
    if last < from_tick:
        return {**empty, "tick": last}
    width = _aligned_width(from_tick, last, buckets)
    first_bucket, last_bucket = (from_tick - 1) // width, (last - 1) // width
    index = np.arange(first_bucket, last_bucket + 1, dtype=np.int64)
    starts = np.maximum(index * width + 1, from_tick)
    ends = np.minimum((index + 1) * width, last)
    offsets = starts - from_tick
    lo, hi = from_tick - 1, last

    def reduced(values: FloatArray) -> tuple[list[float], list[float]]:
        window = values[lo:hi]
        low: list[float] = np.minimum.reduceat(window, offsets).tolist()
        high: list[float] = np.maximum.reduceat(window, offsets).tolist()
        return low, high

    stability_min, stability_max = reduced(columns.stability)
    bucket_of = (np.arange(lo, hi, dtype=np.int64) // width) - first_bucket
    counts = np.bincount(
        bucket_of * len(PHASES) + columns.phase[lo:hi], minlength=len(index) * len(PHASES)
    ).reshape(len(index), len(PHASES))
    phase = [PHASES[code] for code in counts.argmax(axis=1).tolist()]
    agents = {}
    for k, name in enumerate(columns.agents):
        gamma_min, gamma_max = reduced(columns.gamma[:, k])
        lambda_min, lambda_max = reduced(columns.lam[:, k])
        agents[name] = _agent_columns(gamma_min, gamma_max, lambda_min, lambda_max)
    in_range = [m for m in columns.markers if from_tick <= m.tick <= last]
    return {
        "fromTick": from_tick,
        "tick": last,
        "bucketTicks": width,
        "start": starts.tolist(),
        "end": ends.tolist(),
        "stabilityMin": stability_min,
        "stabilityMax": stability_max,
        "phase": phase,
        "agents": agents,
        "markers": [m.to_wire() for m in spread(in_range, max_markers)],
        "markersTotal": len(in_range),
    }


def _aligned_width(from_tick: int, last: int, buckets: int) -> int:
    """The smallest power of two ``w`` whose buckets (aligned to multiples of ``w``) cover
    ``from_tick..last`` in at most ``buckets``."""
    width = 1
    while (last - 1) // width - (from_tick - 1) // width + 1 > buckets:
        width *= 2
    return width


def _agent_columns(
    gamma_min: list[float], gamma_max: list[float], lambda_min: list[float], lambda_max: list[float]
) -> dict[str, list[float]]:
    return {
        "gammaMin": gamma_min,
        "gammaMax": gamma_max,
        "lambdaMin": lambda_min,
        "lambdaMax": lambda_max,
    }


def spread(markers: Sequence[Marker], limit: int) -> list[Marker]:
    """At most ``limit`` of the markers, in tick order (all when they fit). When they do not,
    the :data:`BACKGROUND_KINDS` are left out first; what is cut is cut evenly over the list."""
    if len(markers) <= limit:
        return list(markers)
    foreground = [m for m in markers if m.kind not in BACKGROUND_KINDS]
    if len(foreground) >= limit:
        return _even(foreground, limit)
    background = [m for m in markers if m.kind in BACKGROUND_KINDS]
    kept = foreground + _even(background, limit - len(foreground))
    return sorted(kept, key=lambda m: m.tick)


def _even(markers: Sequence[Marker], limit: int) -> list[Marker]:
    """At most ``limit`` of the markers, evenly spread over the list."""
    if len(markers) <= limit:
        return list(markers)
    if limit == 0:
        return []
    if limit == 1:
        return [markers[0]]
    step = (len(markers) - 1) / (limit - 1)
    return [markers[round(i * step)] for i in range(limit)]
