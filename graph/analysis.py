"""Analyst questions on the link graph: how two entities connect, what sub-groups a ring has,
which tokens hold it together. Paths run on the index directly (a bounded breadth-first search);
communities and centrality run with networkx on an extracted subgraph (``subgraph``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import networkx as nx  # no stubs; types-networkx is not a dev dependency
from networkx.algorithms.community import greedy_modularity_communities

from graph.ring_index import RingIndex
from graph.subgraph import TOKEN, entity_kind, neighbours


@dataclass(frozen=True, slots=True)
class PathResult:
    """``path``: entities from source to target (applications and tokens alternate), or None.

    ``truncated`` means the search hit ``max_visited`` before it could rule a path out; without
    it, None means no path within ``max_hops``.
    """

    path: tuple[str, ...] | None
    truncated: bool
    visited: int


def shortest_path(
    index: RingIndex,
    source: str,
    target: str,
    *,
    max_hops: int = 8,
    max_visited: int = 20_000,
    through_hub_tokens: bool = False,
) -> PathResult:
    """Shortest path between two applications or tokens, in bipartite steps.

    Hub tokens may be the source or the target but are not crossed unless ``through_hub_tokens``:
    two strangers on one café's Wi-Fi are not connected in any useful sense.
    """
    kinds = entity_kind(index, source), entity_kind(index, target)
    if None in kinds:
        raise KeyError(source if kinds[0] is None else target)
    if source == target:
        return PathResult((source,), False, 1)
    parent: dict[str, str] = {source: source}
    queue: deque[tuple[str, bool, int]] = deque([(source, kinds[0] == TOKEN, 0)])
    while queue:
        node, is_token, depth = queue.popleft()
        if depth >= max_hops:
            continue
        through = through_hub_tokens or node == source
        for other in neighbours(index, node, is_token, through):
            if other in parent:
                continue
            parent[other] = node
            if other == target:
                path = [other]
                while path[-1] != source:
                    path.append(parent[path[-1]])
                return PathResult(tuple(reversed(path)), False, len(parent))
            if len(parent) >= max_visited:
                return PathResult(None, True, len(parent))
            queue.append((other, not is_token, depth + 1))
    return PathResult(None, False, len(parent))


def communities(graph: nx.Graph, *, resolution: float = 1.0) -> list[frozenset[str]]:
    """Groups of applications that share more with each other than with the rest, largest first.

    Runs greedy modularity (deterministic: no random seed) on the *application projection* —
    two applications joined with the number of tokens they share as the weight — because on the
    bipartite graph every shared phone is a path of length two and modularity fragments it.
    An application that shares nothing in the subgraph is a community of its own.
    """
    apps = [node for node, kind in graph.nodes(data="kind") if kind != TOKEN]
    projected = nx.Graph()
    projected.add_nodes_from(apps)
    for node, kind in graph.nodes(data="kind"):
        if kind == TOKEN:
            carriers = sorted(graph[node])
            for i, a in enumerate(carriers):
                for b in carriers[i + 1 :]:
                    weight = projected.get_edge_data(a, b, {"weight": 0})["weight"]
                    projected.add_edge(a, b, weight=weight + 1)
    if projected.number_of_edges() == 0:
        groups = [frozenset([node]) for node in projected.nodes]
    else:
        found = greedy_modularity_communities(projected, weight="weight", resolution=resolution)
        groups = [frozenset(group) for group in found]
    return sorted(groups, key=lambda group: (-len(group), min(group)))


def central_tokens(
    graph: nx.Graph,
    *,
    top: int = 10,
    measure: Literal["betweenness", "degree"] = "betweenness",
    sample_above: int = 1_000,
) -> list[tuple[str, float]]:
    """The tokens that hold a subgraph together, most central first.

    Betweenness (how many shortest paths run through a token) finds the bridges between
    sub-groups; degree finds the most shared token. Betweenness is O(nodes·edges), so above
    ``sample_above`` nodes it is estimated from that many sources (fixed seed).
    """
    if measure == "degree":
        centrality = nx.degree_centrality(graph)
    elif graph.number_of_nodes() > sample_above:
        centrality = nx.betweenness_centrality(graph, k=sample_above, seed=0)
    else:
        centrality = nx.betweenness_centrality(graph)
    tokens = [(node, float(value)) for node, value in centrality.items() if graph.nodes[node].get("kind") == TOKEN]
    tokens.sort(key=lambda item: (-item[1], item[0]))
    return tokens[:top]
