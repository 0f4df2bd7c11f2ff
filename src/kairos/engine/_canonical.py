"""Canonical bytes of traces, scenarios and checkpoints.

Definition (stable across engine versions; docs/engine.md repeats it): a JSON value is encoded
with ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
allow_nan=False)``. Floats use Python's ``repr``, the shortest string that round-trips to the same
double, so decoding the bytes gives back every number bit for bit. A trace's canonical bytes are
the steps' canonical JSON texts, each followed by a line feed (``\\n``), in tick order, UTF-8
encoded (pure ASCII by construction). The trace hash is the SHA-256 of those bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, compact, shortest float repr)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def canonical_step_bytes(step: Mapping[str, Any]) -> bytes:
    """One step's canonical line: canonical JSON plus ``\\n``."""
    return (canonical_json(step) + "\n").encode("ascii")


def canonical_trace_bytes(steps: Iterable[Mapping[str, Any]]) -> bytes:
    """The canonical bytes of a whole trace (hold it only for short traces; prefer
    :func:`trace_sha256`, which streams)."""
    return b"".join(canonical_step_bytes(step) for step in steps)


def trace_sha256(steps: Iterable[Mapping[str, Any]]) -> str:
    """Hex SHA-256 of a trace's canonical bytes, computed step by step in constant memory."""
    digest = hashlib.sha256()
    for step in steps:
        digest.update(canonical_step_bytes(step))
    return digest.hexdigest()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
