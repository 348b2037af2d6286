"""The retention purge with injectable time: applications leave the index and the rings after
two years, markers once expired (negative 5 years after the event ends); nothing younger goes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import redis
from lianfang.v1 import common_pb2

from clients.demo.consortium import start_local_consortium
from consortium.retention import purge
from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
from runtime.clock import ManualClock
from tests.support.consortium import check_request, rid, token

DAY = 86_400.0
YEAR = 365 * DAY


async def test_purge_enforces_retention(tmp_path: Path) -> None:
    clock = ManualClock()
    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b"], clock=clock)
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "shared-tablet")
    try:
        await a.check_request(check_request("old-1", rid(1), device))
        await b.check_request(check_request("old-2", rid(2), device))
        marker = await a.file_marker(rid(1), common_pb2.MARKER_TYPE_SUSPECT, "OLD_CASE")
        clock.advance(700 * DAY)
        young = await b.check_request(check_request("young", rid(3), device))
        assert young.ring.size == 3
        report = await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
        assert (report.applications, report.markers) == (0, 0)  # nothing is two years old yet
        clock.advance(40 * DAY)  # the first two are now past two years; the marker not past 5
        report = await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
        assert (report.applications, report.markers) == (2, 0)
        assert await c.hub.store.get_application("lender-a", "old-1") is None
        assert await c.hub.store.get_application("lender-b", "young") is not None
        again = await a.check_request(check_request("new", rid(4), device))
        assert again.ring.size == 2  # "young" and itself: the purged ones left the ring
        clock.advance(5 * YEAR)
        report = await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
        assert report.markers == 1 and await c.hub.store.get_marker(marker.marker_id) is None
    finally:
        await c.stop()


async def test_a_ring_stops_counting_an_expired_marker_once_it_is_purged(tmp_path: Path) -> None:
    clock = ManualClock()
    c = await start_local_consortium(tmp_path, ["lender-a", "lender-b"], clock=clock)
    a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
    device = token(common_pb2.TOKEN_TYPE_DEVICE_ID, "long-lived-tablet")
    try:
        await a.file_marker(device, common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")  # expires in 5 years
        clock.advance(5 * YEAR + DAY)
        await a.check_request(check_request("late-1", rid(51), device))
        expired = await b.check_request(check_request("late-2", rid(52), device))
        assert not expired.blacklist  # a Check's own answer follows the expiry to the second
        assert expired.ring.blacklisted == 2  # the rings: until the retention job ends it in the log
        report = await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
        assert report.markers == 1
        after = await a.check_request(check_request("late-3", rid(53), device))
        assert after.ring.size == 3 and after.ring.blacklisted == 0
    finally:
        await c.stop()


def test_hub_purge_command(tmp_path: Path) -> None:
    def purge_at(url: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "clients.cli.main", "hub", "purge", "--store", url]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    # A path that holds no database is refused (not a new empty consortium), naming where it looked:
    # sqlite:/// is relative to the working directory, sqlite://// absolute.
    missing = purge_at("sqlite:///var/lianfang/hub.db")
    assert missing.returncode == 2 and f"{tmp_path}/var/lianfang/hub.db" in missing.stderr
    assert "four slashes" in missing.stderr and not (tmp_path / "var").exists()
    asyncio.run(SqliteStore(SqliteStoreConfig(path=str(tmp_path / "hub.db"))).close())
    result = purge_at(f"sqlite:///{tmp_path / 'hub.db'}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"applications_purged": 0, "markers_purged": 0}


async def test_redis_records_expire_after_the_hub_s_retention(tmp_path: Path, redis_url: str) -> None:
    """On Redis each record's expiry is the hub's ``application_retention_days``: a consortium
    keeping three years keeps its records three years, not the store's two-year default."""
    c = await start_local_consortium(
        tmp_path, ["lender-a"], store_url=redis_url, hub_options={"application_retention_days": 1095}
    )
    try:
        await c.members["lender-a"].hub_client.check_request(check_request("kept", rid(1)))
        client = redis.Redis.from_url(redis_url)
        [key] = [k for k in client.scan_iter(match="*:app:kept")]
        assert 1094 * DAY < client.pttl(key) / 1000 <= 1095 * DAY
    finally:
        await c.stop()
