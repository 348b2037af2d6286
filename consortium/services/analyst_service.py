"""AnalystService: fraud analysts explore the link graph (rings, neighbourhoods, paths, exports).

Every call first catches up with the consortium log, so an analyst on any replica sees what every
replica has recorded. Graph extraction runs on the event loop (it reads the live index); the
networkx analysis of the extracted copy (communities, centrality) runs in a worker thread so a
big ring does not stall Checks. Applications are named ``<member_id>/<application_ref>``, rings
by their public id: the index's internal ids never leave the hub.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc
import networkx as nx  # no stubs; types-networkx is not a dev dependency
from lianfang.v1 import consortium_pb2, consortium_pb2_grpc

from consortium.ring_messages import ring_message
from consortium.rings import RingTracker, RingView
from graph.analysis import central_tokens, communities, shortest_path
from graph.export import to_graphml, to_json
from graph.model import APP_ID_SEPARATOR
from graph.subgraph import GraphLimits, entity_kind, neighbourhood, ring_graph
from runtime.errors import FieldViolation, InvalidArgument, NotFound
from runtime.timestamps import seconds_of, to_timestamp

DEFAULT_LIMITS = GraphLimits(max_nodes=500, max_edges=2_000)
MAX_LIMITS = GraphLimits(max_nodes=5_000, max_edges=20_000)
DEFAULT_HOPS, MAX_HOPS = 2, 6
DEFAULT_PATH_HOPS, MAX_PATH_HOPS = 8, 16
DEFAULT_LIST, MAX_LIST = 20, 500
TOP_CENTRAL_TOKENS = 10
RANK_CHUNK = 500
RANK_REUSE_SECONDS = 5.0
RANK_SLOW_SECONDS = 0.2


def entity_name(node: str) -> str:
    """The analyst-facing name of a graph node: applications as ``member/ref``, tokens as is."""
    return node.replace(APP_ID_SEPARATOR, "/", 1)


def _node_id(entity: str, field: str) -> str:
    """The index's id of an analyst-facing entity name; INVALID_ARGUMENT when malformed."""
    if not entity:
        raise InvalidArgument.one(field, "is required")
    if len(entity) > 300:
        raise InvalidArgument.one(field, "at most 300 characters")
    if "/" in entity:
        member, _, ref = entity.partition("/")
        if member and ref:
            return member + APP_ID_SEPARATOR + ref
    elif entity.count(".") == 3:
        return entity
    raise InvalidArgument.one(field, "an application '<member_id>/<application_ref>' or a token key")


def _limits(limits: consortium_pb2.GraphLimits, field: str) -> GraphLimits:
    violations = []
    if limits.max_nodes > MAX_LIMITS.max_nodes:
        violations.append(FieldViolation(f"{field}.max_nodes", f"at most {MAX_LIMITS.max_nodes}"))
    if limits.max_edges > MAX_LIMITS.max_edges:
        violations.append(FieldViolation(f"{field}.max_edges", f"at most {MAX_LIMITS.max_edges}"))
    if violations:
        raise InvalidArgument(violations)
    return GraphLimits(
        max_nodes=limits.max_nodes or DEFAULT_LIMITS.max_nodes,
        max_edges=limits.max_edges or DEFAULT_LIMITS.max_edges,
    )


def _bounded(value: int, default: int, maximum: int, field: str) -> int:
    if value > maximum:
        raise InvalidArgument.one(field, f"at most {maximum}")
    return value or default


def public_graph(graph: nx.Graph, public_id: Callable[[str], str]) -> nx.Graph:
    """A copy for analysts: entity names as node ids, public ring ids as ring attributes."""
    out = nx.Graph()
    out.graph.update(graph.graph)
    for key in ("ring_id", "center"):
        if key in out.graph:
            out.graph[key] = public_id(out.graph[key]) if key == "ring_id" else entity_name(out.graph[key])
    for node, attrs in graph.nodes(data=True):
        attrs = dict(attrs)
        if "ring" in attrs:
            attrs["ring"] = public_id(attrs["ring"])
        out.add_node(entity_name(node), **attrs)
    out.add_edges_from((entity_name(a), entity_name(b)) for a, b in graph.edges())
    return out


