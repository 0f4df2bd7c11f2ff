"""API keys and rate limiting."""

from __future__ import annotations

import pytest

from kairos.server._auth import (
    KeyRing,
    RateLimit,
    RateLimiter,
    bearer_token,
    fingerprint,
    parse_key_spec,
)


def test_key_specs_name_their_organization() -> None:
    assert parse_key_spec("org_a=krs_secret") == ("krs_secret", "org_a")
    key, org = parse_key_spec("krs_alone")
    assert key == "krs_alone" and org.startswith("org_") and "krs_alone" not in org
    for bad in ("=krs", "org=", "org=has space", ""):
        with pytest.raises(ValueError):
            parse_key_spec(bad)


def test_keyring_maps_keys_to_organizations() -> None:
    ring = KeyRing.from_specs(["org_a=krs_a1", "org_a=krs_a2", "org_b=krs_b", " "])
    assert ring.enabled and len(ring) == 3
    assert ring.organization_of("krs_a2") == "org_a"
    assert ring.organization_of("krs_b") == "org_b"
    assert ring.organization_of("krs_b ") is None
    assert ring.organization_of("krs_") is None
    assert ring.organization_of(None) is None
    assert not KeyRing({}).enabled


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer krs_x") == "krs_x"
    assert bearer_token("bearer   krs_x  ") == "krs_x"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_fingerprints_do_not_reveal_keys() -> None:
    assert fingerprint("krs_secret") != fingerprint("krs_secreT")
    assert "secret" not in fingerprint("krs_secret")


def test_token_bucket_allows_bursts_then_paces() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimit(rate=2.0, burst=3), clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(0.5)
    assert limiter.acquire("other") == 0.0, "buckets are per caller"
    now[0] += 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") == pytest.approx(0.5)
    now[0] += 100.0
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0], "refill caps at the burst"
    assert limiter.acquire("k") > 0


def test_rate_limit_rejects_nonsense() -> None:
    for rate, burst in ((0, 1), (-1, 1), (float("inf"), 1), (1, 0)):
        with pytest.raises(ValueError):
            RateLimit(rate=rate, burst=burst)
