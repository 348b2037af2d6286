"""Shared fixtures: a real redis-server for the whole session, flushed before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis_process import RedisNotInstalled, RedisProcess, redis_server_binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One redis-server on a free port (no persistence), shared by the session.

    A missing binary fails loudly rather than skipping: integration tests are not optional.
    """
    try:
        redis_server_binary()
    except RedisNotInstalled as exc:
        pytest.fail(f"{exc} (integration tests need a real Redis)", pytrace=False)
    server = RedisProcess(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    """The session server's URL, emptied first so every test starts from nothing."""
    if not redis_server.running:  # a test may have killed it
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
        client.script_flush()
    finally:
        client.close()
    return redis_server.url
