"""Subgraph export for analysts' tools (JSON node-link for web pages, GraphML for Gephi/yEd),
and import back, losslessly: ``from_json(to_json(g))`` and ``from_graphml(to_graphml(g))`` give
a graph with the same nodes, edges and attributes.

XML 1.0 cannot carry most control characters (the hub's application ids contain ``\\x1f``) and
its parsers rewrite tabs and line ends; so GraphML percent-escapes ``%`` and every control
character in every string (ids and values) on the way out and unescapes on the way in. JSON needs
no escaping.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import quote, unquote

import networkx as nx  # no stubs; types-networkx is not a dev dependency

_XML_UNSAFE = re.compile(r"[%\x00-\x1f\x7f\ufffe\uffff]")  # \t \n \r too: parsers normalise them


def to_json(graph: nx.Graph) -> str:
    """Node-link JSON (``nodes``, ``edges``, ``graph``), keys sorted for stable diffs."""
    return json.dumps(nx.node_link_data(graph, edges="edges"), sort_keys=True, ensure_ascii=False)


def from_json(text: str) -> nx.Graph:
    graph: nx.Graph = nx.node_link_graph(json.loads(text), edges="edges")
    return graph


def _escape(value: str) -> str:
    return _XML_UNSAFE.sub(lambda m: quote(m.group(), safe=""), value)


def _map_strings(graph: nx.Graph, fn: Any) -> nx.Graph:
    """A copy with ``fn`` applied to node ids and to every string attribute value."""

    def values(attrs: dict[str, Any]) -> dict[str, Any]:
        return {key: fn(value) if isinstance(value, str) else value for key, value in attrs.items()}

    out = nx.Graph()
    out.graph.update(values(graph.graph))
    out.add_nodes_from((fn(node), values(attrs)) for node, attrs in graph.nodes(data=True))
    out.add_edges_from((fn(a), fn(b), values(attrs)) for a, b, attrs in graph.edges(data=True))
    return out


def to_graphml(graph: nx.Graph) -> str:
    """GraphML text; attributes that are None are dropped (GraphML has no null)."""
    clean = _map_strings(graph, _escape)
    for _, attrs in clean.nodes(data=True):
        for key in [key for key, value in attrs.items() if value is None]:
            del attrs[key]
    return "\n".join(nx.generate_graphml(clean))


def from_graphml(text: str) -> nx.Graph:
    graph = nx.read_graphml(io.BytesIO(text.encode("utf-8")), node_type=str)
    for key in ("node_default", "edge_default"):  # added by the reader, not part of the data
        graph.graph.pop(key, None)
    return _map_strings(nx.Graph(graph), unquote)
