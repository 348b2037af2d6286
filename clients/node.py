"""Typed client of a member node's OriginationService (used by the lender's front end)."""

from __future__ import annotations

import grpc
from lianfang.v1 import node_pb2, node_pb2_grpc

from clients.rpc import Metadata, RpcClient


class NodeClient(RpcClient):
    def __init__(self, channel: grpc.aio.Channel, *, default_timeout: float = 3.0) -> None:
        super().__init__(channel, None, default_timeout=default_timeout)
        self._stub = node_pb2_grpc.OriginationServiceStub(channel)

    async def screen(
        self,
        request: node_pb2.ScreenRequest,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> node_pb2.ScreenResponse:
        return await self._call(self._stub.Screen, request, timeout=timeout, metadata=metadata)
