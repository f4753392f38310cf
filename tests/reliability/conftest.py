"""Fixtures of the reliability tests: Redis (a namespace per test, deleted after) and PostgreSQL databases.

Redis tests skip with the reason when 127.0.0.1:6379 does not answer, and fail instead when
CIRQLIZ_REQUIRE_REDIS=1 (CI). CIRQLIZ_TEST_REDIS overrides the URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .harness import new_namespace

REDIS_URL = os.environ.get("CIRQLIZ_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class RedisSpace:
    """A Redis URL and the key namespace reserved for one test."""

    url: str
    namespace: str


@pytest.fixture
def redis_space() -> Iterator[RedisSpace]:
    """A fresh namespace in the test Redis; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:  # any failure means "not reachable"
        reason = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CIRQLIZ_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    space = RedisSpace(REDIS_URL, new_namespace("cirqliz-test"))
    try:
        yield space
    finally:
        keys = list(client.scan_iter(match=f"{space.namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def pg_database_url(postgres_server: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (no tables), dropped afterwards."""
    from pg_databases import create_pg_database as _create_pg_database
    from pg_databases import drop_pg_database as _drop_pg_database
    from pg_databases import pg_url as _pg_url

    name = _create_pg_database()
    try:
        yield _pg_url(name)
    finally:
        _drop_pg_database(name)
