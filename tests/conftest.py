"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._postgres import PostgresCluster, unavailable_reason

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory."""
    return ROOT


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A real PostgreSQL server for the session (tests/_postgres.py). Skipped with the reason
    where it cannot run here; where ``scripts/test`` made sure it can
    (``KAIROS_REQUIRE_POSTGRES=1``), a missing server is a failure, not a skip."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("KAIROS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but {reason}")
        pytest.skip(reason)
    cluster = PostgresCluster(settings={"fsync": "off", "full_page_writes": "off"})
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        stderr = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"could not start PostgreSQL: {exc} {stderr.decode(errors='replace')}")
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_dsn(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres_cluster.new_database()
