"""Rings through the real hub (gRPC + TLS, both stores): Check's ring answer, the analyst service,
scopes and limits, restarts that replay the consortium log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import networkx as nx
import pytest
from lianfang.v1 import common_pb2, consortium_pb2

from clients.analyst import AnalystClient
from clients.credentials import JwtSigner, generate_key_file, load_private_key
from clients.demo.consortium import LocalConsortium, start_local_consortium
from clients.errors import LianfangRpcError
from consortium.rings import ring_public_id
from graph.export import from_graphml, from_json
from runtime.clock import ManualClock
from tests.support.consortium import check_request, phone, rid, token

MEMBERS = ["lender-a", "lender-b", "lender-c"]
DEVICE, IP, ADDRESS = common_pb2.TOKEN_TYPE_DEVICE_ID, common_pb2.TOKEN_TYPE_IP, common_pb2.TOKEN_TYPE_ADDRESS


def device(n: int) -> common_pb2.Token:
    return token(DEVICE, f"device-{n}")


def ip(n: int) -> common_pb2.Token:
    return token(IP, f"10.1.{n // 250}.{n % 250}")


def key(t: common_pb2.Token) -> str:
    return f"{t.scheme}.{t.type}.{t.epoch}.{t.value.hex()}"


@pytest.fixture(params=["sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LocalConsortium]:
    store_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    consortium = await start_local_consortium(tmp_path, MEMBERS, store_url=store_url, clock=ManualClock())
    try:
        yield consortium
    finally:
        await consortium.stop()


def hub_of(c: LocalConsortium, member: str):  # type: ignore[no-untyped-def]
    return c.members[member].hub_client


async def plant_device_ring(c: LocalConsortium) -> list[consortium_pb2.CheckResponse]:
    """Four different people, one device, three lenders; then a fifth sharing only a phone."""
    answers = []
    for n, member in enumerate(["lender-a", "lender-b", "lender-c", "lender-a"]):
        answers.append(await hub_of(c, member).check_request(check_request(f"ring-{n}", rid(n), phone(n), device(1))))
    answers.append(await hub_of(c, "lender-b").check_request(check_request("ring-4", rid(4), phone(3))))
    return answers


async def test_check_answers_the_ring_of_the_application(hub: LocalConsortium) -> None:
    c = hub
    alone = await hub_of(c, "lender-a").check_request(check_request("solo", rid(99), phone(99), device(99)))
    assert not alone.HasField("ring")
    assert not [r for r in alone.reasons if r.code.startswith("RING_")]

    answers = await plant_device_ring(c)
    assert not answers[0].HasField("ring")  # alone when it arrived
    sizes = [a.ring.size for a in answers]
    assert sizes == [0, 2, 3, 4, 5]
    last = answers[-1].ring
    assert (last.lenders, last.persons, last.max_persons_per_device_or_phone) == (3, 5, 4)
    assert {(s.token_type, s.tokens) for s in last.shared_token_types} == {
        (DEVICE, 1),
        (common_pb2.TOKEN_TYPE_PHONE, 1),
    }
    assert 0.0 < last.score < 1.0
    assert abs(sum(f.contribution for f in last.factors) - last.score) < 1e-9
    assert last.factors[0].contribution == max(f.contribution for f in last.factors)
    # Every answer of the same ring carries the same public id, which names no application.
    assert answers[-1].ring.ring_id == answers[-2].ring.ring_id != ""
    assert "ring-" in last.ring_id and "lender" not in last.ring_id and "\x1f" not in last.ring_id
    codes = {r.code for r in answers[-1].reasons}
    assert {"RING_LINKED", "RING_SHARED_DEVICE"} <= codes
    linked = next(r for r in answers[-1].reasons if r.code == "RING_LINKED")
    assert linked.token_type == DEVICE and "4 other application(s) at 3 lender(s)" in linked.detail

    # A retried Check is not a new ring member.
    retry = await hub_of(c, "lender-b").check_request(check_request("ring-4", rid(4), phone(3)))
    assert not retry.newly_recorded and retry.ring.size == 5


async def test_outcomes_and_markers_feed_the_ring_score(hub: LocalConsortium) -> None:
    c = hub
    before = (await plant_device_ring(c))[-1].ring
    await hub_of(c, "lender-a").report_outcome("ring-0", common_pb2.OUTCOME_FRAUD_CONFIRMED)
    await hub_of(c, "lender-b").report_outcome("ring-1", common_pb2.OUTCOME_DEFAULTED)
    marker = await hub_of(c, "lender-c").file_marker(device(1), common_pb2.MARKER_TYPE_SUSPECT, "SHARED_DEVICE_FRAUD")
    ring = (await c.analyst.get_ring(application="lender-a/ring-0")).ring
    assert (ring.fraud_confirmed, ring.defaulted, ring.blacklisted) == (1, 1, 4)
    assert ring.score > before.score
    joined = await hub_of(c, "lender-c").check_request(check_request("late", rid(50), device(1)))
    assert joined.ring.blacklisted == 5  # it carries the marked device too
    assert {"RING_CONFIRMED_FRAUD", "RING_BLACKLISTED_MEMBER", "RING_HIGH_RISK"} <= {r.code for r in joined.reasons}
    await hub_of(c, "lender-c").withdraw_marker(marker.marker_id, "filed in error")
    after = (await c.analyst.get_ring(application="lender-a/ring-0")).ring
    assert after.blacklisted == 0 and after.fraud_confirmed == 1  # markers can be withdrawn; outcomes stay


async def test_degree_cap_stops_a_public_ip_from_making_a_ring(hub: LocalConsortium) -> None:
    c = hub
    shared = ip(1)
    answers = [
        await hub_of(c, MEMBERS[n % 3]).check_request(check_request(f"cafe-{n}", rid(200 + n), shared))
        for n in range(22)  # the IP cap is 20 applications
    ]
    assert answers[19].ring.size == 20
    assert not answers[20].HasField("ring") and not answers[21].HasField("ring")
    listed = await c.analyst.list_rings()
    assert listed.matched == 0


@pytest.mark.parametrize("windows", [{}, {"ip": "0"}], ids=["ip-per-day", "ip-forever"])
async def test_an_ip_links_the_applications_of_one_day_unless_the_hub_is_set_otherwise(
    tmp_path: Path, windows: dict[str, str]
) -> None:
    clock = ManualClock()  # 2026-01-01T00:00Z
    c = await start_local_consortium(
        tmp_path, MEMBERS, clock=clock, hub_options={"ring_link_windows_hours": windows} if windows else None
    )
    try:
        a, b = hub_of(c, "lender-a"), hub_of(c, "lender-b")
        clock.advance(3600)
        await a.check_request(check_request("morning", rid(1), ip(7)))
        evening = await b.check_request(check_request("evening", rid(2), ip(7)))
        assert evening.ring.size == 2  # the same IP the same day: linked either way
        clock.advance(3 * 86_400)
        later = await b.check_request(check_request("later", rid(3), ip(7)))
        assert later.ring.size == (0 if not windows else 3)  # days on: a stranger, unless IPs link forever
        graph = (await c.analyst.get_ring(application="lender-a/morning")).graph
        ip_nodes = {n.id for n in graph.nodes if n.is_token}
        day = 1_767_211_200  # the IP's day from 2025-12-31T20:00Z (04:00 in China)
        assert ip_nodes == ({f"{key(ip(7))}@{day}"} if not windows else {key(ip(7))})  # the day's token
        if not windows:  # an analyst naming the IP itself is told its days
            with pytest.raises(LianfangRpcError) as caught:
                await c.analyst.neighbourhood(key(ip(7)))
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
            assert f"{key(ip(7))}@{day}, {key(ip(7))}@{day + 3 * 86_400}" in caught.value.message
    finally:
        await c.stop()


async def test_a_hub_started_with_other_link_settings_says_so_and_refolds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    c = await start_local_consortium(tmp_path, MEMBERS, clock=clock)
    try:
        await hub_of(c, "lender-a").check_request(check_request("monday", rid(1), ip(7)))
        clock.advance(3 * 86_400)
        later = await hub_of(c, "lender-b").check_request(check_request("thursday", rid(2), ip(7)))
        assert not later.HasField("ring")  # days apart: strangers
        await c.hub.stop(0.2)
    finally:
        await c.stop()
    assert "other ring-link settings" not in caplog.text
    forever = {"ring_link_windows_hours": {"ip": "0"}}
    again = await start_local_consortium(
        tmp_path, [], store_url=f"sqlite:///{tmp_path / 'hub.db'}", clock=clock, hub_options=forever
    )
    try:
        assert "the consortium log holds applications logged under other ring-link settings" in caplog.text
        ring = (await again.analyst.get_ring(application="lender-b/thursday")).ring
        assert ring.size == 2  # refolded under this hub's settings: the IP links across days
    finally:
        await again.stop()


async def test_hub_restart_replays_the_consortium_log(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, MEMBERS, clock=ManualClock())
    try:
        answers = await plant_device_ring(c)
        expected = answers[-1].ring
        await c.hub.stop(0.2)
    finally:
        await c.stop()
    # the same folder: the same hub keys (audit key, hence ring-id key), as a restarted hub has
    again = await start_local_consortium(tmp_path, [], store_url=f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        ring = (await again.analyst.get_ring(application="lender-b/ring-4")).ring
        assert ring == expected
    finally:
        await again.stop()


async def test_analyst_ring_queries(hub: LocalConsortium) -> None:
    c = hub
    answers = await plant_device_ring(c)
    for n in range(3):  # a second, smaller ring at one lender: two people on one phone
        await hub_of(c, "lender-c").check_request(check_request(f"pair-{n}", rid(300 + n), phone(300)))
    ring_id = answers[-1].ring.ring_id

    by_id = await c.analyst.get_ring(ring_id=ring_id)
    by_app = await c.analyst.get_ring(application="lender-c/ring-2")
    assert by_id == by_app
    apps = sorted(n.id for n in by_id.graph.nodes if not n.is_token)
    assert apps == sorted(
        ["lender-a/ring-0", "lender-b/ring-1", "lender-c/ring-2", "lender-a/ring-3", "lender-b/ring-4"]
    )
    tokens = [n for n in by_id.graph.nodes if n.is_token]
    assert {n.id for n in tokens} == {key(device(1)), key(phone(3))}
    assert len(by_id.graph.edges) == 6  # four apps on the device, two on the phone
    assert all(n.ring_id == ring_id for n in by_id.graph.nodes if not n.is_token)
    assert by_id.central_tokens[0].token == key(device(1))
    # Three people only on the device; the fourth also shares a phone with the fifth.
    assert [list(g.applications) for g in by_id.communities] == [
        ["lender-a/ring-0", "lender-b/ring-1", "lender-c/ring-2"],
        ["lender-a/ring-3", "lender-b/ring-4"],
    ]

    listed = await c.analyst.list_rings()
    assert listed.matched == 2 and [r.size for r in listed.rings] == [5, 3]
    assert listed.rings[0].score >= listed.rings[1].score
    assert (await c.analyst.list_rings(min_lenders=2)).matched == 1
    assert (await c.analyst.list_rings(min_size=4)).matched == 1
    assert (await c.analyst.list_rings(limit=1)).matched == 2
    assert len((await c.analyst.list_rings(limit=1)).rings) == 1
    assert (await c.analyst.list_rings(min_score=0.999)).matched == 0

    path = await c.analyst.find_path("lender-a/ring-0", "lender-b/ring-4")
    assert path.path == ["lender-a/ring-0", key(device(1)), "lender-a/ring-3", key(phone(3)), "lender-b/ring-4"]
    none = await c.analyst.find_path("lender-a/ring-0", "lender-c/pair-0")
    assert list(none.path) == [] and not none.truncated

    hood = await c.analyst.neighbourhood(key(device(1)), hops=1)
    assert {n.id for n in hood.nodes if not n.is_token} == {
        "lender-a/ring-0",
        "lender-b/ring-1",
        "lender-c/ring-2",
        "lender-a/ring-3",
    }
    small = await c.analyst.neighbourhood("lender-a/ring-0", hops=6, max_nodes=3)
    assert len(small.nodes) <= 3 and small.truncated
    edges = await c.analyst.neighbourhood("lender-a/ring-0", hops=6, max_edges=2)
    assert len(edges.edges) <= 2 and edges.truncated


async def test_export_round_trips_through_networkx(hub: LocalConsortium) -> None:
    c = hub
    ring_id = (await plant_device_ring(c))[-1].ring.ring_id
    as_json = await c.analyst.export(ring_id=ring_id)
    as_graphml = await c.analyst.export(ring_id=ring_id, export_format="graphml")
    assert as_json.media_type == "application/json" and as_graphml.media_type == "application/graphml+xml"
    g1, g2 = from_json(as_json.content), from_graphml(as_graphml.content)
    assert set(g1.nodes) == set(g2.nodes) and {frozenset(e) for e in g1.edges} == {frozenset(e) for e in g2.edges}
    assert nx.is_connected(g1) and g1.number_of_nodes() == 7
    assert g1.graph["ring_id"] == ring_id
    assert dict(g1.nodes(data=True)) == dict(g2.nodes(data=True))
    hood = from_json((await c.analyst.export(entity="lender-b/ring-4", hops=2)).content)
    assert set(hood.nodes) == {"lender-b/ring-4", key(rid(4)), key(phone(3)), "lender-a/ring-3"}
    assert hood.graph["center"] == "lender-b/ring-4"
    # Internal ids never leave the hub.
    for text in (as_json.content, as_graphml.content):
        assert "\x1f" not in text and "%1F" not in text


async def test_analyst_errors(hub: LocalConsortium) -> None:
    c = hub
    await plant_device_ring(c)
    cases = [
        (c.analyst.get_ring(), grpc.StatusCode.INVALID_ARGUMENT, "subject"),
        (c.analyst.get_ring(application="no-slash"), grpc.StatusCode.INVALID_ARGUMENT, "application"),
        (c.analyst.get_ring(application="lender-a/missing"), grpc.StatusCode.NOT_FOUND, None),
        (c.analyst.get_ring(ring_id="ring-0000"), grpc.StatusCode.NOT_FOUND, None),
        (c.analyst.get_ring(ring_id="x", max_nodes=10**6), grpc.StatusCode.INVALID_ARGUMENT, "limits.max_nodes"),
        (c.analyst.neighbourhood("lender-a/ring-0", hops=7), grpc.StatusCode.INVALID_ARGUMENT, "hops"),
        (c.analyst.neighbourhood("1.3.1.ffff"), grpc.StatusCode.NOT_FOUND, None),
        (c.analyst.neighbourhood(""), grpc.StatusCode.INVALID_ARGUMENT, "entity"),
        (c.analyst.find_path("lender-a/ring-0", "nonsense"), grpc.StatusCode.INVALID_ARGUMENT, "target"),
        (c.analyst.find_path("lender-a/ring-0", "x/y", max_hops=99), grpc.StatusCode.INVALID_ARGUMENT, "max_hops"),
        (c.analyst.list_rings(min_score=2.0), grpc.StatusCode.INVALID_ARGUMENT, "min_score"),
        (c.analyst.list_rings(limit=501), grpc.StatusCode.INVALID_ARGUMENT, "limit"),
    ]
    for call, code, field in cases:
        with pytest.raises(LianfangRpcError) as caught:
            await call
        assert caught.value.code == code, (field, caught.value)
        if field is not None:
            assert field in [v.field for v in caught.value.violations]


async def test_analyst_scope_is_enforced(hub: LocalConsortium, tmp_path: Path) -> None:
    c = hub
    await plant_device_ring(c)
    member = c.members["lender-a"]
    as_member = AnalystClient(c.hub_channel("lender-a"), JwtSigner("lender-a", load_private_key(member.key_file)))
    as_admin = AnalystClient(
        c.hub_channel("admin/demo"),
        JwtSigner("admin/demo", load_private_key(str(c.folder / "keys" / "admin.pem"))),
    )
    stranger_key = tmp_path / "stranger.pem"
    generate_key_file(stranger_key)
    as_stranger = AnalystClient(c.hub_channel("analyst/eve"), JwtSigner("analyst/eve", load_private_key(stranger_key)))
    try:
        for client, code in (
            (as_member, grpc.StatusCode.PERMISSION_DENIED),
            (as_admin, grpc.StatusCode.PERMISSION_DENIED),
            (as_stranger, grpc.StatusCode.UNAUTHENTICATED),
        ):
            with pytest.raises(LianfangRpcError) as caught:
                await client.list_rings()
            assert caught.value.code == code
        # ... and an analyst cannot query or contribute as a member.
        from clients.hub import HubClient

        analyst_as_member = HubClient(
            c.hub_channel("analyst/demo"),
            JwtSigner("analyst/demo", load_private_key(str(c.folder / "keys" / "analyst.pem"))),
        )
        with pytest.raises(LianfangRpcError) as caught:
            await analyst_as_member.check_request(check_request("x", rid(1)))
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        await analyst_as_member.close()
    finally:
        for client in (as_member, as_admin, as_stranger):
            await client.close()


def test_public_ring_id_is_stable_and_opaque() -> None:
    assert ring_public_id("lender-a\x1fref-1", b"k") == ring_public_id("lender-a\x1fref-1", b"k")
    assert ring_public_id("lender-a\x1fref-1", b"k") != ring_public_id("lender-a\x1fref-2", b"k")
    # keyed: without the hub's secret a member cannot test a guessed reference against an id
    assert ring_public_id("lender-a\x1fref-1", b"k") != ring_public_id("lender-a\x1fref-1", b"other")
    assert "lender" not in ring_public_id("lender-a\x1fref-1", b"k")


async def test_a_phone_given_by_different_people_is_shared_not_stacked(hub: LocalConsortium) -> None:
    c = hub
    switchboard = phone(500)
    first = await hub_of(c, "lender-a").check_request(check_request("staff-1", rid(501), switchboard))
    same_person = await hub_of(c, "lender-b").check_request(check_request("staff-1b", rid(501), switchboard))
    phone_stacking = [s for s in same_person.stacking if s.token_type == common_pb2.TOKEN_TYPE_PHONE]
    assert not phone_stacking[0].shared and "STACKING_PHONE_1H" in {r.code for r in same_person.reasons}
    # An application without a resident ID or USCC is not a known other person.
    anonymous = await hub_of(c, "lender-c").check_request(check_request("anon", switchboard))
    assert "SHARED_PHONE" not in {r.code for r in anonymous.reasons}
    other_person = await hub_of(c, "lender-c").check_request(check_request("staff-2", rid(502), switchboard))
    (stacking,) = [s for s in other_person.stacking if s.token_type == common_pb2.TOKEN_TYPE_PHONE]
    assert stacking.shared and stacking.windows[0].other_members == 2  # the counts stay factual
    codes = {r.code for r in other_person.reasons}
    assert "SHARED_PHONE" in codes and not {c for c in codes if c.startswith("STACKING_PHONE")}
    assert not first.stacking[0].shared


async def test_batch_check_answers_rings_as_if_sent_one_by_one(hub: LocalConsortium) -> None:
    c = hub
    batch = await hub_of(c, "lender-a").batch_check(
        [check_request(f"b-{n}", rid(600 + n), device(600)) for n in range(4)]
    )
    assert [r.ring.size for r in batch.results] == [0, 2, 3, 4]
    retry = await hub_of(c, "lender-a").batch_check([check_request("b-0", rid(600), device(600))])
    assert not retry.results[0].newly_recorded and retry.results[0].ring.size == 4
    single = await hub_of(c, "lender-b").check_request(check_request("after", rid(700), device(600)))
    assert single.ring.size == 5 and single.ring.ring_id == retry.results[0].ring.ring_id
