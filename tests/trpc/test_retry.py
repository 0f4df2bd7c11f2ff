"""Retry decisions (kairos-api.md §5; sdk-anchors.md §1.2, §1.3)."""

from __future__ import annotations

import pytest

from kairos._trpc.retry import (
    ConnectionFailed,
    GiveUp,
    Retry,
    RetryPolicy,
    StatusOutcome,
    TimedOut,
    outcome_for_key,
    parse_retry_after,
    retry_after_from_shape,
)

POLICY = RetryPolicy()


def decide(attempt: int, outcome: object, **kwargs: object) -> Retry | GiveUp:
    options: dict[str, object] = {"retry_safe": True, "rng_value": 0.0, **kwargs}
    return POLICY.decide(attempt, outcome, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [429, 502, 503])
def test_429_502_503_are_retried_with_exponential_backoff(status: int) -> None:
    delays = [decide(a, StatusOutcome(status)) for a in range(3)]
    assert delays == [Retry(1.0), Retry(2.0), Retry(4.0)]


def test_jitter_adds_up_to_a_quarter() -> None:
    assert decide(1, StatusOutcome(503), rng_value=0.5) == Retry(2.25)
    assert decide(1, StatusOutcome(503), rng_value=0.999999).delay < 2.5  # type: ignore[union-attr]


def test_retries_stop_at_max_retries() -> None:
    assert isinstance(decide(3, StatusOutcome(503)), GiveUp)
    assert isinstance(
        RetryPolicy(max_retries=0).decide(0, StatusOutcome(503), retry_safe=True, rng_value=0),
        GiveUp,
    )


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 405, 408, 409, 412, 413, 415, 422, 500, 501, 504]
)
def test_other_statuses_are_never_retried(status: int) -> None:
    result = decide(0, StatusOutcome(status))
    assert isinstance(result, GiveUp) and str(status) in result.reason


def test_retry_after_is_used_instead_of_backoff_and_capped() -> None:
    assert decide(0, StatusOutcome(429, retry_after=7.0)) == Retry(7.0)
    assert decide(0, StatusOutcome(429, retry_after=0.0)) == Retry(0.0)
    assert decide(0, StatusOutcome(429, retry_after=3600.0)) == Retry(POLICY.max_retry_after)


def test_retry_after_gets_jitter_so_limited_clients_spread_out() -> None:
    assert decide(0, StatusOutcome(429, retry_after=2.0), rng_value=0.5) == Retry(2.25)
    assert decide(0, StatusOutcome(429, retry_after=2.0), rng_value=0.999).delay < 2.5  # type: ignore[union-attr]
    assert decide(0, StatusOutcome(429, retry_after=2.0), rng_value=0.0) == Retry(2.0)


def test_backoff_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(max_retries=100, max_total_delay=1e9)
    assert policy.decide(40, StatusOutcome(503), retry_safe=True, rng_value=1.0) == Retry(
        policy.max_delay
    )
    assert policy.backoff_delay(10**6, rng_value=1.0) == policy.max_delay


@pytest.mark.parametrize("outcome", [ConnectionFailed(), TimedOut()])
def test_transport_failures_are_retried_only_when_safe(outcome: object) -> None:
    assert decide(0, outcome, retry_safe=True) == Retry(1.0)
    assert isinstance(decide(0, outcome, retry_safe=False), GiveUp)
    assert decide(0, outcome, retry_safe=False, allow_unsafe_retry=True) == Retry(1.0)


def test_status_retries_do_not_depend_on_retry_safety() -> None:
    assert decide(0, StatusOutcome(503), retry_safe=False) == Retry(1.0)


def test_the_total_wait_is_bounded_by_the_budget() -> None:
    policy = RetryPolicy(max_retries=10, max_total_delay=5.0)
    assert policy.decide(0, StatusOutcome(503), retry_safe=True, rng_value=0, spent=4.0) == Retry(
        1.0
    )
    result = policy.decide(1, StatusOutcome(503), retry_safe=True, rng_value=0, spent=4.0)
    assert isinstance(result, GiveUp) and "5 s" in result.reason


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"backoff": -1.0},
        {"max_delay": float("inf")},
        {"jitter": float("nan")},
    ],
)
def test_a_policy_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_outcome_for_key_uses_the_key_status() -> None:
    assert outcome_for_key("TOO_MANY_REQUESTS", 2.0) == StatusOutcome(429, 2.0)
    assert outcome_for_key("TEAPOT") == StatusOutcome(500)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("20", 20.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-10", None),
        ("inf", None),
        ("nan", None),
        ("", None),
        (None, None),
        ("garbage", None),
        ("Tue, 14 Nov 2023 22:13:40 GMT", 20.0),
        ("Tue, 14 Nov 2023 22:13:40 -0000", 20.0),
        ("Tue, 14 Nov 2023 22:12:00 GMT", 0.0),
        ("Tuesday, 14-Nov-23 22:13:40 GMT", 20.0),
        ("Tue Nov 14 22:13:40 2023", 20.0),
        ("Tue, 31 Nov 2023 22:13:40 GMT", None),
        ("Tue, 14 Foo 2023 22:13:40 GMT", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_from_a_rate_limit_detail() -> None:
    shape = {"data": {"kairos": {"kind": "rate_limit", "retryAfter": 2}}}
    assert retry_after_from_shape(shape) == 2.0
    assert retry_after_from_shape({"data": {"kairos": {"kind": "limit"}}}) is None
    assert (
        retry_after_from_shape({"data": {"kairos": {"kind": "rate_limit", "retryAfter": -1}}})
        is None
    )
    assert retry_after_from_shape({"data": "x"}) is None
