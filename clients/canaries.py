"""Typed client of the hub's CanaryService (admins): plant canary tokens, read their alerts."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from lianfang.v1 import canaries_pb2, canaries_pb2_grpc, common_pb2

from clients.credentials import JwtSigner
from clients.rpc import Metadata, RpcClient


class CanaryClient(RpcClient):
    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 5.0) -> None:
        super().__init__(channel, signer, default_timeout=default_timeout)
        self._stub = canaries_pb2_grpc.CanaryServiceStub(channel)

    async def plant(
        self,
        tokens: Sequence[common_pb2.Token],
        label: str,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> int:
        request = canaries_pb2.PlantCanariesRequest(tokens=tokens, label=label)
        return (await self._call(self._stub.PlantCanaries, request, timeout=timeout, metadata=metadata)).planted

    async def alerts(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> canaries_pb2.ListCanaryAlertsResponse:
        request = canaries_pb2.ListCanaryAlertsRequest()
        return await self._call(
            self._stub.ListCanaryAlerts, request, timeout=timeout, metadata=metadata, idempotent=True
        )
