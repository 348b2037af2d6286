"""The Redis store on a real 3-primary Redis Cluster, beyond the conformance suite (which runs on
it too): keys spread over the primaries with each token's keys in one slot, the cluster link's
routing and redirection, a hub serving Checks from the cluster, and a dead primary."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
import redis
from lianfang.v1 import common_pb2 as pb

from consortium.records import ApplicationRecord, Marker, token_key
from consortium.store.redis import RedisStore, RedisStoreConfig
from consortium.store.redis_cluster_link import ClusterLink, open_cluster_link, slot_of
from consortium.store.registry import store_from_url
from runtime.errors import Unavailable
from tests.support.redis_cluster import RedisCluster

T0 = 1_767_225_600.0
TOKENS = [token_key(1, 1 + i % 8, 1, i.to_bytes(16, "big")) for i in range(60)]


def test_keys_spread_over_every_primary_and_a_member_stays_in_one_slot(redis_cluster: RedisCluster) -> None:
    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True))
        assert isinstance(store._link, ClusterLink)  # the hot path takes the lean link
        try:
            cursor = (0, 0)
            for i in range(30):
                app = ApplicationRecord(f"m{i % 3}", f"r{i}", T0 + i, (TOKENS[i], TOKENS[i + 1], TOKENS[i + 2]))
                if i % 4 == 0:
                    await store.add_marker(_marker(f"mk{i}", f"m{i % 3}", TOKENS[i + 1]))
                _, entries = await store.record_logged([app], [f"e{i}"], cursor)
                cursor = entries[-1][0]
            [snap], entries = await store.record_logged(
                [ApplicationRecord("m9", "last", T0 + 99, (TOKENS[5], TOKENS[9]))], ["last"], (0, 0)
            )
            assert snap.newly_recorded and set(snap.markers) == {TOKENS[5], TOKENS[9]}
            assert [e for _, e in entries] == [f"e{i}" for i in range(30)] + ["last"]
        finally:
            await store.close()

    asyncio.run(main())
    per_node = redis_cluster.keys_per_node()
    assert all(n > 0 for n in per_node), per_node
    slots: dict[str, set[int]] = defaultdict(set)
    for node in redis_cluster.nodes:
        client = redis.Redis(port=node.port)
        try:
            for key in client.scan_iter(match="lf:{m:*"):
                tag = key.decode().split("}")[0]
                slots[tag].add(int(client.execute_command("CLUSTER", "KEYSLOT", key)))
        finally:
            client.close()
    assert len(slots) == 4 and all(len(s) == 1 for s in slots.values())  # m0, m1, m2, m9


def _marker(marker_id: str, filer: str, token: str) -> Marker:
    return Marker(marker_id, filer, token, pb.MARKER_TYPE_SUSPECT, "SUSPECT_DOCS", 0, T0, T0 - 1, None)


def test_a_stale_slot_map_is_corrected_by_moved_replies(redis_cluster: RedisCluster) -> None:
    async def main() -> None:
        link = open_cluster_link(redis_cluster.url, 2.0)
        assert link is not None
        try:
            keys = [f"{{t:{i}}}:k" for i in range(40)]
            await link.execute([("SET", k, k) for k in keys])
            first = link._owner
            assert first is not None and len(set(first)) == 3
            link._owner = [first[0]] * len(first)  # pretend every slot lives on one node
            replies = await link.execute([("GET", k) for k in keys])
            assert replies == [k.encode() for k in keys]
            assert link._owner == first  # refreshed from the MOVED replies
        finally:
            link.close()

    asyncio.run(main())


def test_routing_follows_the_first_key() -> None:
    assert slot_of(("EVALSHA", "x" * 40, 2, "{t:a}:apps", "{t:a}:seen", "arg")) == slot_of(("GET", "{t:a}:other"))
    assert slot_of(("XADD", "lf:{log}:events", "*", "e", "v")) == slot_of(("GET", "{log}"))


def test_the_hub_store_url_names_a_cluster(redis_cluster: RedisCluster) -> None:
    store = store_from_url(redis_cluster.hub_url)
    assert isinstance(store, RedisStore) and store.config.cluster
    asyncio.run(store.close())


def test_a_dead_primary_makes_its_slots_unavailable_until_it_returns(redis_cluster: RedisCluster) -> None:
    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True, socket_timeout=0.5))
        try:
            apps = [ApplicationRecord(f"m{i}", f"r{i}", T0, (TOKENS[i],)) for i in range(12)]
            for app in apps:
                await store.record_application(app)
            victim = redis_cluster.nodes[1]
            victim.kill()
            outcomes = []
            for app in apps:
                try:
                    await store.record_application(app)
                    outcomes.append("ok")
                except Unavailable:
                    outcomes.append("unavailable")
            assert "ok" in outcomes and "unavailable" in outcomes  # other primaries still answer
            with pytest.raises(Unavailable):  # the hub's health probe: NOT_SERVING while a slot is lost
                await store.ping()
            victim.start()
            redis_cluster.start()  # back to cluster_state:ok
            await store.ping()
            for app, outcome in zip(apps, outcomes, strict=True):  # the live primaries kept theirs
                if outcome == "ok":
                    assert await store.get_application(app.member_id, app.application_ref) is not None
        finally:
            await store.close()

    asyncio.run(main())


def test_a_whole_cluster_down_is_unavailable_and_the_hub_reports_not_serving(redis_cluster: RedisCluster) -> None:
    """Every node down at once (a whole-cluster restart): the Cluster client raises its own
    error, not a connection error. It reached callers as INTERNAL (so clients did not fail over
    to another hub replica), and it ended the health probe for good, the hub SERVING throughout."""
    from grpc_health.v1 import health, health_pb2

    from consortium.server import _probe_store

    async def status(servicer: health.aio.HealthServicer) -> int:
        reply = await servicer.Check(health_pb2.HealthCheckRequest(service=""), None)  # type: ignore[arg-type]
        return int(reply.status)

    async def becomes(servicer: health.aio.HealthServicer, wanted: int) -> None:
        async with asyncio.timeout(30):
            while await status(servicer) != wanted:
                await asyncio.sleep(0.05)

    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True, socket_timeout=0.5))
        servicer = health.aio.HealthServicer()
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        probe = asyncio.create_task(_probe_store(store, servicer, 0.1))
        try:
            await store.ping()
            for node in redis_cluster.nodes:
                node.kill()
            for _ in range(12):  # connection errors first; after a few, the client's own "unreachable"
                with pytest.raises(Unavailable):
                    await store.get_member("lender-a")  # what authentication asks first
                with pytest.raises(Unavailable):
                    await store.ping()
                await asyncio.sleep(0.1)
            await becomes(servicer, health_pb2.HealthCheckResponse.NOT_SERVING)
            for node in redis_cluster.nodes:
                node.start()
            redis_cluster.start()
            await becomes(servicer, health_pb2.HealthCheckResponse.SERVING)
            assert not probe.done()  # the probe outlived the outage
        finally:
            probe.cancel()
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("refusing", [1, 2])
def test_a_primary_refusing_writes_fails_the_health_probe(redis_cluster: RedisCluster, refusing: int) -> None:
    """A primary at maxmemory under noeviction still answers PING but refuses every record in its
    slots: the probe writes on every primary, whichever one is full, and passes once it has room."""

    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True, socket_timeout=0.5))
        admin = redis.Redis(port=redis_cluster.nodes[refusing].port)
        try:
            await store.ping()
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
            with pytest.raises(Unavailable):
                await store.ping()
            admin.config_set("maxmemory", 0)
            await store.ping()
        finally:
            admin.config_set("maxmemory", 0)
            admin.close()
            await store.close()

    asyncio.run(main())
    probed = [redis.Redis(port=node.port).keys("lf:{probe:*") for node in redis_cluster.nodes]
    assert all(len(keys) == 1 for keys in probed), probed  # one short-lived key a primary


@pytest.mark.parametrize("kind", [pb.TOKEN_TYPE_PHONE])
def test_cluster_keys_carry_hash_tags(redis_cluster: RedisCluster, kind: int) -> None:
    """Every key the store writes has a hash tag (else Cluster would scatter a token's keys)."""

    async def main() -> None:
        store = RedisStore(RedisStoreConfig(url=redis_cluster.url, cluster=True))
        try:
            token = token_key(1, kind, 1, b"\x07" * 16)
            await store.add_marker(_marker("mk", "m", token))
            await store.record_logged([ApplicationRecord("m", "r", T0, (token,))], ['["y"]'], (0, 0))
            await store.append_log_events(['["x"]'], (0, 0))
            await store.claim_token_id("jti-1", T0 + 60, T0)
        finally:
            await store.close()

    asyncio.run(main())
    for node in redis_cluster.nodes:
        client = redis.Redis(port=node.port)
        try:
            for key in client.scan_iter():
                assert b"{" in key and b"}" in key, key
        finally:
            client.close()


def test_a_slot_mid_migration_is_followed_with_asking(redis_cluster: RedisCluster) -> None:
    """A slot MIGRATING from its owner: a key the owner does not have is answered with ASK, and the
    link re-sends the command to the importing node behind ASKING; after the move, MOVED."""
    key = "{t:migrating}:apps"
    slot = int(redis.Redis(port=redis_cluster.nodes[0].port).execute_command("CLUSTER", "KEYSLOT", key))
    clients = [redis.Redis(port=n.port) for n in redis_cluster.nodes]
    try:
        ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
        owner = next(i for i, c in enumerate(clients) if _owns(c, slot))
        target = (owner + 1) % len(clients)
        clients[target].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner])
        clients[owner].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])

        async def main() -> list[object]:
            link = open_cluster_link(redis_cluster.url, 2.0)
            assert link is not None
            try:
                return await link.execute([("SET", key, "v"), ("GET", key)])
            finally:
                link.close()

        assert asyncio.run(main()) == [b"OK", b"v"]  # both went to the importing node
        for c in clients:  # finish the move: the target owns the slot now
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])

        async def after() -> list[object]:
            link = open_cluster_link(redis_cluster.url, 2.0)
            assert link is not None
            try:
                return await link.execute([("GET", key)])
            finally:
                link.close()

        assert asyncio.run(after()) == [b"v"]  # it was written on the importing node, not the old owner
    finally:
        for c in clients:
            c.close()


def _owns(client: redis.Redis, slot: int) -> bool:
    """Whether the node ``client`` talks to serves ``slot`` (CLUSTER SLOTS, as that node sees it)."""
    me = int(client.connection_pool.connection_kwargs["port"])
    ranges = client.execute_command("CLUSTER", "SLOTS")
    return any(int(start) <= slot <= int(end) and int(primary[1]) == me for start, end, primary, *_ in ranges)