def subgraph_message(graph: nx.Graph) -> consortium_pb2.Subgraph:
    """A public graph (see ``public_graph``) as a ``Subgraph``; edges as (application, token)."""
    message = consortium_pb2.Subgraph(truncated=bool(graph.graph.get("truncated")))
    for node, a in graph.nodes(data=True):
        if a.get("kind") == "token":
            message.nodes.add(id=node, is_token=True, token_type=a["token_type"], degree=a["degree"], hub=a["hub"])
        else:
            message.nodes.add(
                id=node,
                member_id=a.get("member", ""),
                received_at=to_timestamp(a.get("received_at", 0.0)),
                blacklisted=a.get("blacklisted", False),
                defaulted=a.get("defaulted", False),
                fraud_confirmed=a.get("fraud_confirmed", False),
                ring_id=a.get("ring", ""),
            )
    for a, b in graph.edges():
        app, token = (b, a) if graph.nodes[a].get("kind") == "token" else (a, b)
        message.edges.add(application=app, token=token)
    return message


def _analyse(graph: nx.Graph) -> tuple[list[frozenset[str]], list[tuple[str, float]]]:
    return communities(graph), central_tokens(graph, top=TOP_CENTRAL_TOKENS)


class AnalystServicer(consortium_pb2_grpc.AnalystServiceServicer):
    def __init__(self, rings: RingTracker) -> None:
        self.rings = rings
        self._ranked: tuple[int, tuple[float, float], list[RingView]] | None = None  # applied, (when, took), rings

    async def _ring_id(self, request: Any) -> str:
        """The index's ring id for a request with a ``ring_id`` / ``application`` subject."""
        await self.rings.catch_up()
        subject = request.WhichOneof("subject")
        if subject == "ring_id":
            ring_id = self.rings.resolve(request.ring_id)
            if ring_id is None:
                raise NotFound(
                    f"ring {request.ring_id!r} not found (it may have merged, split or grown: ask by application)"
                )
            return ring_id
        if subject == "application":
            app_id = _node_id(request.application, "application")
            if APP_ID_SEPARATOR not in app_id:
                raise InvalidArgument.one("application", "must name an application '<member_id>/<application_ref>'")
            ring_id = self.rings.index.ring_of(app_id)
            if ring_id is None:
                raise NotFound(f"application {request.application!r} not found")
            return ring_id
        raise InvalidArgument.one("subject", "ring_id or application is required")

    def _view(self, ring_id: str) -> RingView:
        view = self.rings.view(ring_id)
        if view is None:
            raise NotFound("ring not found")
        return view

    async def GetRing(
        self, request: consortium_pb2.GetRingRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.GetRingResponse:
        limits = _limits(request.limits, "limits")
        ring_id = await self._ring_id(request)
        view = self._view(ring_id)
        graph = public_graph(ring_graph(self.rings.index, ring_id, limits=limits), self.rings.public_id)
        groups, central = await asyncio.to_thread(_analyse, graph)
        return consortium_pb2.GetRingResponse(
            ring=ring_message(view),
            graph=subgraph_message(graph),
            communities=[consortium_pb2.Community(applications=sorted(group)) for group in groups],
            central_tokens=[consortium_pb2.CentralToken(token=t, centrality=c) for t, c in central],
        )

    async def _ranked_rings(self) -> list[RingView]:
        """Every ring of two or more, best first. Scoring a million applications' rings takes
        seconds, so the work yields to Checks every ``RANK_CHUNK`` rings, and a ranking is
        reused while the log has not moved — or, when it took longer than ``RANK_SLOW_SECONDS``
        to make, for ``RANK_REUSE_SECONDS`` (a big consortium's top list may be that stale)."""
        now, applied = time.monotonic(), self.rings.applied
        if self._ranked is not None:
            made_at, took = self._ranked[1]
            if self._ranked[0] == applied or (took > RANK_SLOW_SECONDS and now - made_at < RANK_REUSE_SECONDS):
                return self._ranked[2]
        ring_ids = [ring_id for ring_id, _ in self.rings.index.rings()]
        views: list[RingView] = []
        for start in range(0, len(ring_ids), RANK_CHUNK):
            views.extend(v for r in ring_ids[start : start + RANK_CHUNK] if (v := self.rings.view(r)) is not None)
            await asyncio.sleep(0)  # let Checks run; a ring merged meanwhile is simply left out
        views = [v for v in views if v.summary.size >= 2]
        views.sort(key=lambda v: (-v.score.score, -v.summary.size, v.public_id))
        self._ranked = (applied, (now, time.monotonic() - now), views)
        return views

    async def ListRings(
        self, request: consortium_pb2.ListRingsRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListRingsResponse:
        limit = _bounded(request.limit, DEFAULT_LIST, MAX_LIST, "limit")
        if not 0.0 <= request.min_score <= 1.0:
            raise InvalidArgument.one("min_score", "between 0 and 1")
        await self.rings.catch_up()
        min_size = max(request.min_size, 2)
        since = seconds_of(request.active_since, "active_since") if request.HasField("active_since") else None
        until = seconds_of(request.active_until, "active_until") if request.HasField("active_until") else None
        keep: Callable[[RingView], bool] = lambda v: (  # noqa: E731
            v.summary.size >= min_size
            and v.summary.lenders >= request.min_lenders
            and v.score.score >= request.min_score
            and (since is None or v.summary.last_seen >= since)
            and (until is None or v.summary.first_seen <= until)
        )
        matched = [v for v in await self._ranked_rings() if keep(v)]
        return consortium_pb2.ListRingsResponse(rings=[ring_message(v) for v in matched[:limit]], matched=len(matched))

    def _not_found(self, what: str, name: str, node: str) -> NotFound:
        """NOT_FOUND for an unknown entity; for a token linked per window of time (an IP, by the
        day), its windows' names instead, the latest last."""
        windows = [token for token in self.rings.index_tokens(node) if token != node]
        if not windows:
            return NotFound(f"{what} {name!r} not found")
        shown = ", ".join(windows[-3:])
        more = f" (the latest 3 of {len(windows)})" if len(windows) > 3 else ""
        return NotFound(f"{what} {name!r} links per window of time: name one of its windows{more}: {shown}")

    async def _neighbourhood(self, entity: str, hops: int, limits: GraphLimits, expand: bool) -> nx.Graph:
        node = _node_id(entity, "entity")
        await self.rings.catch_up()
        if entity_kind(self.rings.index, node) is None:
            raise self._not_found("entity", entity, node)
        return public_graph(
            neighbourhood(self.rings.index, node, hops, limits=limits, expand_hub_tokens=expand), self.rings.public_id
        )

    async def GetNeighbourhood(
        self, request: consortium_pb2.GetNeighbourhoodRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.GetNeighbourhoodResponse:
        hops = _bounded(request.hops, DEFAULT_HOPS, MAX_HOPS, "hops")
        limits = _limits(request.limits, "limits")
        graph = await self._neighbourhood(request.entity, hops, limits, request.expand_hub_tokens)
        return consortium_pb2.GetNeighbourhoodResponse(graph=subgraph_message(graph))

    async def FindPath(
        self, request: consortium_pb2.FindPathRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.FindPathResponse:
        max_hops = _bounded(request.max_hops, DEFAULT_PATH_HOPS, MAX_PATH_HOPS, "max_hops")
        source, target = _node_id(request.source, "source"), _node_id(request.target, "target")
        await self.rings.catch_up()
        index = self.rings.index
        for node, field, name in ((source, "source", request.source), (target, "target", request.target)):
            if entity_kind(index, node) is None:
                raise self._not_found(field, name, node)
        found = shortest_path(index, source, target, max_hops=max_hops, through_hub_tokens=request.through_hub_tokens)
        return consortium_pb2.FindPathResponse(
            path=[entity_name(n) for n in found.path or ()], truncated=found.truncated, visited=found.visited
        )

    async def ExportSubgraph(
        self, request: consortium_pb2.ExportSubgraphRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ExportSubgraphResponse:
        limits = _limits(request.limits, "limits")
        if request.WhichOneof("subject") == "entity":
            hops = _bounded(request.hops, DEFAULT_HOPS, MAX_HOPS, "hops")
            graph = await self._neighbourhood(request.entity, hops, limits, False)
        else:
            ring_id = await self._ring_id(request)
            graph = public_graph(ring_graph(self.rings.index, ring_id, limits=limits), self.rings.public_id)
        truncated = bool(graph.graph.get("truncated"))
        if request.format == consortium_pb2.EXPORT_FORMAT_GRAPHML:
            return consortium_pb2.ExportSubgraphResponse(
                content=to_graphml(graph), media_type="application/graphml+xml", truncated=truncated
            )
        return consortium_pb2.ExportSubgraphResponse(
            content=to_json(graph), media_type="application/json", truncated=truncated
        )
