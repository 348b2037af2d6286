"""How our servers take calls (over TLS, as deployed): every method through its service's
generic handler, so grpc.aio's accept loop waits on one pending future per call instead of one
per registered method."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lianfang.v1 import consortium_pb2, consortium_pb2_grpc

from clients.channel import open_channel
from runtime.server import create_server
from runtime.tls import DevCertificateAuthority, TlsConfig


class KeyEpochsOnly(consortium_pb2_grpc.ConsortiumServiceServicer):  # type: ignore[misc]
    async def GetMyKeyEpochs(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return consortium_pb2.GetMyKeyEpochsResponse()


async def test_calls_are_accepted_on_one_pending_future_and_every_service_still_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = DevCertificateAuthority(tmp_path / "certs")
    cert = ca.issue("hub")
    waited: list[int] = []
    real_wait: Callable[..., Awaitable[Any]] = asyncio.wait

    async def counting_wait(fs: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        fs = list(fs)
        waited.append(len(fs))
        return await real_wait(fs, *args, **kwargs)

    monkeypatch.setattr(asyncio, "wait", counting_wait)  # grpc.aio's accept loop looks it up per call
    add = consortium_pb2_grpc.add_ConsortiumServiceServicer_to_server
    service = (add, KeyEpochsOnly(), "lianfang.v1.ConsortiumService")
    server, port, _ = await create_server("127.0.0.1:0", [service], tls=TlsConfig(cert.cert_file, cert.key_file))
    try:
        async with open_channel(f"localhost:{port}", ca_file=ca.ca_file) as channel:
            for _ in range(3):
                await consortium_pb2_grpc.ConsortiumServiceStub(channel).GetMyKeyEpochs(
                    consortium_pb2.GetMyKeyEpochsRequest(), timeout=5
                )
                health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(None)
    assert waited and max(waited) == 1  # registered methods would add one each (18 here)
