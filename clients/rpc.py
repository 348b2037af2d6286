"""The call wrapper every SDK client shares: deadline, auth metadata, error translation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from clients.credentials import JwtSigner
from clients.errors import LianfangRpcError

R = TypeVar("R")
Metadata = Sequence[tuple[str, str]]


class RpcClient:
    """Base of typed clients: keyword-only ``timeout`` and ``metadata`` on every call."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner | None, *, default_timeout: float) -> None:
        self.channel = channel
        self.signer = signer
        self.default_timeout = default_timeout

    async def _call(
        self,
        method: Callable[..., Awaitable[R]],
        request: Any,
        *,
        timeout: float | None,
        metadata: Metadata | None,
        signer: JwtSigner | None = None,
    ) -> R:
        """``signer``: this call's (default: the client's), e.g. a narrower scope's."""
        md: list[tuple[str, str]] = list(metadata or ())
        signer = signer or self.signer
        if signer is not None:
            md.extend(signer.metadata())
        try:
            return await method(request, timeout=timeout or self.default_timeout, metadata=md)
        except grpc.aio.AioRpcError as error:
            raise LianfangRpcError.from_rpc_error(error) from None

    async def close(self) -> None:
        await self.channel.close()
