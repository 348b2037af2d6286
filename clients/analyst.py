"""Typed client of the hub's AnalystService (subject ``analyst/<name>``)."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from lianfang.v1 import consortium_pb2, consortium_pb2_grpc

from clients.credentials import JwtSigner
from clients.rpc import Metadata, RpcClient

EXPORT_FORMATS = {"json": consortium_pb2.EXPORT_FORMAT_JSON, "graphml": consortium_pb2.EXPORT_FORMAT_GRAPHML}


def _limits(max_nodes: int, max_edges: int) -> consortium_pb2.GraphLimits:
    return consortium_pb2.GraphLimits(max_nodes=max_nodes, max_edges=max_edges)


class AnalystClient(RpcClient):
    """Rings, neighbourhoods, paths and exports. Entities are ``member/ref`` or token keys;
    limits of 0 take the hub's defaults."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 10.0) -> None:
        super().__init__(channel, signer, default_timeout=default_timeout)
        self._stub = consortium_pb2_grpc.AnalystServiceStub(channel)

    async def get_ring(
        self,
        *,
        ring_id: str = "",
        application: str = "",
        max_nodes: int = 0,
        max_edges: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.GetRingResponse:
        """By public ring id or by application (exactly one)."""
        request = consortium_pb2.GetRingRequest(limits=_limits(max_nodes, max_edges))
        if ring_id:
            request.ring_id = ring_id
        elif application:
            request.application = application
        return await self._call(self._stub.GetRing, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def list_rings(
        self,
        *,
        min_size: int = 0,
        min_lenders: int = 0,
        min_score: float = 0.0,
        active_since: float | None = None,
        active_until: float | None = None,
        limit: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.ListRingsResponse:
        request = consortium_pb2.ListRingsRequest(
            min_size=min_size, min_lenders=min_lenders, min_score=min_score, limit=limit
        )
        for field, value in (("active_since", active_since), ("active_until", active_until)):
            if value is not None:
                stamp = Timestamp()
                stamp.FromNanoseconds(int(value * 1e9))
                getattr(request, field).CopyFrom(stamp)
        return await self._call(self._stub.ListRings, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def neighbourhood(
        self,
        entity: str,
        *,
        hops: int = 0,
        max_nodes: int = 0,
        max_edges: int = 0,
        expand_hub_tokens: bool = False,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.Subgraph:
        request = consortium_pb2.GetNeighbourhoodRequest(
            entity=entity, hops=hops, limits=_limits(max_nodes, max_edges), expand_hub_tokens=expand_hub_tokens
        )
        response = await self._call(
            self._stub.GetNeighbourhood, request, timeout=timeout, metadata=metadata, idempotent=True
        )
        return response.graph

    async def find_path(
        self,
        source: str,
        target: str,
        *,
        max_hops: int = 0,
        through_hub_tokens: bool = False,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.FindPathResponse:
        request = consortium_pb2.FindPathRequest(
            source=source, target=target, max_hops=max_hops, through_hub_tokens=through_hub_tokens
        )
        return await self._call(self._stub.FindPath, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def export(
        self,
        *,
        ring_id: str = "",
        entity: str = "",
        hops: int = 0,
        export_format: str = "json",
        max_nodes: int = 0,
        max_edges: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.ExportSubgraphResponse:
        """A ring (by id) or an entity's neighbourhood as ``json`` or ``graphml`` text."""
        request = consortium_pb2.ExportSubgraphRequest(
            hops=hops, limits=_limits(max_nodes, max_edges), format=EXPORT_FORMATS[export_format]
        )
        if ring_id:
            request.ring_id = ring_id
        elif entity:
            request.entity = entity
        return await self._call(self._stub.ExportSubgraph, request, timeout=timeout, metadata=metadata, idempotent=True)
