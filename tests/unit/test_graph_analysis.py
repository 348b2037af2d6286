"""Analysis on extracted subgraphs: typed nodes, limits and truncation, hub tokens left
unexpanded, shortest paths, communities, central tokens, and lossless JSON / GraphML round trips
through networkx (application ids carry ``\\x1f``, which XML cannot)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.analysis import central_tokens, communities, shortest_path
from graph.export import from_graphml, from_json, to_graphml, to_json
from graph.model import AppMeta, app_id_of
from graph.ring_index import RingIndex
from graph.subgraph import GraphLimits, neighbourhood, ring_graph

BRIDGE = "1.5.1.00b1"  # a device shared by one application of each group
CAFE = "1.6.1.0cafe"  # an IP on 25 applications: a hub token (cap 20)


def tok(token_type: int, n: int) -> str:
    return f"1.{token_type}.1.{n:04x}"


def app(side: str, i: int) -> str:
    return app_id_of("贷款甲" if side == "L" else "m-2", f"{side}{i}%ref")


@pytest.fixture
def index() -> RingIndex:
    """Two tight groups of five (each pair shares a phone) joined by one device, plus a café IP."""
    index = RingIndex()
    for side, base in (("L", 0), ("R", 100)):
        for i in range(5):
            tokens = [tok(3, base + min(i, j) * 10 + max(i, j)) for j in range(5) if j != i]
            tokens.append(tok(1, base + i))  # the applicant's own ID: degree 1
            if i == 0:
                tokens.append(BRIDGE)
            if i == 1:
                tokens.append(CAFE)
            meta = AppMeta(member_id=app(side, i).split("\x1f")[0], received_at=float(i), blacklisted=i == 2)
            index.add_application(app(side, i), tokens, meta)
    for i in range(23):
        index.add_application(f"cafe-{i:02d}", [CAFE])
    assert index.is_hub_token(CAFE) and index.ring_of(app("L", 0)) == app("R", 0)  # "m-2" < "贷"
    assert index.ring_size(app("R", 0)) == 10
    return index


def kinds(graph: nx.Graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"application": set(), "token": set()}
    for node, kind in graph.nodes(data="kind"):
        out[kind].add(node)
    return out


def test_ring_graph_has_typed_nodes_and_only_linking_tokens(index: RingIndex) -> None:
    ring_id = index.ring_of(app("R", 3))
    assert ring_id is not None
    graph = ring_graph(index, ring_id)
    nodes = kinds(graph)
    assert nodes["application"] == set(index.members(ring_id))
    assert BRIDGE in nodes["token"] and CAFE not in nodes["token"] and tok(1, 0) not in nodes["token"]
    assert len(nodes["token"]) == 1 + 2 * 10  # the bridge and ten phones per group
    assert graph.nodes[BRIDGE] == {
        "kind": "token",
        "token_type": 5,
        "type_name": "device_id",
        "degree": 2,
        "hub": False,
    }
    assert graph.nodes[app("L", 2)]["blacklisted"] and graph.nodes[app("L", 2)]["member"] == "贷款甲"
    assert graph.graph == {
        "kind": "ring",
        "ring_id": ring_id,
        "ring_size": 10,
        "truncated": False,
        "max_nodes": 2000,
        "max_edges": 10000,
    }
    with_hubs = ring_graph(index, ring_id, include_hub_tokens=True)
    assert with_hubs.nodes[CAFE]["hub"] and with_hubs.degree(CAFE) == 2  # only the ring's own carriers


def test_ring_graph_respects_limits(index: RingIndex) -> None:
    ring_id = app("R", 0)
    small = ring_graph(index, ring_id, limits=GraphLimits(max_nodes=6, max_edges=100))
    assert small.number_of_nodes() <= 6 and small.graph["truncated"]
    few_edges = ring_graph(index, ring_id, limits=GraphLimits(max_nodes=100, max_edges=3))
    assert few_edges.number_of_edges() == 3 and few_edges.graph["truncated"]
    assert not ring_graph(index, "nobody").number_of_nodes()


def test_neighbourhood_hops_and_hub_tokens(index: RingIndex) -> None:
    one = neighbourhood(index, app("L", 1), hops=1)
    assert set(one) == {app("L", 1), *index.tokens_of(app("L", 1))} and one.graph["center"] == app("L", 1)
    two = neighbourhood(index, app("L", 1), hops=2)
    assert kinds(two)["application"] == {app("L", i) for i in range(5)}  # the café is not crossed
    assert two.nodes[CAFE]["hub"] and two.degree(CAFE) == 1
    through = neighbourhood(index, app("L", 1), hops=2, expand_hub_tokens=True)
    assert {f"cafe-{i:02d}" for i in range(23)} <= set(through) and through.degree(CAFE) == 25
    three = neighbourhood(index, app("L", 1), hops=4)
    assert app("R", 0) in three and app("R", 1) not in three
    around_token = neighbourhood(index, BRIDGE, hops=1)
    assert set(around_token) == {BRIDGE, app("L", 0), app("R", 0)}
    cut = neighbourhood(index, app("L", 1), hops=6, limits=GraphLimits(max_nodes=12, max_edges=1000))
    assert cut.number_of_nodes() == 12 and cut.graph["truncated"] and not two.graph["truncated"]
    with pytest.raises(KeyError):
        neighbourhood(index, "nobody")


def test_shortest_path_crosses_the_bridge_but_not_the_cafe(index: RingIndex) -> None:
    result = shortest_path(index, app("L", 3), app("R", 4))
    assert result.path is not None and not result.truncated
    assert result.path[0] == app("L", 3) and result.path[-1] == app("R", 4) and BRIDGE in result.path
    assert len(result.path) == 7  # L3 -phone- L0 -bridge- R0 -phone- R4
    assert shortest_path(index, "cafe-00", app("L", 1)).path is None
    via_cafe = shortest_path(index, "cafe-00", app("L", 1), through_hub_tokens=True)
    assert via_cafe.path == ("cafe-00", CAFE, app("L", 1))
    assert shortest_path(index, CAFE, app("L", 1)).path == (CAFE, app("L", 1))  # a hub may be the source
    assert shortest_path(index, app("L", 3), app("R", 4), max_hops=4) == shortest_path(
        index, app("L", 3), app("R", 4), max_hops=4
    )
    assert shortest_path(index, app("L", 3), app("R", 4), max_hops=4).path is None
    assert shortest_path(index, app("L", 3), app("R", 4), max_visited=5).truncated
    assert shortest_path(index, BRIDGE, BRIDGE).path == (BRIDGE,)
    with pytest.raises(KeyError):
        shortest_path(index, app("L", 3), "nobody")


def test_communities_split_the_two_groups_and_the_bridge_is_central(index: RingIndex) -> None:
    graph = ring_graph(index, app("R", 0))
    groups = communities(graph)
    assert len(groups) == 2
    assert set(groups) == {frozenset(app("L", i) for i in range(5)), frozenset(app("R", i) for i in range(5))}
    top = central_tokens(graph, top=3)
    assert top[0][0] == BRIDGE and len(top) == 3 and all(graph.nodes[t]["kind"] == "token" for t, _ in top)
    by_degree = central_tokens(graph, measure="degree", top=50)
    assert len(by_degree) == 21 and all(value > 0 for _, value in by_degree)
    assert central_tokens(graph, sample_above=5)[0][0] == BRIDGE  # sampled estimate, fixed seed
    lone = nx.Graph()
    lone.add_nodes_from(["a", "b"])
    assert communities(lone) == [frozenset({"a"}), frozenset({"b"})]


def assert_same(a: nx.Graph, b: nx.Graph) -> None:
    assert nx.utils.graphs_equal(a, b)
    assert dict(a.nodes(data=True)) == dict(b.nodes(data=True)) and a.graph == b.graph
    for node, attrs in a.nodes(data=True):
        assert {k: type(v) for k, v in attrs.items()} == {k: type(v) for k, v in b.nodes[node].items()}


def test_exports_round_trip_through_networkx(index: RingIndex) -> None:
    for graph in (
        ring_graph(index, app("R", 0), include_hub_tokens=True),
        neighbourhood(index, app("L", 1), hops=3, expand_hub_tokens=True),
    ):
        assert_same(graph, from_json(to_json(graph)))
        text = to_graphml(graph)
        assert "\x1f" not in text and ET.fromstring(text).tag.endswith("graphml")
        assert_same(graph, from_graphml(text))
    assert to_json(ring_graph(index, app("R", 0))) == to_json(ring_graph(index, app("R", 0)))


xml_hostile = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(xml_hostile, xml_hostile), min_size=1, max_size=6), xml_hostile)
def test_graphml_round_trips_any_text(pairs: list[tuple[str, str]], label: str) -> None:
    graph = nx.Graph(title=label)
    for a, b in pairs:
        attrs: dict[str, Any] = {"member": b, "flag": True, "n": 3}
        graph.add_node("a:" + a, **attrs)
        graph.add_node("t:" + b, kind="token")
        graph.add_edge("a:" + a, "t:" + b)
    assert_same(graph, from_graphml(to_graphml(graph)))
    assert_same(graph, from_json(to_json(graph)))
