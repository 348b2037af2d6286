"""The re-keying walk over a Redis store (``RedisStore.token_keys_page``) costs one visit of the
keyspace, however many pages it takes: each application record is read about once per walk,
on standalone Redis and on every primary of a real Redis Cluster. (The conformance suite checks
what the walk returns; this checks what it costs: a walk that rescanned the store per page read
every record once per page.) Counted with Redis's own INFO commandstats."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import redis

from consortium.records import ApplicationRecord, token_key
from consortium.store.base import LOG_START
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.redis_scan import ScanPosition
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_process import RedisProcess

T0 = 1_767_225_600.0
RECORDS = 400
PAGE = 25  # a hint of tokens per page


def _records() -> list[ApplicationRecord]:
    def oprf(t: int, i: int) -> str:
        return token_key(2, t, 1, i.to_bytes(16, "big"))

    hmac = token_key(1, 4, 1, b"\x01" * 16)  # another scheme: read, never returned
    return [ApplicationRecord(f"m{i % 4}", f"r{i}", T0 + i, (oprf(1, i), oprf(4, i), hmac)) for i in range(RECORDS)]


def _record_reads(urls: list[str]) -> int:
    total = 0
    for url in urls:
        client = redis.Redis.from_url(url)
        total += int(client.info("commandstats").get("cmdstat_hget", {}).get("calls", 0))
        client.close()
    return total


def _reset_stats(urls: list[str]) -> None:
    for url in urls:
        client = redis.Redis.from_url(url)
        client.config_resetstat()
        client.close()


async def _walk_and_count(config: RedisStoreConfig, urls: list[str]) -> tuple[set[str], int, int]:
    store = RedisStore(config)
    try:
        apps = _records()
        for i in range(0, len(apps), 100):
            await store.record_logged(apps[i : i + 100], [], LOG_START)
        _reset_stats(urls)
        walked: set[str] = set()
        pages, cursor = 0, ""
        while True:
            page, cursor = await store.token_keys_page("2.", cursor, PAGE)
            walked.update(page)
            pages += 1
            if not cursor:
                return walked, pages, _record_reads(urls)
    finally:
        await store.close()


def test_a_walk_reads_each_record_once_on_standalone_redis(redis_url: str) -> None:
    walked, pages, reads = asyncio.run(_walk_and_count(RedisStoreConfig(url=redis_url), [redis_url]))
    assert walked == {t for app in _records() for t in app.token_keys if t.startswith("2.")}
    assert pages >= 8  # many pages (a page is a SCAN of about PAGE records: ~2 * PAGE tokens) …
    assert RECORDS <= reads <= 1.5 * RECORDS  # … one read of each record (SCAN may repeat a few)


def test_a_walk_reads_each_record_once_on_every_primary_of_a_cluster(redis_cluster: RedisCluster) -> None:
    urls = [node.url for node in redis_cluster.nodes]
    config = RedisStoreConfig(url=redis_cluster.url, cluster=True)
    walked, pages, reads = asyncio.run(_walk_and_count(config, urls))
    assert walked == {t for app in _records() for t in app.token_keys if t.startswith("2.")}
    assert pages >= 8
    assert RECORDS <= reads <= 1.5 * RECORDS
    assert all(n > 0 for n in redis_cluster.keys_per_node())  # the records were spread over the primaries


def test_a_walk_resumed_after_redis_restarted_still_returns_every_token(tmp_path: Path) -> None:
    """A restarted server hashes its keys with a new seed: the walk's SCAN cursor is started
    over on it (its run_id changed) instead of skipping keys."""
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()

    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=server.url))
        apps = _records()
        for i in range(0, len(apps), 100):
            await store.record_logged(apps[i : i + 100], [], LOG_START)
        first, cursor = await store.token_keys_page("2.", "", PAGE)
        assert cursor.startswith("a|")
        await store.close()
        server.stop()
        server.start()  # the records come back from the append-only file
        store = RedisStore(RedisStoreConfig(url=server.url))
        _reset_stats([server.url])
        walked = set(first)
        while cursor:
            page, cursor = await store.token_keys_page("2.", cursor, PAGE)
            walked.update(page)
        await store.close()
        assert walked == {t for app in apps for t in app.token_keys if t.startswith("2.")}
        assert _record_reads([server.url]) >= RECORDS  # the restarted server was scanned from its start

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_a_cluster_walk_starts_over_when_the_slots_moved_under_it(redis_cluster: RedisCluster) -> None:
    """A cursor taken under another slot assignment (a failover, a resharding: keys may have
    moved to a primary already walked) restarts the walk instead of resuming it."""
    urls = [node.url for node in redis_cluster.nodes]

    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True))
        try:
            apps = _records()
            for i in range(0, len(apps), 100):
                await store.record_logged(apps[i : i + 100], [], LOG_START)
            first, cursor = await store.token_keys_page("2.", "", PAGE)
            phase, _, rest = cursor.partition("|")
            taken = ScanPosition.decode(rest)
            assert phase == "a" and taken is not None and taken.topology
            moved = f"{phase}|{replace(taken, topology='0' * 16).encode()}"  # as if the slots moved since
            _reset_stats(urls)
            walked = set(first)
            while moved:
                page, moved = await store.token_keys_page("2.", moved, PAGE)
                walked.update(page)
            assert walked == {t for app in apps for t in app.token_keys if t.startswith("2.")}
            assert _record_reads(urls) >= RECORDS  # every record read again: the walk started over
        finally:
            await store.close()

    asyncio.run(main())


def test_a_scan_position_survives_its_text_form() -> None:
    position = ScanPosition("127.0.0.1:7001", 1234, "886407766d1cb951308747c30d0fc34f13ac5730", "0123456789abcdef")
    assert ScanPosition.decode(position.encode()) == position
    assert ScanPosition.decode("2.4.1.00ff") is None  # an earlier version's cursor: a token key
    assert ScanPosition.decode("x|run|topology|127.0.0.1:7001") is None
