"""The log's marker state reconciled with the store (``consortium.marker_log``), through a real hub
on SQLite and Redis: a gap a crash left between a store write and its log entry (here made by
writing to the real store alone, as a crash after that write would leave it) is closed when the
hub starts again and by the retention pass, and the rings answer accordingly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from lianfang.v1 import common_pb2

from clients.demo.consortium import LocalConsortium
from consortium.marker_log import reconcile_marker_state
from consortium.records import Marker, token_key
from consortium.retention import purge
from consortium.store.base import LOG_START
from consortium.store.redis import RedisStore
from runtime.clock import ManualClock
from tests.support.consortium import check_request, hub_on_store, rid, token

YEAR = 365 * 86_400.0


@pytest.fixture(params=["sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, ["lender-a", "lender-b"]) as pair:
        yield pair


async def test_a_withdrawal_the_log_missed_is_published_when_the_hub_starts_again(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "crash-tablet")
    filed = await a.file_marker(device, common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")
    await a.check_request(check_request("crash-1", rid(61), device))
    assert (await b.check_request(check_request("crash-2", rid(62), device))).ring.blacklisted == 2
    await c.hub.store.withdraw_marker(filed.marker_id, clock(), "withdrawn; the hub crashed before logging it")
    gap = await a.check_request(check_request("crash-3", rid(63), device))
    assert not gap.blacklist and gap.ring.blacklisted == 3  # the store and the rings disagree

    await c.restart_hub()  # replays the log, then reconciles it with the store
    after = await b.check_request(check_request("crash-4", rid(64), device))
    assert after.ring.size == 4 and after.ring.blacklisted == 0
    assert await reconcile_marker_state(c.hub.store, c.hub.rings, c.hub.disputes, clock()) == 0  # agreed now


async def test_a_filing_the_log_never_heard_of_is_published_by_the_retention_pass(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "unlogged-tablet")
    await a.check_request(check_request("quiet-1", rid(71), device))
    assert (await b.check_request(check_request("quiet-2", rid(72), device))).ring.blacklisted == 0
    key = token_key(device.scheme, device.type, device.epoch, device.value)
    now = clock()
    unlogged = Marker("mk_unlogged", "lender-a", key, common_pb2.MARKER_TYPE_SUSPECT, "OLD_VERSION", 0, now, now, None)
    await c.hub.store.add_marker(unlogged)  # stored, never logged (a crash under an earlier version)

    await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
    after = await a.check_request(check_request("quiet-3", rid(73), device))
    assert after.blacklist and after.ring.size == 3 and after.ring.blacklisted == 3
    logged = [json.loads(e) for _, e in await c.hub.store.log_events(LOG_START, 10_000)]
    # as FileMarker logs it, watches see the filer; no application named: give-to-get counts nothing
    assert ["m", key, 1, "lender-a", now, ""] in logged


async def test_a_marker_missing_from_its_filer_index_alone_is_not_unflagged(hub) -> None:  # type: ignore[no-untyped-def]
    """The pass lists markers through the filer indexes, but decides on what a Check reads."""
    c, clock = hub
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "indexed-tablet")
    filed = await a.file_marker(device, common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")
    await a.check_request(check_request("index-1", rid(81), device))
    store = c.hub.store
    if isinstance(store, RedisStore):  # the filer index is its own key there: lose the entry
        client = redis.Redis.from_url(store.config.url)
        assert client.zrem(store._member_key("lender-a", "markers"), filed.marker_id) == 1
        client.close()
    else:  # one table: a marker cannot be missing from one index alone; the pass must agree
        assert [m.marker_id for m in await store.markers_by_filer("lender-a")] == [filed.marker_id]
    assert await reconcile_marker_state(store, c.hub.rings, c.hub.disputes, clock()) == 0
    still = await b.check_request(check_request("index-2", rid(82), device))
    assert still.blacklist and still.ring.blacklisted == 2
