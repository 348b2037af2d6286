"""Shared fixtures: a real redis-server for the whole session, flushed before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis_cluster import RedisCluster
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


@pytest.fixture(scope="session")
def redis_cluster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A real 3-primary Redis Cluster (``redis-cli --cluster create``), shared by the session."""
    try:
        redis_server_binary()
    except RedisNotInstalled as exc:
        pytest.fail(f"{exc} (integration tests need a real Redis)", pytrace=False)
    cluster = RedisCluster(Path(tmp_path_factory.mktemp("redis-cluster")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster(redis_cluster_server: RedisCluster) -> RedisCluster:
    """The session cluster, emptied first (every primary restarted if a test stopped one)."""
    for node in redis_cluster_server.nodes:
        if not node.running:
            node.start()
    redis_cluster_server.start()  # waits for cluster_state:ok again
    redis_cluster_server.flush()
    return redis_cluster_server
