"""What both ends of the tRPC WebSocket share: request ids and the PING/PONG keep-alive frames.

Keep-alive travels as the literal text frames ``PING`` and ``PONG`` (not RFC 6455 control
frames, which browsers cannot send); they are recognised before any JSON decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["PING", "PONG", "Ping", "Pong", "RequestId", "keep_alive", "normalize_id"]

PING: Final = "PING"
PONG: Final = "PONG"

RequestId = int | float | str
"""A request id: tRPC accepts any number but NaN, and strings. Integral floats become ints."""


@dataclass(frozen=True)
class Ping:
    """The peer sent ``PING``; answer ``PONG``."""


@dataclass(frozen=True)
class Pong:
    """The peer answered a ``PING``."""


_PING_BYTES: Final = PING.encode()
_PONG_BYTES: Final = PONG.encode()


def keep_alive(frame: str | bytes) -> Ping | Pong | None:
    """The keep-alive event ``frame`` is (as text or as bytes), or None for any other frame."""
    if frame in (PING, _PING_BYTES):
        return Ping()
    if frame in (PONG, _PONG_BYTES):
        return Pong()
    return None


def normalize_id(value: object) -> RequestId | None:
    """``value`` as a request id, or None when it is not one (null, bool, NaN, object...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        # JavaScript has one number type: 3.0 and 3 are the same id.
        return int(value) if value.is_integer() else value
    return None
