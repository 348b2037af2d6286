"""Client-side round robin over several hub replicas that share one store.

Hub processes are stateless beyond their store (each folds the same consortium log), so any
replica answers any call the same. :class:`ReplicaChannel` looks like one ``grpc.aio`` channel to
a generated stub: every call goes to the next replica in turn, skipping one that just answered
UNAVAILABLE (its connection refused or reset: a killed or draining hub) for ``cool_down`` seconds.
The retry itself is :class:`clients.rpc.RpcClient`'s, for idempotent calls only and with a fresh
JWT per attempt (contribute tokens are single-use): a Check that died with its hub is sent again
to the next one, and the hub's idempotency on (member, application_ref) makes that safe.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc

from runtime.contract_limits import STREAM_TOKEN_EXPIRED

DEFAULT_COOL_DOWN = 2.0
"""Seconds a replica that answered UNAVAILABLE is passed over (unless every replica is)."""


class _Rotation:
    """Which replica is next, and which are cooling down after a failure."""

    def __init__(self, size: int, cool_down: float, clock: Callable[[], float]) -> None:
        self._order = itertools.cycle(range(size))
        self._size = size
        self._down_until = [0.0] * size
        self._cool_down = cool_down
        self._clock = clock

    def pick(self) -> int:
        now = self._clock()
        first = next(self._order)
        candidate = first
        for _ in range(self._size):
            if self._down_until[candidate] <= now:
                return candidate
            candidate = next(self._order)
        return first  # every replica is cooling down: try the next one anyway

    def failed(self, index: int) -> None:
        self._down_until[index] = self._clock() + self._cool_down

    def healthy(self, index: int) -> None:
        self._down_until[index] = 0.0


class _UnaryUnary:
    def __init__(self, calls: Sequence[Any], rotation: _Rotation) -> None:
        self._calls, self._rotation = calls, rotation

    async def __call__(self, request: Any, **kwargs: Any) -> Any:
        index = self._rotation.pick()
        try:
            response = await self._calls[index](request, **kwargs)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                self._rotation.failed(index)
            raise
        self._rotation.healthy(index)
        return response


class _UnaryStream:
    """A server stream stays on the replica it started on; a reconnect picks the next one."""

    def __init__(self, calls: Sequence[Any], rotation: _Rotation) -> None:
        self._calls, self._rotation = calls, rotation

    def __call__(self, request: Any, **kwargs: Any) -> _StreamCall:
        index = self._rotation.pick()
        return _StreamCall(self._calls[index](request, **kwargs), self._rotation, index)


class _StreamCall:
    """The replica's stream call as callers use it (iterate, ``cancel``), noting an UNAVAILABLE."""

    def __init__(self, call: Any, rotation: _Rotation, index: int) -> None:
        self._call, self._rotation, self._index = call, rotation, index

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._observed()

    async def _observed(self) -> AsyncIterator[Any]:
        try:
            async for item in self._call:
                yield item
        except grpc.aio.AioRpcError as error:
            # a stream the hub ended because its token expired is routine: the replica is fine
            if error.code() == grpc.StatusCode.UNAVAILABLE and error.details() != STREAM_TOKEN_EXPIRED:
                self._rotation.failed(self._index)
            raise

    def cancel(self) -> bool:
        return bool(self._call.cancel())


class ReplicaChannel:
    """Several channels, one per hub replica, used through one stub (round robin + cool-down)."""

    def __init__(
        self,
        channels: Sequence[grpc.aio.Channel],
        *,
        cool_down: float = DEFAULT_COOL_DOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not channels:
            raise ValueError("at least one replica channel is required")
        self.channels = list(channels)
        self._rotation = _Rotation(len(self.channels), cool_down, clock)

    @property
    def replicas(self) -> int:
        return len(self.channels)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> _UnaryUnary:
        return _UnaryUnary([c.unary_unary(method, *args, **kwargs) for c in self.channels], self._rotation)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> _UnaryStream:
        return _UnaryStream([c.unary_stream(method, *args, **kwargs) for c in self.channels], self._rotation)

    async def close(self, grace: float | None = None) -> None:
        for channel in self.channels:
            await channel.close(grace)


def replica_count(channel: object) -> int:
    """How many replicas a channel reaches (1 for a plain grpc.aio channel)."""
    return channel.replicas if isinstance(channel, ReplicaChannel) else 1
