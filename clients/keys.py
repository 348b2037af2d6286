"""Typed client of the OPRF key service: members evaluate, admins rotate, hub operators fetch Δ."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from lianfang.v1 import keys_pb2, keys_pb2_grpc

from clients.credentials import KEYS_AUDIENCE, JwtSigner
from clients.rpc import Metadata, RpcClient


def key_service_signer(signer: JwtSigner, scope: str) -> JwtSigner:
    """A signer of the same principal for the key service's audience and one of its scopes."""
    return signer.for_audience(KEYS_AUDIENCE, scope)


class KeyServiceClient(RpcClient):
    """``signer`` must be for audience ``lianfang-keys`` (see ``key_service_signer``)."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 2.0) -> None:
        super().__init__(channel, signer, default_timeout=default_timeout)
        self._stub = keys_pb2_grpc.KeyServiceStub(channel)

    async def evaluate(
        self, blinded: Sequence[bytes], *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> keys_pb2.EvaluateResponse:
        request = keys_pb2.EvaluateRequest(blinded_elements=blinded)
        return await self._call(self._stub.Evaluate, request, timeout=timeout, metadata=metadata)

    async def public_keys(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[keys_pb2.KeyEpoch]:
        request = keys_pb2.GetPublicKeysRequest()
        response = await self._call(self._stub.GetPublicKeys, request, timeout=timeout, metadata=metadata)
        return list(response.epochs)

    async def rotate(self, *, timeout: float | None = None, metadata: Metadata | None = None) -> keys_pb2.KeyEpoch:
        request = keys_pb2.RotateKeyRequest()
        return (await self._call(self._stub.RotateKey, request, timeout=timeout, metadata=metadata)).epoch

    async def activate(
        self, epoch: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> keys_pb2.KeyEpoch:
        request = keys_pb2.ChangeEpochRequest(epoch=epoch)
        return (await self._call(self._stub.ActivateEpoch, request, timeout=timeout, metadata=metadata)).epoch

    async def retire(
        self, epoch: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> keys_pb2.KeyEpoch:
        request = keys_pb2.ChangeEpochRequest(epoch=epoch)
        return (await self._call(self._stub.RetireEpoch, request, timeout=timeout, metadata=metadata)).epoch

    async def audit(
        self,
        member_id: str = "",
        limit: int = 100,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> keys_pb2.ListEvaluationAuditResponse:
        request = keys_pb2.ListEvaluationAuditRequest(member_id=member_id, limit=limit)
        return await self._call(self._stub.ListEvaluationAudit, request, timeout=timeout, metadata=metadata)

    async def rekey_delta(
        self, from_epoch: int, to_epoch: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> keys_pb2.GetRekeyDeltaResponse:
        request = keys_pb2.GetRekeyDeltaRequest(from_epoch=from_epoch, to_epoch=to_epoch)
        return await self._call(self._stub.GetRekeyDelta, request, timeout=timeout, metadata=metadata)
