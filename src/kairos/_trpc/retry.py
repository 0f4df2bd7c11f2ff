"""When to retry a failed request, and how long to wait first. Pure: no clock, no randomness.

KAIROS rules (kairos-api.md §5): 429, 502 and 503 are retried up to ``max_retries`` times, after
the server's ``Retry-After`` when it gives one (capped at ``max_retry_after``, plus up to
``jitter`` of it again, so that clients limited together do not all retry in the same instant),
else after
``backoff * 2**attempt`` seconds plus up to ``jitter`` of that again (capped at ``max_delay``).
Connection errors and timeouts are retried only for retry-safe procedures, or when the caller
allows it (``simulation.create`` carries an idempotency key, which makes a repeat harmless).
No other status is retried: a 4xx will not change, and a 500 from a deterministic engine
would fail again. ``max_total_delay`` bounds the time spent waiting across all retries of one
call, so an unattended run cannot stall for long on one request.

The caller passes the random number for the jitter (``rng_value`` in [0, 1)) and the current
time for HTTP-date hints, so every decision can be reproduced in tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from .codes import ERROR_CODES

__all__ = [
    "RETRYABLE_STATUSES",
    "ConnectionFailed",
    "GiveUp",
    "Outcome",
    "Retry",
    "RetryPolicy",
    "StatusOutcome",
    "TimedOut",
    "outcome_for_key",
    "parse_http_date",
    "parse_retry_after",
    "retry_after_from_shape",
]

RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 502, 503})
"""The HTTP statuses retried whatever the procedure."""


@dataclass(frozen=True)
class StatusOutcome:
    """The server answered with an error status; ``retry_after`` is its hint in seconds."""

    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class ConnectionFailed:
    """No answer: the connection could not be made or broke before the response."""


@dataclass(frozen=True)
class TimedOut:
    """No answer in time."""


Outcome = StatusOutcome | ConnectionFailed | TimedOut


@dataclass(frozen=True)
class Retry:
    """Try again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True)
class GiveUp:
    """Do not retry; ``reason`` says why, for logs and error messages."""

    reason: str


def outcome_for_key(key: str | None, retry_after: float | None = None) -> StatusOutcome:
    """The outcome of an error known only by its tRPC key (a WebSocket error, say)."""
    row = ERROR_CODES.get(key) if key is not None else None
    return StatusOutcome(row.http_status if row is not None else 500, retry_after)


def _finite_non_negative(value: float, name: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries; the defaults are the documented ``KairosClient`` ones."""

    max_retries: int = 3
    backoff: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    jitter: float = 0.25
    max_total_delay: float = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError(f"max_retries must be an int, not {self.max_retries!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, not {self.max_retries}")
        _finite_non_negative(self.backoff, "backoff")
        _finite_non_negative(self.max_delay, "max_delay")
        _finite_non_negative(self.max_retry_after, "max_retry_after")
        _finite_non_negative(self.jitter, "jitter")
        _finite_non_negative(self.max_total_delay, "max_total_delay")

    def backoff_delay(self, attempt: int, rng_value: float) -> float:
        """``backoff * 2**attempt``, plus ``jitter * rng_value`` of that, capped at max_delay."""
        rng_value = min(max(rng_value, 0.0), 1.0) if math.isfinite(rng_value) else 0.0
        base = self.backoff * 2.0 ** min(max(attempt, 0), 64)
        return min(base * (1.0 + self.jitter * rng_value), self.max_delay)

    def decide(
        self,
        attempt: int,
        outcome: Outcome,
        *,
        retry_safe: bool,
        allow_unsafe_retry: bool = False,
        rng_value: float,
        spent: float = 0.0,
    ) -> Retry | GiveUp:
        """Whether to retry after ``outcome``.

        ``attempt`` is the number of retries already made (0 after the first failure) and
        ``spent`` the seconds already waited before them; a retry that would take the total
        over ``max_total_delay`` is not made.
        """
        if attempt >= self.max_retries:
            return GiveUp(f"gave up after {attempt} retries")
        if isinstance(outcome, StatusOutcome):
            if outcome.status not in RETRYABLE_STATUSES:
                return GiveUp(f"HTTP {outcome.status} is not retried")
            hint = outcome.retry_after
            if hint is not None and math.isfinite(hint) and hint >= 0:
                # The hint is the earliest time to come back; spreading the retries of clients
                # limited together keeps them from being limited together again. The spread
                # stays within max_retry_after, the longest wait a hint may ask for.
                spread = min(hint, self.max_retry_after) * (1.0 + self.jitter * rng_value)
                delay = min(spread, self.max_retry_after)
            else:
                delay = self.backoff_delay(attempt, rng_value)
        else:
            if not (retry_safe or allow_unsafe_retry):
                what = "timeout" if isinstance(outcome, TimedOut) else "connection error"
                return GiveUp(f"the procedure is not safe to retry after a {what}")
            delay = self.backoff_delay(attempt, rng_value)
        if spent + delay > self.max_total_delay:
            return GiveUp(f"retrying would wait more than {self.max_total_delay:g} s in total")
        return Retry(delay)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date.

    ``now`` is the current POSIX time (for dates). A date in the past means 0; anything
    unreadable, negative or infinite means no hint.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = parse_http_date(value)
    return None if when is None else max(0.0, when - now)


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
# RFC 9110 section 5.6.7: IMF-fixdate, the obsolete RFC 850 form and asctime (all UTC). "-0000"
# and "+0000" are accepted as GMT, as email-style senders write them.
_HTTP_DATES = (
    re.compile(
        r"[A-Za-z]{3}, (?P<d>\d{2}) (?P<mon>[A-Za-z]{3}) (?P<y>\d{4}) "
        r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) (?:GMT|UTC|[+-]0000)"
    ),
    re.compile(
        r"[A-Za-z]+, (?P<d>\d{2})-(?P<mon>[A-Za-z]{3})-(?P<y>\d{2}) "
        r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) GMT"
    ),
    re.compile(
        r"[A-Za-z]{3} (?P<mon>[A-Za-z]{3}) +(?P<d>\d{1,2}) "
        r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) (?P<y>\d{4})"
    ),
)


def parse_http_date(value: str) -> float | None:
    """The POSIX time of an HTTP-date (RFC 9110 section 5.6.7), or None if it is not one.

    Written here rather than taken from ``email.utils``, which imports ``socket``: this
    package does no I/O and imports nothing that does.
    """
    for pattern in _HTTP_DATES:
        match = pattern.fullmatch(value.strip())
        if match is None:
            continue
        month = _MONTHS.get(match["mon"].title())
        if month is None:
            return None
        year = int(match["y"])
        if len(match["y"]) == 2:  # RFC 850: 00-69 are 20xx, 70-99 are 19xx, as POSIX strptime
            year += 2000 if year < 70 else 1900
        try:
            when = datetime(
                year,
                month,
                int(match["d"]),
                int(match["H"]),
                int(match["M"]),
                int(match["S"]),
                tzinfo=timezone.utc,
            )
        except ValueError:
            return None
        return when.timestamp()
    return None


def retry_after_from_shape(shape: Mapping[str, object]) -> float | None:
    """``data.kairos.retryAfter`` of a rate-limit error shape, when it is a usable number."""
    data = shape.get("data")
    if not isinstance(data, Mapping):
        return None
    detail = data.get("kairos")
    if not isinstance(detail, Mapping) or detail.get("kind") != "rate_limit":
        return None
    value = detail.get("retryAfter")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
