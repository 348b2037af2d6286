"""Checks in flight together share store round trips (``consortium.group_commit``) and are still
answered as if sent one by one, through the real hub over gRPC + TLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis
from lianfang.v1 import common_pb2

from clients.demo.consortium import start_local_consortium
from runtime.clock import ManualClock
from tests.support.consortium import by_type, check_request, phone

MEMBERS = ["lender-a", "lender-b", "lender-c"]
PER_MEMBER = 20


async def _xrange_calls(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_xrange", {}).get("calls", 0))
    finally:
        await client.aclose()


async def test_checks_waiting_on_a_busy_store_share_one_round_trip_and_count_as_if_one_by_one(
    tmp_path: Path, redis_url: str
) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS, store_url=redis_url, clock=ManualClock())
    admin = aioredis.Redis.from_url(redis_url)
    try:
        a, b = c.members["lender-a"].hub_client, c.members["lender-b"].hub_client
        await a.check_request(check_request("warm-up", phone(1)))
        before = await _xrange_calls(redis_url)
        await admin.execute_command("CLIENT", "PAUSE", "400", "ALL")  # the first Check's round trip stalls
        sends = [
            client.check_request(check_request(f"{name}-{i}", phone(42)))
            for i in range(PER_MEMBER)
            for client, name in ((a, "a"), (b, "b"))
        ]
        answers = await asyncio.gather(*sends)
        round_trips = await _xrange_calls(redis_url) - before  # a Check's round trip ends with one XRANGE
        assert all(answer.newly_recorded for answer in answers)
        # The stalled one, then the rest queued behind it in a group or two (and at most a log
        # read of the nodes' Watch streams): not 40 round trips.
        assert 1 <= round_trips <= 5
        # Each (a, b) pair of applications is counted exactly once: by whichever was logged later.
        # A group answered after all its applications were folded would count more.
        counted = sum(by_type(answer, common_pb2.TOKEN_TYPE_PHONE)["1H"][1] for answer in answers)
        assert counted == PER_MEMBER * PER_MEMBER
        last = await c.members["lender-c"].hub_client.check_request(check_request("c-1", phone(42)))
        assert by_type(last, common_pb2.TOKEN_TYPE_PHONE)["1H"] == (2, 2 * PER_MEMBER)
    finally:
        await admin.aclose()
        await c.stop()
