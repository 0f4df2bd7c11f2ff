"""API keys and per-key rate limiting for the reference server.

Keys are compared in constant time (:func:`hmac.compare_digest` against every configured key, so
the time taken does not reveal which key nearly matched) and are never logged or echoed: the
server refers to a key by a short fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("kairos.server")

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


def read_key_file(path: Path) -> dict[str, str]:
    """The keys of an API keys file: one ``[ORG=]KEY`` per line; blank lines and lines starting
    with ``#`` are ignored. Raises OSError or ValueError (naming the line, never the key)."""
    keys: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key, org = parse_key_spec(line)
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: {exc}") from None
        keys[key] = org
    return keys


class KeyRing:
    """The API keys a server accepts and the organization each belongs to.

    ``static`` keys (``--api-key``) are fixed; the keys of ``key_file`` (``--api-keys-file``)
    are re-read by :meth:`reload_if_changed` (the server polls it, and ``kairos serve`` also on
    SIGHUP), so removing a key from the file revokes it without a restart. With a key file the
    server always requires a key, even when the file holds none: revoking every key locks
    everyone out rather than opening the server. A file that cannot be read or parsed keeps the
    keys last read (and is logged, without any key).
    """

    def __init__(self, keys: Mapping[str, str], key_file: Path | None = None) -> None:
        self._static = dict(keys)
        self._file = key_file
        self._file_stamp: tuple[int, int, int] | None = None
        self._file_keys: dict[str, str] = {}
        self._lock = threading.Lock()
        self._keys: list[tuple[bytes, str]] = []
        self.generation = 0
        """Incremented whenever the accepted keys change."""
        if key_file is not None:
            self._file_keys = read_key_file(key_file)  # at start, a bad file is an error
            self._file_stamp = _stamp(key_file)
        self._rebuild()

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> KeyRing:
        return cls(dict(parse_key_spec(s) for s in specs if s.strip()))

    def _rebuild(self) -> None:
        merged = {**self._file_keys, **self._static}
        self._keys = [(k.encode(), org) for k, org in merged.items()]
        self.generation += 1

    @property
    def enabled(self) -> bool:
        return bool(self._keys) or self._file is not None

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

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Re-read the key file when its modification time, size or inode changed (or when
        ``force``); True when the accepted keys changed."""
        if self._file is None:
            return False
        with self._lock:
            try:
                stamp = _stamp(self._file)
                if stamp == self._file_stamp and not force:
                    return False
                keys = read_key_file(self._file)
            except (OSError, ValueError) as exc:
                if self._file_stamp is not None:
                    log.error("API keys file not reloaded, keeping the keys last read: %s", exc)
                self._file_stamp = None  # try again on the next check
                return False
            self._file_stamp = stamp
            if keys == self._file_keys:
                return False
            removed = len(set(self._file_keys) - set(keys))
            added = len(set(keys) - set(self._file_keys))
            self._file_keys = keys
            self._rebuild()
        log.info("API keys file reloaded: %d key(s) added, %d revoked", added, removed)
        return True


def _stamp(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


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
    """Token buckets, one per caller (API key fingerprint, or client address without keys).

    At most ``max_buckets`` callers are remembered: past that, buckets that have refilled (they
    hold no information) are forgotten, then the least recently used ones, so a caller
    cycling through identities cannot grow the table without bound.
    """

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_buckets: int = 100_000,
    ) -> None:
        self.limit = limit
        self.max_buckets = max_buckets
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, caller: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0.0 when allowed, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            known = self._buckets.pop(caller, None)  # re-inserted last: most recently used
            if known is None and len(self._buckets) >= self.max_buckets:
                self._make_room(now)
            tokens, last = known if known is not None else (float(self.limit.burst), now)
            tokens = min(float(self.limit.burst), tokens + (now - last) * self.limit.rate)
            if tokens >= cost:
                self._buckets[caller] = (tokens - cost, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (cost - tokens) / self.limit.rate

    def _make_room(self, now: float) -> None:
        full = [
            caller
            for caller, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.limit.rate >= self.limit.burst
        ]
        for caller in full:
            del self._buckets[caller]
        excess = len(self._buckets) - self.max_buckets // 2
        if excess > 0 and len(self._buckets) >= self.max_buckets:
            for caller in list(self._buckets)[:excess]:
                del self._buckets[caller]
