"""Extract a bounded, typed networkx graph from the index: one ring, or a k-hop neighbourhood.

Analysts work on extracted subgraphs, never on the whole graph: node and edge limits bound the
work and the answer, and a truncated graph says so (``graph.graph["truncated"]``). Nodes are the
application ids and token keys themselves, with ``kind`` = ``"application"`` or ``"token"``.
Expansion is breadth-first with sorted neighbours, so the same index gives the same graph.
Hub tokens appear as nodes (flag ``hub``) but are not expanded unless asked: a public Wi-Fi IP
would pull in thousands of unrelated applications.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import networkx as nx  # no stubs; types-networkx is not a dev dependency

from graph.policy import token_type_name, token_type_of
from graph.ring_index import RingIndex

APPLICATION = "application"
TOKEN = "token"


@dataclass(frozen=True, slots=True)
class GraphLimits:
    max_nodes: int = 2_000
    max_edges: int = 10_000


DEFAULT_LIMITS = GraphLimits()


def application_attrs(index: RingIndex, app_id: str) -> dict[str, Any]:
    meta = index.meta(app_id)
    attrs: dict[str, Any] = {"kind": APPLICATION, "ring": index.ring_of(app_id) or app_id}
    if meta is not None:
        attrs.update(
            member=meta.member_id,
            received_at=meta.received_at,
            blacklisted=meta.blacklisted,
            defaulted=meta.defaulted,
            fraud_confirmed=meta.fraud_confirmed,
        )
    return attrs


def token_attrs(index: RingIndex, token: str) -> dict[str, Any]:
    token_type = token_type_of(token)
    return {
        "kind": TOKEN,
        "token_type": token_type,
        "type_name": token_type_name(token_type),
        "degree": index.token_degree(token),
        "hub": index.is_hub_token(token),
    }


class _Builder:
    """A graph that refuses nodes and edges beyond its limits and remembers that it did."""

    def __init__(self, index: RingIndex, limits: GraphLimits) -> None:
        self.index, self.limits = index, limits
        self.graph = nx.Graph()
        self.truncated = False

    def node(self, node: str, is_token: bool) -> bool:
        if node in self.graph:
            return True
        if self.graph.number_of_nodes() >= self.limits.max_nodes:
            self.truncated = True
            return False
        attrs = token_attrs(self.index, node) if is_token else application_attrs(self.index, node)
        self.graph.add_node(node, **attrs)
        return True

    def edge(self, app_id: str, token: str) -> bool:
        if self.graph.has_edge(app_id, token):
            return True
        if self.graph.number_of_edges() >= self.limits.max_edges:
            self.truncated = True
            return False
        if not (self.node(app_id, False) and self.node(token, True)):
            return False
        self.graph.add_edge(app_id, token)
        return True

    def finish(self, kind: str, **attrs: Any) -> nx.Graph:
        self.graph.graph.update(
            kind=kind,
            truncated=self.truncated,
            max_nodes=self.limits.max_nodes,
            max_edges=self.limits.max_edges,
            **attrs,
        )
        return self.graph


def ring_graph(
    index: RingIndex,
    ring_id: str,
    *,
    limits: GraphLimits = DEFAULT_LIMITS,
    include_hub_tokens: bool = False,
) -> nx.Graph:
    """The ring's applications and the tokens that link them (degree-1 tokens left out)."""
    builder = _Builder(index, limits)
    for app_id in index.members(ring_id):
        if not builder.node(app_id, False):
            break
        for token in sorted(index.tokens_of(app_id)):
            if index.links(token) or (include_hub_tokens and index.is_hub_token(token)):
                builder.edge(app_id, token)
        if builder.truncated:
            break
    return builder.finish("ring", ring_id=ring_id, ring_size=index.ring_size(ring_id))


def entity_kind(index: RingIndex, entity: str) -> str | None:
    """``"application"``, ``"token"``, or None when the index does not know the entity."""
    if entity in index:
        return APPLICATION
    return TOKEN if index.token_degree(entity) else None


def neighbours(index: RingIndex, entity: str, is_token: bool, through_hubs: bool) -> list[str]:
    """Sorted neighbours in the bipartite graph; a hub token has none unless ``through_hubs``."""
    if not is_token:
        return sorted(index.tokens_of(entity))
    if not through_hubs and index.is_hub_token(entity):
        return []
    return sorted(index.apps_of(entity))


def neighbourhood(
    index: RingIndex,
    entity: str,
    hops: int = 2,
    *,
    limits: GraphLimits = DEFAULT_LIMITS,
    expand_hub_tokens: bool = False,
) -> nx.Graph:
    """Everything within ``hops`` bipartite steps of an application or token (app→token = 1)."""
    kind = entity_kind(index, entity)
    if kind is None:
        raise KeyError(entity)
    builder = _Builder(index, limits)
    builder.node(entity, kind == TOKEN)
    queue: deque[tuple[str, bool, int]] = deque([(entity, kind == TOKEN, 0)])
    seen = {entity}
    while queue and not builder.truncated:
        node, is_token, depth = queue.popleft()
        if depth >= hops:
            continue
        for other in neighbours(index, node, is_token, expand_hub_tokens):
            app_id, token = (other, node) if is_token else (node, other)
            if not builder.edge(app_id, token):
                break
            if other not in seen:
                seen.add(other)
                queue.append((other, not is_token, depth + 1))
    return builder.finish("neighbourhood", center=entity, hops=hops)
