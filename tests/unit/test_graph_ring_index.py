"""Ring index: incremental == rebuild == a networkx oracle on random workloads, in any insertion
order and across removals; degree caps stop merging (and undo merges made before the cap was
crossed); ring ids are the smallest member; metadata updates; the state's storage tricks."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lianfang.v1 import common_pb2

from graph.model import AppMeta, app_id_of, person_key_of
from graph.policy import DAY, DEFAULT_CAPS, LinkPolicy, TokenType, raw_key, token_type_name, windowed
from graph.ring_index import IndexSnapshot, RingIndex
from graph.state import MemoryRingState

SETTINGS = settings(deadline=None, max_examples=150)

# Small caps and small pools so that rings form, merge and hub tokens appear in most examples.
POLICY = LinkPolicy(caps={TokenType.PHONE: 2, TokenType.DEVICE_ID: 2, TokenType.IP: 3, TokenType.ADDRESS: 3})
POOL = [f"1.{t}.1.{i:04x}" for t in (3, 5, 6, 7, 9) for i in range(3)]  # 7 = IP_SUBNET: never links
APPS = [app_id_of(f"m{i % 3}", f"ref-{i:02d}") for i in range(14)]


def tok(token_type: int, n: int) -> str:
    return f"1.{token_type}.1.{n:04x}"


def oracle_rings(index: RingIndex) -> frozenset[tuple[str, frozenset[str]]]:
    """Rings by definition: components over tokens whose final degree is within the cap."""
    app_tokens = {app_id: index.tokens_of(app_id) for app_id in index.state.iter_apps()}
    degree = Counter(token for tokens in app_tokens.values() for token in tokens)
    graph = nx.Graph()
    graph.add_nodes_from(app_tokens)
    for app_id, tokens in app_tokens.items():
        for token in tokens:
            if degree[token] <= index.policy.cap_of(token):
                graph.add_edge(app_id, ("token", token))
    rings = set()
    for component in nx.connected_components(graph):
        apps = frozenset(node for node in component if isinstance(node, str))
        if len(apps) > 1:
            rings.add((min(apps), apps))
    return frozenset(rings)


def build(ops: Iterable[tuple[str, list[str]]], policy: LinkPolicy = POLICY) -> RingIndex:
    index = RingIndex(policy)
    for app_id, tokens in ops:
        index.add_application(app_id, tokens, AppMeta(member_id=app_id[:2], person=person_key_of(tokens)))
    return index


def rebuilt(index: RingIndex) -> IndexSnapshot:
    snap = index.snapshot()
    return RingIndex.rebuild(index.edges(), policy=index.policy, metas=snap.metas).snapshot()


workloads = st.lists(
    st.tuples(st.sampled_from(APPS), st.lists(st.sampled_from(POOL), min_size=1, max_size=5)),
    max_size=40,
)


@SETTINGS
@given(workloads, st.randoms(use_true_random=False))
def test_incremental_equals_rebuild_and_oracle_in_any_order(
    ops: list[tuple[str, list[str]]], rnd: random.Random
) -> None:
    index = build(ops)
    snap = index.snapshot()
    assert snap == rebuilt(index)
    assert snap.rings == oracle_rings(index)
    edges = list(index.edges())
    rnd.shuffle(edges)  # a rebuild must not depend on edges arriving grouped by application
    assert RingIndex.rebuild(edges, policy=POLICY, metas=snap.metas).snapshot() == snap
    shuffled = list(ops)
    rnd.shuffle(shuffled)
    other = build(shuffled)
    assert other.snapshot().rings == snap.rings
    assert other.snapshot().hub_tokens == snap.hub_tokens
    assert other.snapshot().app_tokens == snap.app_tokens
    for app_id in snap.app_tokens:
        assert other.ring_of(app_id) == index.ring_of(app_id)


WIDE_POLICY = LinkPolicy(caps={TokenType.PHONE: 5, TokenType.DEVICE_ID: 4, TokenType.IP: 6, TokenType.ADDRESS: 4})
WIDE_POOL = [f"1.{t}.1.{i:04x}" for t in (3, 5, 6, 9) for i in range(8)]
WIDE_APPS = [f"app-{i:02d}" for i in range(40)]
wide_workloads = st.lists(
    st.tuples(st.sampled_from(WIDE_APPS), st.lists(st.sampled_from(WIDE_POOL), min_size=1, max_size=4)),
    min_size=10,
    max_size=80,
)


@settings(deadline=None, max_examples=60)
@given(wide_workloads, st.lists(st.sampled_from(WIDE_APPS), max_size=15))
def test_bigger_rings_split_exactly_when_many_tokens_cross(
    ops: list[tuple[str, list[str]]], removed: list[str]
) -> None:
    """More applications and higher caps: crossings with many witnesses inside larger rings."""
    index = build(ops, WIDE_POLICY)
    assert index.snapshot().rings == oracle_rings(index)
    for app_id in removed:
        index.remove_application(app_id)
        assert index.snapshot().rings == oracle_rings(index)
    assert index.snapshot() == rebuilt(index)


@SETTINGS
@given(workloads, st.lists(st.sampled_from(APPS), max_size=10))
def test_removals_keep_rings_exact(ops: list[tuple[str, list[str]]], removed: list[str]) -> None:
    index = build(ops)
    for app_id in removed:
        index.remove_application(app_id)
    snap = index.snapshot()
    assert snap.rings == oracle_rings(index)
    assert snap == rebuilt(index)
    fresh = build((app_id, tokens) for app_id, tokens in ops if app_id not in set(removed))
    assert fresh.snapshot().rings == snap.rings


@SETTINGS
@given(workloads)
def test_every_member_resolves_to_its_ring(ops: list[tuple[str, list[str]]]) -> None:
    index = build(ops)
    for ring_id, size in index.rings():
        members = index.members(ring_id)
        assert len(members) == size == index.ring_size(ring_id) >= 2
        assert ring_id == members[0] == min(members)
        assert all(index.ring_of(app_id) == ring_id for app_id in members)
    for app_id in index.state.iter_apps():
        assert app_id in index.members(index.ring_of(app_id) or "")


def test_degree_cap_stops_merging_and_undoes_earlier_merges() -> None:
    index = RingIndex(LinkPolicy(caps={TokenType.IP: 3, TokenType.PHONE: 10}))
    cafe = tok(6, 1)
    for i in range(3):
        index.add_application(f"a{i}", [cafe, tok(3, i)])
    assert index.members("a0") == ("a0", "a1", "a2")
    assert not index.is_hub_token(cafe) and index.links(cafe)
    assert index.add_application("a3", [cafe, tok(3, 3)]) == "a3"
    assert index.is_hub_token(cafe) and not index.links(cafe) and index.token_degree(cafe) == 4
    assert [index.ring_of(f"a{i}") for i in range(4)] == ["a0", "a1", "a2", "a3"]
    assert list(index.rings()) == []
    # A phone still links two of them: the hub does not, the phone does.
    index.add_application("a1", [tok(3, 0)])
    assert index.members("a0") == ("a0", "a1")
    assert index.ring_of("a2") == "a2"


def test_hub_token_in_a_ring_keeps_the_ring_when_other_tokens_hold_it() -> None:
    index = RingIndex(LinkPolicy(caps={TokenType.IP: 2, TokenType.PHONE: 10}))
    phone = tok(3, 9)
    index.add_application("b", [tok(6, 1), phone])
    index.add_application("c", [tok(6, 1), phone])
    index.add_application("a", [tok(6, 1)])  # IP crosses its cap; the phone still joins b and c
    assert index.is_hub_token(tok(6, 1))
    assert index.members("b") == ("b", "c") and index.ring_of("a") == "a"


def test_removal_splits_a_ring_and_relinks_a_former_hub() -> None:
    index = RingIndex(LinkPolicy(caps={TokenType.IP: 2, TokenType.PHONE: 10}))
    index.add_application("x", [tok(3, 1)])
    index.add_application("bridge", [tok(3, 1), tok(3, 2)])
    index.add_application("y", [tok(3, 2)])
    assert index.members("bridge") == ("bridge", "x", "y")
    assert index.remove_application("bridge") and not index.remove_application("bridge")
    assert index.ring_of("x") == "x" and index.ring_of("y") == "y" and index.ring_of("bridge") is None
    for app_id in ("p", "q", "r"):
        index.add_application(app_id, [tok(6, 7)])
    assert index.is_hub_token(tok(6, 7)) and index.ring_of("q") == "q"
    index.remove_application("r")
    assert not index.is_hub_token(tok(6, 7)) and index.members("p") == ("p", "q")


def test_a_split_after_removal_stays_inside_its_ring() -> None:
    """r's IP is one over its cap; removing r relinks it between a (r's ring) and q (another ring).
    The split of r's ring must not wander into q's ring through that IP before the two merge."""
    index = RingIndex(LinkPolicy(caps={TokenType.IP: 2, TokenType.PHONE: 10}))
    ip = tok(6, 1)
    index.add_application("r", [ip, tok(3, 1), tok(3, 2)])
    index.add_application("a", [ip, tok(3, 1)])
    index.add_application("q", [ip, tok(3, 3)])
    index.add_application("q2", [tok(3, 3)])
    for b in ("b", "b2", "b3", "b4"):
        index.add_application(b, [tok(3, 2)])
    assert index.is_hub_token(ip) and index.ring_size("a") == 6 and index.members("q") == ("q", "q2")
    index.remove_application("r")
    assert index.members("a") == ("a", "q", "q2") and index.members("b") == ("b", "b2", "b3", "b4")
    assert index.snapshot().rings == oracle_rings(index) and index.snapshot() == rebuilt(index)


def test_ring_id_is_the_smallest_member_and_stale_ids_resolve_to_nothing() -> None:
    index = RingIndex()
    index.add_application("m1\x1fzz", [tok(3, 1)])
    index.add_application("m2\x1fmm", [tok(3, 1)])
    assert index.ring_of("m1\x1fzz") == "m1\x1fzz"
    assert index.add_application("m0\x1faa", [tok(3, 1)]) == "m0\x1faa"
    assert index.members("m1\x1fzz") == ()  # stale: the ring now has a smaller member
    assert index.ring_size("m1\x1fzz") == 0 and index.ring_size("nobody") == 0
    assert index.members("m0\x1faa") == ("m0\x1faa", "m1\x1fzz", "m2\x1fmm")
    assert index.ring_of("unknown") is None and index.members("unknown") == ()
    index.add_application("lonely", [tok(3, 2)])
    assert index.members("lonely") == ("lonely",) and index.ring_size("lonely") == 1


def test_merging_two_rings_keeps_the_smaller_anchor_and_relabels() -> None:
    index = RingIndex()
    for i in range(5):
        index.add_application(f"b{i}", [tok(8, 1)])  # bank account, cap 10
    index.add_application("a0", [tok(4, 1)])
    index.add_application("a1", [tok(4, 1)])
    index.add_application("c", [tok(8, 1), tok(4, 1)])
    assert index.ring_size("a0") == 8 and all(index.ring_of(f"b{i}") == "a0" for i in range(5))


def test_non_linking_and_malformed_tokens_are_ignored() -> None:
    index = RingIndex()
    subnet = tok(TokenType.IP_SUBNET, 1)
    index.add_application("a", [subnet, "garbage", "1.x.1.00", tok(99, 1)])
    index.add_application("b", [subnet])
    assert index.ring_of("a") == "a" and index.ring_of("b") == "b"
    assert index.tokens_of("a") == () and index.token_degree(subnet) == 0
    assert "a" in index and len(index) == 2
    assert RingIndex.rebuild(index.edges()).snapshot().app_tokens.keys() == set()  # no edges stored


def test_re_adding_an_application_adds_tokens_and_replaces_meta() -> None:
    index = RingIndex()
    index.add_application("a", [tok(3, 1)], AppMeta(member_id="m1", received_at=5.0))
    index.add_application("a", [tok(3, 1), tok(5, 1)])
    assert set(index.tokens_of("a")) == {tok(3, 1), tok(5, 1)} and index.token_degree(tok(3, 1)) == 1
    assert index.meta("a") == AppMeta(member_id="m1", received_at=5.0)
    index.add_application("a", [], AppMeta(member_id="m1", received_at=6.0))
    assert index.meta("a") == AppMeta(member_id="m1", received_at=6.0)


def test_meta_updates() -> None:
    index = RingIndex()
    index.add_application("a", [tok(3, 1)], AppMeta(member_id="m1", person="p"))
    meta = index.update_meta("a", defaulted=True)
    assert meta == AppMeta(member_id="m1", person="p", defaulted=True) == index.meta("a")
    index.update_meta("a", fraud_confirmed=True, blacklisted=True)
    index.update_meta("a", defaulted=False)
    assert index.meta("a") == AppMeta(member_id="m1", person="p", fraud_confirmed=True, blacklisted=True)
    with pytest.raises(KeyError):
        index.update_meta("nobody", defaulted=True)
    metas = index.snapshot().metas
    assert RingIndex.rebuild(index.edges(), metas=metas).meta("a") == index.meta("a")


def test_rebuild_takes_applications_without_edges_from_metas_and_needs_an_empty_state() -> None:
    index = RingIndex.rebuild([("a", tok(3, 1)), ("a", tok(3, 1)), ("b", tok(3, 1))], metas={"c": AppMeta("m9")})
    assert index.members("a") == ("a", "b") and index.tokens_of("a") == (tok(3, 1),)
    assert index.meta("c") == AppMeta("m9") and index.ring_of("c") == "c"
    with pytest.raises(ValueError, match="empty"):
        RingIndex.rebuild([("x", tok(3, 1))], state=index.state)


def test_memory_state_degree_through_set_and_back() -> None:
    state = MemoryRingState()
    assert state.link("t", "a") == 1 and state.link("t", "a") == 1 and state.token_apps("t") == ("a",)
    assert state.link("t", "b") == 2 and state.link("t", "c") == 3
    assert state.unlink("t", "b") == 2 and state.unlink("t", "c") == 1 and state.token_apps("t") == ("a",)
    assert state.unlink("t", "zz") == 1 and state.unlink("t", "a") == 0 and state.token_count() == 0
    assert state.unlink("t", "a") == 0 and state.token_degree("t") == 0
    with pytest.raises(KeyError):
        state.set_meta("a", AppMeta())


def test_token_types_mirror_the_contract() -> None:
    for token_type in TokenType:
        assert common_pb2.TokenType.Value(f"TOKEN_TYPE_{token_type.name}") == token_type.value
    assert token_type_name(3) == "phone" and token_type_name(99) == "type_99"


def test_policy_defaults_caps_and_validation() -> None:
    policy = LinkPolicy()
    assert not policy.links(tok(TokenType.IP_SUBNET, 1)) and policy.links(tok(TokenType.PHONE, 1))
    assert set(policy.caps) == set(DEFAULT_CAPS) and TokenType.IP_SUBNET not in policy.caps
    assert policy.cap_of(tok(TokenType.IP, 1)) == 20 and policy.cap_of("nonsense") == -1
    assert LinkPolicy.with_caps(ip=50).cap_of(tok(TokenType.IP, 1)) == 50
    assert LinkPolicy.with_caps(ip=50) == LinkPolicy.with_caps(ip=50)
    assert hash(LinkPolicy.with_caps(ip=50)) == hash(LinkPolicy.with_caps(ip=50))
    with pytest.raises(ValueError):
        LinkPolicy(caps={TokenType.IP: 0})


def test_link_keys_keep_linking_types_and_put_windowed_ones_in_their_window() -> None:
    policy = LinkPolicy(window_start=0)  # IP: one UTC day, from midnight
    day = 1_767_225_600  # 2026-01-01T00:00Z
    ip, phone, subnet = tok(TokenType.IP, 1), tok(TokenType.PHONE, 2), tok(TokenType.IP_SUBNET, 3)
    assert policy.window_of(ip) == DAY and policy.window_of(phone) is None and policy.window_of("junk") is None
    assert policy.link_keys([phone, subnet, ip, "junk"], day + 3600.5) == [phone, f"{ip}@{day}"]
    assert policy.link_keys([ip], day + DAY - 0.001) == [f"{ip}@{day}"]  # the window's last instant
    assert policy.link_keys([ip], day + DAY) == [f"{ip}@{day + DAY}"]  # the next window
    assert policy.index_token(ip, day + 10) == f"{ip}@{day}" and policy.index_token(phone, day) == phone
    assert raw_key(f"{ip}@{day}") == ip and raw_key(phone) == phone
    assert policy.cap_of(f"{ip}@{day}") == 20  # a window's token is capped as its type
    assert policy.window_of_type(TokenType.IP) == DAY and policy.window_of_type(TokenType.PHONE) is None
    assert policy.link_of(ip) == (20, DAY) and policy.link_of(phone) == (10, None)
    assert policy.link_of(subnet) == (-1, None) and policy.link_of("junk") == (-1, None)
    hourly = LinkPolicy(windows={TokenType.IP: 3600, TokenType.IP_SUBNET: 60}, window_start=0)
    assert hourly.link_keys([ip, subnet], day + 5400) == [f"{ip}@{day + 3600}"]  # a subnet still never links
    assert LinkPolicy(windows={}).link_keys([ip], day) == [ip]  # no window: linked while retained
    assert LinkPolicy(caps={}).window_of_type(TokenType.IP) is None  # a type that never links has no window
    assert hourly != LinkPolicy() and hash(hourly) != hash(LinkPolicy())
    for bad in (0, -5, 1.5):
        with pytest.raises(ValueError, match="window"):
            LinkPolicy(windows={TokenType.IP: bad})  # type: ignore[dict-item]


def test_by_default_an_ip_day_runs_from_0400_in_china_so_a_morning_burst_stays_whole() -> None:
    """Windows start at 20:00 UTC (04:00 UTC+8). A burst from 07:50 to 08:10 in China straddles
    UTC midnight: with day windows from midnight it would be two tokens, two rings."""
    policy, ip = LinkPolicy(), tok(TokenType.IP, 1)
    midnight = 1_767_225_600  # 2026-01-01T00:00Z, 08:00 in China
    burst = [midnight - 600 + 60 * n for n in range(20)]
    assert {policy.index_token(ip, at) for at in burst} == {f"{ip}@{midnight - 4 * 3600}"}
    assert len({LinkPolicy(window_start=0).index_token(ip, at) for at in burst}) == 2
    # The cut is at 20:00 UTC instead: the window's last instant and the next one.
    assert policy.index_token(ip, midnight + 20 * 3600 - 0.001) == f"{ip}@{midnight - 4 * 3600}"
    assert policy.index_token(ip, midnight + 20 * 3600) == f"{ip}@{midnight + 20 * 3600}"
    six_hours = LinkPolicy(windows={TokenType.IP: 6 * 3600})  # from 20:00 UTC, every 6 hours
    assert six_hours.index_token(ip, midnight + 1) == f"{ip}@{midnight - 4 * 3600}"
    assert six_hours.index_token(ip, midnight + 2 * 3600) == f"{ip}@{midnight + 2 * 3600}"
    assert policy.window_token(ip, midnight, 3600) == f"{ip}@{midnight}"  # hours start on the hour
    assert windowed(ip, midnight - 1, DAY, 20 * 3600) == f"{ip}@{midnight - 4 * 3600}"
    assert policy != LinkPolicy(window_start=0) and hash(policy) != hash(LinkPolicy(window_start=0))


def test_the_fingerprint_follows_what_links_not_how_the_start_is_spelled() -> None:
    """Applications logged by a hub carry its fingerprint; one that links as an older version
    did (day windows from UTC midnight) must stamp what that version stamped, or replicas in a
    rolling upgrade would report drift that is not there."""
    assert LinkPolicy(window_start=0).fingerprint == "5e941b04"  # the versions before window_start
    assert LinkPolicy().fingerprint != LinkPolicy(window_start=0).fingerprint  # 20:00 UTC links otherwise
    hourly = {TokenType.IP: 3600}
    on_the_hour = {LinkPolicy(windows=hourly, window_start=h * 3600).fingerprint for h in (0, 1, 20)}
    assert len(on_the_hour) == 1  # hours start on the hour whatever hour the days start at
    assert LinkPolicy(windows=hourly, window_start=1800).fingerprint not in on_the_hour
    assert LinkPolicy(windows={}, window_start=0).fingerprint == LinkPolicy(windows={}).fingerprint
    for bad in (-1, 86_400, 3.5):
        with pytest.raises(ValueError, match="window start"):
            LinkPolicy(window_start=bad)  # type: ignore[arg-type]


def test_person_key_prefers_resident_id_then_uscc_order_independently() -> None:
    keys = [tok(3, 1), tok(2, 5), tok(1, 9), tok(1, 4)]
    assert person_key_of(keys) == person_key_of(reversed(keys)) == tok(1, 4)
    assert person_key_of([tok(2, 5), "junk"]) == tok(2, 5)
    assert person_key_of([tok(3, 1)]) is None
