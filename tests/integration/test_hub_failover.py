"""Replicated hubs behind client-side round robin: two ``lianfang hub serve`` processes on one
store (standalone Redis and a 3-primary Cluster) share the calls, and killing one with SIGKILL
mid-workload loses no acknowledged Check and fails no call: the client resends idempotent calls
to the other replica, and the hub counts a resent Check once."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lianfang.v1 import common_pb2, node_pb2

from clients.channel import open_channel
from clients.credentials import JwtSigner, public_key_bytes
from clients.errors import LianfangRpcError
from clients.hub import HubClient
from clients.node import NodeClient, staff_signer
from clients.replicas import ReplicaChannel, _Rotation
from consortium.store.registry import store_from_url
from node.config import NodeConfig
from node.identity.tokens import new_consortium_key
from node.server import start_node
from tests.support.consortium import by_type, check_request, phone, rid
from tests.support.hub_process import HubFixture, HubProcess
from tests.support.redis_cluster import RedisCluster

PROBE = phone(88_888_888)
CHECK = "/lianfang.v1.ConsortiumService/Check"


def test_rotation_skips_a_failed_replica_until_its_cool_down_ends() -> None:
    now = [0.0]
    rotation = _Rotation(3, cool_down=2.0, clock=lambda: now[0])
    assert [rotation.pick() for _ in range(6)] == [0, 1, 2, 0, 1, 2]
    rotation.failed(1)
    assert [rotation.pick() for _ in range(4)] == [0, 2, 0, 2]
    now[0] = 2.5
    assert sorted({rotation.pick() for _ in range(6)}) == [0, 1, 2]
    for i in range(3):
        rotation.failed(i)
    assert rotation.pick() in {0, 1, 2}  # all cooling down: still try one


def _replica_client(fixture: HubFixture, hubs: list[HubProcess], signer: JwtSigner) -> HubClient:
    channel = open_channel(",".join(h.address for h in hubs), ca_file=fixture.ca.ca_file)
    assert isinstance(channel, ReplicaChannel) and channel.replicas == len(hubs)
    return HubClient(channel, signer, default_timeout=5.0)


def _checks_served(hub: HubProcess) -> int:
    lines = [json.loads(line) for line in hub.log_path.read_text().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("method") == CHECK and line.get("code") == "OK")


@pytest.fixture(params=["standalone", "cluster"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "standalone":
        return str(request.getfixturevalue("redis_url"))
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return cluster.hub_url


async def test_a_killed_replica_loses_no_check_and_fails_no_call(tmp_path: Path, store_url: str) -> None:
    fixture = HubFixture(tmp_path)
    hubs = [HubProcess(fixture, store_url).start(), HubProcess(fixture, store_url).start()]
    try:
        signers = [await fixture.enrol(hubs[0].port, f"lender-{i}") for i in range(2)]
        auditor = await fixture.enrol(hubs[1].port, "auditor")
        await asyncio.sleep(0.3)  # both hubs' member caches (0.1 s) see the approvals
        clients = [_replica_client(fixture, hubs, s) for s in signers]
        acked: list[str] = []
        errors: list[str] = []
        counter = itertools.count()
        stop = asyncio.Event()

        async def sender(i: int) -> None:
            client = clients[i % 2]
            while not stop.is_set():
                n = next(counter)
                ref = f"app-{n}"
                try:
                    await client.check_request(check_request(ref, rid(n), PROBE))
                    acked.append(f"lender-{i % 2}/{ref}")
                except LianfangRpcError as exc:
                    errors.append(exc.code.name)

        senders = [asyncio.create_task(sender(i)) for i in range(4)]
        try:
            async with asyncio.timeout(60):
                while len(acked) < 60:
                    await asyncio.sleep(0.02)
                served_before = [_checks_served(h) for h in hubs]
                hubs[0].kill()  # SIGKILL, Checks in flight on it
                killed_at = len(acked)
                while len(acked) < killed_at + 80:
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await asyncio.gather(*senders)
            for c in clients:
                await c.close()
        assert errors == []  # every call that met the dead replica went on to the live one
        assert all(n > 10 for n in served_before), served_before  # round robin used both

        store = store_from_url(store_url)
        try:
            missing = [a for a in acked if await store.get_application(*a.split("/")) is None]
        finally:
            await store.close()
        assert not missing
        survivor = fixture.member(hubs[1].port, auditor)
        try:
            answer = await survivor.check_request(check_request("audit", PROBE))
        finally:
            await survivor.close()
        assert by_type(answer, common_pb2.TOKEN_TYPE_PHONE)["90D"][1] == len(acked)  # resent once, counted once
    finally:
        for hub in hubs:
            hub.stop()


async def test_a_node_with_two_hub_addresses_keeps_screening_when_one_dies(tmp_path: Path, redis_url: str) -> None:
    fixture = HubFixture(tmp_path)
    hubs = [HubProcess(fixture, redis_url).start(), HubProcess(fixture, redis_url).start()]
    node = None
    try:
        await fixture.enrol(hubs[0].port, "lender-a")
        await asyncio.sleep(0.3)
        key_file = tmp_path / "consortium.hex"
        key_file.write_text(new_consortium_key().hex())
        identity = Ed25519PrivateKey.generate()
        cert = fixture.ca.issue("node")
        node = await start_node(
            NodeConfig(
                member_id="lender-a",
                member_key_file=str(tmp_path / "lender-a.pem"),
                consortium_key_file=str(key_file),
                api_identity_key=base64.b64encode(public_key_bytes(identity)).decode(),
                listen="127.0.0.1:0",
                hub_address=",".join(h.address for h in hubs),
                hub_ca_file=fixture.ca.ca_file,
                tls_cert=cert.cert_file,
                tls_key=cert.key_file,
                database=str(tmp_path / "node.db"),
                watch_alerts=False,
            )
        )
        client = NodeClient(
            open_channel(f"localhost:{node.port}", ca_file=fixture.ca.ca_file),
            staff_signer(identity, "risk-1", "risk_manager"),
        )

        async def screen(n: int) -> node_pb2.ScreenResponse:
            request = node_pb2.ScreenRequest(
                application_ref=f"s-{n}",
                consent_ref=f"auth-{n}",
                applicant_kind=common_pb2.APPLICANT_KIND_PERSON,
                product_category="consumer_instalment",
                identifiers=node_pb2.Identifiers(resident_id="11010519491231002X", phones=["13800138000"]),
            )
            return await client.screen(request)

        try:
            for n in range(6):
                await screen(n)
            hubs[0].kill()
            answers = [await screen(n) for n in range(6, 12)]
        finally:
            await client.close()
        assert all(a.consortium.newly_recorded for a in answers)  # answered by the survivor
        store = store_from_url(redis_url)
        try:
            for n in range(12):
                assert await store.get_application("lender-a", f"s-{n}") is not None
        finally:
            await store.close()
    finally:
        if node is not None:
            await node.stop(0)
        for hub in hubs:
            hub.stop()


async def test_a_watch_over_replicas_can_be_left_and_resumes_on_the_other(tmp_path: Path, redis_url: str) -> None:
    fixture = HubFixture(tmp_path)
    hubs = [HubProcess(fixture, redis_url).start(), HubProcess(fixture, redis_url).start()]
    try:
        signer = await fixture.enrol(hubs[0].port, "lender-a")
        await asyncio.sleep(0.3)
        client = _replica_client(fixture, hubs, signer)
        try:
            for _ in range(2):  # round robin: one stream on each replica, each left cleanly
                async for response in client.watch():
                    assert response.caught_up
                    break
            hubs[0].kill()
            outcomes = []
            for _ in range(4):  # a stream that meets the dead replica fails; the next ones pass it over
                try:
                    async for response in client.watch():
                        assert response.caught_up
                        break
                    outcomes.append("ok")
                except LianfangRpcError as exc:
                    outcomes.append(exc.code.name)
            assert outcomes.count("UNAVAILABLE") <= 1 and outcomes[-3:] == ["ok"] * 3, outcomes
        finally:
            await client.close()
    finally:
        for hub in hubs:
            hub.stop()


async def test_the_nodes_hub_gauge_is_up_while_any_replica_serves(tmp_path: Path, redis_url: str) -> None:
    from prometheus_client import CollectorRegistry

    from node.metrics import HUB_SERVICE, NodeMetrics

    fixture = HubFixture(tmp_path)
    hubs = [HubProcess(fixture, redis_url).start(), HubProcess(fixture, redis_url).start()]
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry)
    channel = open_channel(",".join(h.address for h in hubs), ca_file=fixture.ca.ca_file)

    def up() -> float | None:
        return registry.get_sample_value("lianfang_node_dependency_up", {"dependency": "hub"})

    async def until(value: float) -> None:
        async with asyncio.timeout(20):
            while up() != value:
                await asyncio.sleep(0.05)

    probe = asyncio.create_task(metrics.probe("hub", channel, HUB_SERVICE, interval=0.1))
    try:
        await until(1.0)
        hubs[0].kill()
        for _ in range(10):  # a dead replica does not flap the gauge while the other serves
            await asyncio.sleep(0.1)
            assert up() == 1.0
        hubs[1].kill()
        await until(0.0)
    finally:
        probe.cancel()
        await channel.close()
        for hub in hubs:
            hub.stop()
