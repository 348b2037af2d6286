"""Admin actions and their audit entries (``consortium.admin_log``), through a real hub on SQLite
and Redis: every member change is in the consortium log with the admin who made it, and on Redis,
where the change and its entry are two writes, an entry the log refused (here: the log's stream
made unwritable for one call, as a Redis failure between the two writes would leave it) is logged
later, with its original admin and time, by the hub's next start and by the retention pass; the
call itself succeeds, since the change stands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from lianfang.v1 import common_pb2

from clients.demo.consortium import LocalConsortium
from clients.errors import LianfangRpcError
from consortium.admin_log import UNLOGGED_GRACE_SECONDS, log_unlogged_admin_actions
from consortium.retention import purge
from consortium.rings import admin_event
from consortium.store import redis as redis_store
from consortium.store.base import LOG_START
from consortium.store.redis import RedisStore
from runtime.clock import ManualClock
from tests.support.consortium import check_request, hub_on_store, log_refusing_appends, rid

YEAR = 365 * 86_400.0


@pytest.fixture(params=["sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, ["lender-a", "lender-b"]) as pair:
        yield pair


async def admin_entries(c: LocalConsortium) -> list[list[Any]]:
    return [e for _, raw in await c.hub.store.log_events(LOG_START, 100_000) if (e := json.loads(raw))[0] == "x"]


async def test_every_member_change_is_logged_with_its_admin(hub) -> None:  # type: ignore[no-untyped-def]
    c, clock = hub
    await c.admin.change_member("suspend", "lender-b", "逾期未报送 late reporting")
    clock.advance(60)
    await c.admin.change_member("reinstate", "lender-b", "")
    entries = await admin_entries(c)
    actions = [(action, member) for _, _, action, member, _, _ in entries]
    assert actions[-2:] == [("suspend", "lender-b"), ("reinstate", "lender-b")]
    assert {("register", "lender-a"), ("approve", "lender-a"), ("register", "lender-b")} <= set(actions)
    suspend, reinstate = entries[-2:]
    assert suspend[1] == reinstate[1] == "admin/demo"  # the admin, from its JWT
    assert reinstate[4] - suspend[4] == 60 and suspend[5] == "逾期未报送 late reporting"
    assert await c.hub.store.unlogged_member_events() == []


@pytest.fixture(params=["redis"])
async def redis_hub(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[LocalConsortium, ManualClock]]:
    async with hub_on_store(request, tmp_path, ["lender-a", "lender-b"]) as pair:
        yield pair


async def test_an_admin_action_whose_log_entry_failed_is_logged_by_the_next_start_and_retention(
    redis_hub: tuple[LocalConsortium, ManualClock],
) -> None:
    c, clock = redis_hub
    with log_refusing_appends(c.hub.store):  # the change is stored: the call succeeds, its entry waits
        suspended = await c.admin.change_member("suspend", "lender-b", "stopped paying fees")
    at = clock()
    assert suspended.status == common_pb2.MEMBER_STATUS_SUSPENDED
    stored = await c.hub.store.get_member("lender-b")
    assert stored is not None and stored.status == common_pb2.MEMBER_STATUS_SUSPENDED
    with pytest.raises(LianfangRpcError) as err:  # and it took effect at once on this replica
        await c.members["lender-b"].hub_client.check_request(check_request("after-suspension", rid(1)))
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert ["suspend", "lender-b"] not in [e[2:4] for e in await admin_entries(c)]

    # Within the grace the entry may belong to a call still in flight elsewhere: left alone.
    assert await log_unlogged_admin_actions(c.hub.store, c.hub.rings, clock()) == 0
    clock.advance(UNLOGGED_GRACE_SECONDS + 1)
    await c.restart_hub()
    suspensions = [e for e in await admin_entries(c) if e[2:4] == ["suspend", "lender-b"]]
    assert suspensions == [["x", "admin/demo", "suspend", "lender-b", at, "stopped paying fees"]]
    await c.restart_hub()
    assert len([e for e in await admin_entries(c) if e[2:4] == ["suspend", "lender-b"]]) == 1  # once

    # A failed register followed at once by the approval (the admin's natural next step): the
    # approval's own entry does not replace the register's, and the retention pass logs it.
    with log_refusing_appends(c.hub.store):
        await c.admin.register_member("lender-c", "Lender C", "bank", b"\x01" * 32)
    await c.admin.change_member("approve", "lender-c", "")
    assert [e[2:4] for e in await admin_entries(c)][-1] == ["approve", "lender-c"]
    clock.advance(UNLOGGED_GRACE_SECONDS + 1)
    await purge(c.hub.store, c.hub.rings, c.hub.disputes, clock(), 2 * YEAR)
    assert [e[2:4] for e in await admin_entries(c)][-2:] == [["approve", "lender-c"], ["register", "lender-c"]]
    assert await c.hub.store.unlogged_member_events() == []


async def test_a_claim_in_progress_is_left_to_its_hub_until_it_goes_stale(
    redis_hub: tuple[LocalConsortium, ManualClock],
) -> None:
    """An entry another hub claimed a moment ago is being logged by it; one claimed longer than
    the grace ago belongs to a hub that stopped, and is taken over (and logged once)."""
    c, clock = redis_hub
    store = c.hub.store
    assert isinstance(store, RedisStore)
    old = clock() - 10 * UNLOGGED_GRACE_SECONDS  # the change is old; the claim on it is fresh
    claimed = json.dumps([old, [admin_event("admin/demo", "suspend", "lender-b", old, "fees")], clock()])
    await store._set_status(
        "lender-b",
        frozenset({common_pb2.MEMBER_STATUS_ACTIVE}),
        common_pb2.MEMBER_STATUS_SUSPENDED,
        "fees",
        old,
        [redis_store._pending_field(), claimed],
    )
    assert await log_unlogged_admin_actions(store, c.hub.rings, clock() + 1) == 0
    clock.advance(UNLOGGED_GRACE_SECONDS + 1)
    assert await log_unlogged_admin_actions(store, c.hub.rings, clock()) == 1
    assert [e[2:4] for e in await admin_entries(c)].count(["suspend", "lender-b"]) == 1
    assert await store.unlogged_member_events() == []
