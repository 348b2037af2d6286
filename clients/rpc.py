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
C = TypeVar("C", bound="RpcClient")
_MIN_ATTEMPT_SECONDS = 0.01  # less time than this left: the error stands
Metadata = Sequence[tuple[str, str]]
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def check_metadata(metadata: Metadata) -> None:
    """gRPC's own rules for call metadata, checked before the call: gRPC core refuses a bad
    key with an internal error class and a log line of its own. Keys are lower-case ASCII
    (``x-request-id``, not ``X-Request-Id``); values printable ASCII, or bytes under a key
    ending in ``-bin``."""
    for key, value in metadata:
        if not key or not all(c in _KEY_CHARS for c in key) or key.startswith(":"):
            raise ValueError(f"metadata key {key!r}: lower-case letters, digits and -_. only")
        if key.endswith("-bin"):
            if not isinstance(value, bytes):
                raise ValueError(f"metadata key {key!r} ends in -bin: its value must be bytes")
        elif not isinstance(value, str) or not all(" " <= c <= "~" for c in value):
            raise ValueError(f"metadata value of {key!r}: printable ASCII text (or a -bin key for bytes)")


class RpcClient:
    """Base of typed clients: keyword-only ``timeout`` and ``metadata`` on every call."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner | None, *, default_timeout: float) -> None:
        self.channel = channel
        self.signer = signer
        self.default_timeout = default_timeout
        self._closed = False

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
        if self._closed:
            raise LianfangRpcError(grpc.StatusCode.CANCELLED, "the client is closed")
        if metadata:
            check_metadata(metadata)
        signer = signer or self.signer
        budget = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        attempts = replica_count(self.channel) if idempotent else 1
        for attempt in range(1, attempts + 1):
            md: list[tuple[str, str]] = list(metadata or ())
            if signer is not None:
                md.extend(signer.metadata())
            remaining = deadline - time.monotonic() if attempt > 1 else budget
            if remaining <= 0:  # gRPC would take a timeout of 0 for none at all
                raise LianfangRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "no time left before the call's deadline")
            try:
                return await method(request, timeout=remaining, metadata=md)
            except grpc.aio.UsageError:  # another client on the channel (``as_role``) closed it
                raise LianfangRpcError(grpc.StatusCode.CANCELLED, "the client's channel is closed") from None
            except grpc.aio.AioRpcError as error:
                retry = error.code() == grpc.StatusCode.UNAVAILABLE and attempt < attempts
                if not retry or deadline - time.monotonic() < _MIN_ATTEMPT_SECONDS:
                    raise LianfangRpcError.from_rpc_error(error) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def deadline(self, timeout: float | None) -> float:
        """When a call given ``timeout`` (None: the client's default) must be over, on
        ``time.monotonic()``: a method made of several RPCs gives each what is left of it
        (``time_left``), so ``timeout`` bounds the whole method."""
        return time.monotonic() + (self.default_timeout if timeout is None else timeout)

    @staticmethod
    def time_left(deadline: float) -> float:
        return max(deadline - time.monotonic(), 0.0)

    async def close(self) -> None:
        self._closed = True
        await self.channel.close()

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """``async with HubClient(...) as hub:`` closes the channel on the way out."""
        await self.close()
