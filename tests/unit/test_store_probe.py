"""The hub's store probe keeps grpc.health.v1 truthful whatever the store client raises: an
error it did not expect (a Redis Cluster client's own, once every node is down) used to end the
probe task silently, and the hub reported SERVING until it was restarted."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health, health_pb2

from consortium.server import _probe_store


class _FlakyStore:
    """A store whose ping fails with an error no store role documents, then recovers."""

    def __init__(self) -> None:
        self.failing = True

    async def ping(self) -> None:
        if self.failing:
            raise RuntimeError("a client library's own error")


async def _status(servicer: health.aio.HealthServicer) -> int:
    reply = await servicer.Check(health_pb2.HealthCheckRequest(service=""), None)  # type: ignore[arg-type]
    return int(reply.status)


def test_an_unexpected_store_error_is_not_serving_and_the_probe_lives_on() -> None:
    async def main() -> None:
        store, servicer = _FlakyStore(), health.aio.HealthServicer()
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        probe = asyncio.create_task(_probe_store(store, servicer, 0.01))  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(5):
                while await _status(servicer) != health_pb2.HealthCheckResponse.NOT_SERVING:
                    await asyncio.sleep(0.01)
                store.failing = False
                while await _status(servicer) != health_pb2.HealthCheckResponse.SERVING:
                    await asyncio.sleep(0.01)
            assert not probe.done()
        finally:
            probe.cancel()

    asyncio.run(main())
