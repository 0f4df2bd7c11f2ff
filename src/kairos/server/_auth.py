"""API keys and per-key rate limiting for the reference server.

Keys are compared in constant time (:func:`hmac.compare_digest` against every configured key, so
the time taken does not reveal which key nearly matched) and are never logged or echoed: the
server refers to a key by a short fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

ANONYMOUS = ""
"""The owner of simulations on a server without API keys."""


def fingerprint(key: str) -> str:
    """A short, non-reversible name for a key, safe for logs."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:10]


def parse_key_spec(spec: str) -> tuple[str, str]:
    """``ORG=KEY`` -> (key, org); a bare ``KEY`` belongs to an organization of its own, named
    after the key's fingerprint."""
    spec = spec.strip()
    org, sep, key = spec.partition("=")
    if not sep:
        key, org = spec, "org_" + fingerprint(spec).removeprefix("key_")
    if not key or not org:
        raise ValueError("an API key spec is KEY or ORG=KEY, with neither part empty")
    if any(c.isspace() for c in key) or len(key) > 512:
        raise ValueError("an API key may not contain whitespace or exceed 512 characters")
    return key, org


class KeyRing:
    """The configured API keys and the organization each belongs to."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = [(k.encode(), org) for k, org in keys.items()]

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> KeyRing:
        return cls(dict(parse_key_spec(s) for s in specs if s.strip()))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def organization_of(self, presented: str | None) -> str | None:
        """The organization of a presented key, or None when it is not a configured key."""
        if presented is None:
            return None
        candidate = presented.encode()
        found = None
        for key, org in self._keys:
            if hmac.compare_digest(key, candidate):
                found = org
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class RateLimit:
    """``rate`` requests per second on average, bursts of up to ``burst``."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)) or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


class RateLimiter:
    """Token buckets, one per caller (API key fingerprint, or client address without keys)."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0.0 when allowed, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(caller, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - last) * self.limit.rate)
            if tokens >= cost:
                self._buckets[caller] = (tokens - cost, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            if len(self._buckets) > 100_000:
                self._forget_full_buckets(now)
            return (cost - tokens) / self.limit.rate

    def _forget_full_buckets(self, now: float) -> None:
        full = [
            caller
            for caller, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.limit.rate >= self.limit.burst
        ]
        for caller in full:
            del self._buckets[caller]
