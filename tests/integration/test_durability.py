"""Nothing acknowledged is lost: kill -9 of redis-server (``appendonly yes``, ``appendfsync
always``; standalone and one primary of a Cluster) or of the hub process on SQLite, in the middle
of a concurrent Check workload, then a restart: every Check that was answered OK is in the store,
counted in stacking, and folded into the restarted hub's consortium log."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from lianfang.v1 import common_pb2

from clients.credentials import JwtSigner
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from consortium.store.registry import store_from_url
from tests.support.consortium import by_type, check_request, phone, rid
from tests.support.hub_process import HubFixture, HubProcess
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_process import RedisProcess

PROBE = phone(99_999_999)  # every application carries it: its count is the number stored
SENDERS = 4


async def _workload(
    clients: list[HubClient], acked: list[str], stop: asyncio.Event, failures: list[str], prefix: str
) -> None:
    """Checks from several members at once until ``stop``; OK answers go to ``acked``."""
    counter = itertools.count()

    async def sender(client: HubClient, member_index: int) -> None:
        while not stop.is_set():
            n = next(counter)
            ref = f"{prefix}-{n}"
            try:
                await client.check_request(check_request(ref, rid(n), PROBE), timeout=3)
                acked.append(f"lender-{member_index}/{ref}")
            except LianfangRpcError as exc:
                failures.append(exc.code.name)
                await asyncio.sleep(0.02)

    await asyncio.gather(*(sender(c, i % len(clients)) for i, c in enumerate(clients * (SENDERS // len(clients)))))


async def _run_and_crash(
    fixture: HubFixture, port: int, signers: list[JwtSigner], crash: Callable[[], None], recover: Callable[[], None]
) -> tuple[list[str], list[str]]:
    clients = [fixture.member(port, s) for s in signers]
    acked: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(_workload(clients, acked, stop, failures, "app"))

    async def until(condition: Callable[[], bool], what: str) -> None:
        async with asyncio.timeout(60):
            while not condition():
                await asyncio.sleep(0.02)
        assert condition(), what

    try:
        await until(lambda: len(acked) >= 60, "the workload did not start")
        crash()
        before = len(failures)
        await until(lambda: len(failures) >= before + 8, "the crash went unnoticed")
        recover()
        after = len(acked)
        # and the workload goes on after the restart (members, keys: nothing was lost)
        await until(lambda: len(acked) >= after + 30, f"no Check succeeded after the restart: {failures[-3:]}")
    finally:
        stop.set()
        await task
        for c in clients:
            await c.close()
    return acked, failures


async def _everything_acknowledged_is_there(
    fixture: HubFixture, port: int, store_url: str, acked: list[str], signer: JwtSigner
) -> None:
    store = store_from_url(store_url)
    try:
        missing = [a for a in acked if await store.get_application(*a.split("/")) is None]
        assert not missing, f"{len(missing)} acknowledged Checks lost: {missing[:5]}"
    finally:
        await store.close()
    auditor = fixture.member(port, signer)
    try:
        answer = await auditor.check_request(check_request("audit-1", PROBE))
        counted = by_type(answer, common_pb2.TOKEN_TYPE_PHONE)["90D"][1]
        assert counted >= len(acked)  # acknowledged ones, plus any written before a lost reply
    finally:
        await auditor.close()


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
async def test_acknowledged_checks_survive_kill_9_of_redis(tmp_path: Path, topology: str) -> None:
    fixture = HubFixture(tmp_path)
    if topology == "standalone":
        server = RedisProcess(tmp_path / "redis", appendonly=True, appendfsync="always").start()
        victim, store_url, stop_all = server, server.url, server.stop
    else:
        cluster = RedisCluster(tmp_path / "cluster", appendonly=True).start()
        victim, store_url, stop_all = cluster.nodes[1], cluster.hub_url, cluster.stop
    hub = HubProcess(fixture, store_url).start()
    try:
        signers = [await fixture.enrol(hub.port, f"lender-{i}") for i in range(2)]
        auditor = await fixture.enrol(hub.port, "auditor")
        await asyncio.sleep(0.2)

        def recover() -> None:
            victim.start()
            if topology == "cluster":
                cluster.start()  # waits for cluster_state:ok

        acked, failures = await _run_and_crash(fixture, hub.port, signers, victim.kill, recover)
        assert set(failures) <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}, failures
        await _everything_acknowledged_is_there(fixture, hub.port, store_url, acked, auditor)
        hub.stop()
        hub.start()  # a restarted hub replays the log with every acknowledged application in it
        await _everything_acknowledged_is_there(fixture, hub.port, store_url, acked, auditor)
    finally:
        hub.stop()
        stop_all()


async def test_acknowledged_checks_survive_kill_9_of_the_hub_on_sqlite(tmp_path: Path) -> None:
    fixture = HubFixture(tmp_path)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = HubProcess(fixture, store_url).start()
    try:
        signers = [await fixture.enrol(hub.port, f"lender-{i}") for i in range(2)]
        auditor = await fixture.enrol(hub.port, "auditor")
        await asyncio.sleep(0.2)
        acked, failures = await _run_and_crash(fixture, hub.port, signers, hub.kill, hub.start)
        assert set(failures) <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}, failures
        await _everything_acknowledged_is_there(fixture, hub.port, store_url, acked, auditor)
    finally:
        hub.stop()
