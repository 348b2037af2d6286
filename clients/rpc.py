"""The call wrapper every SDK client shares: deadline, auth metadata, error translation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from clients.credentials import JwtSigner
from clients.errors import LianfangRpcError
from clients.replicas import replica_count

R = TypeVar("R")
_MIN_ATTEMPT_SECONDS = 0.01  # less time than this left: the error stands
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
        idempotent: bool = False,
    ) -> R:
        """``signer``: this call's (default: the client's), e.g. a narrower scope's.

        ``idempotent``: a call the server may safely receive twice (a Check, an outcome, a read).
        Over a :class:`clients.replicas.ReplicaChannel` such a call that meets UNAVAILABLE (its
        replica died or is draining) is sent again to the next replica, newly signed, within the
        same deadline: ``timeout`` bounds all attempts together."""
        signer = signer or self.signer
        budget = timeout or self.default_timeout
        deadline = time.monotonic() + budget
        attempts = replica_count(self.channel) if idempotent else 1
        for attempt in range(1, attempts + 1):
            md: list[tuple[str, str]] = list(metadata or ())
            if signer is not None:
                md.extend(signer.metadata())
            remaining = deadline - time.monotonic() if attempt > 1 else budget
            try:
                return await method(request, timeout=remaining, metadata=md)
            except grpc.aio.AioRpcError as error:
                retry = error.code() == grpc.StatusCode.UNAVAILABLE and attempt < attempts
                if not retry or deadline - time.monotonic() < _MIN_ATTEMPT_SECONDS:
                    raise LianfangRpcError.from_rpc_error(error) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def close(self) -> None:
        await self.channel.close()
