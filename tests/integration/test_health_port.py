"""The plaintext health-only port (``health_listen``) of a real hub and node: it answers
grpc.health.v1 as the TLS port does, and nothing else — no API method is reachable on it."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.demo.consortium import start_local_consortium
from runtime.logs import configure_logging
from tests.support.redis_process import free_port

API = {"hub": "/lianfang.v1.ConsortiumService/Check", "node": "/lianfang.v1.OriginationService/Screen"}


async def test_health_port_reports_health_and_serves_no_api(tmp_path: Path) -> None:
    plain = {"health_listen": "127.0.0.1:0"}
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        c = await start_local_consortium(tmp_path, ["lender-a"], hub_options=plain, node_options=plain)
    finally:
        logging.getLogger("lianfang").handlers.clear()
    try:
        ports = {"hub": c.hub.health_port, "node": c.members["lender-a"].node.health_port}
        assert all(ports.values()) and c.hub.health_port != c.hub.port
        started = {line["msg"]: line for line in map(json.loads, stream.getvalue().splitlines())}
        assert started["hub serving"]["health_port"] == ports["hub"]  # a port chosen by ":0" is told
        assert started["node serving"]["health_port"] == ports["node"]
        for name, port in ports.items():
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
                api = API[name]
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await channel.unary_unary(api)(b"", timeout=5)
                assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
        await c.hub.health.enter_graceful_shutdown()  # the shared servicer: the plaintext port follows
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['hub']}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await c.stop()


@pytest.mark.parametrize("setting", ["health_listen", "metrics_listen"])
def test_a_hub_whose_side_port_is_taken_exits_at_once_and_says_why(tmp_path: Path, setting: str) -> None:
    """``lianfang hub serve`` with its health or metrics port in use: a configuration error naming
    the address, exit 2, no traceback, and nothing left listening (it used to hang, serving)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        main_port = free_port()
        env = {
            **os.environ,
            "LIANFANG_HUB_STORE": f"sqlite:///{tmp_path / 'hub.db'}",
            f"LIANFANG_HUB_{setting.upper()}": taken,
        }
        command = [
            sys.executable,
            "-m",
            "clients.cli.main",
            "hub",
            "serve",
            "--plaintext",
            "--listen",
            f"127.0.0.1:{main_port}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and taken in done.stderr and "Traceback" not in done.stderr
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", main_port))
    assert not list(tmp_path.glob("hub.db*"))  # found before the store was opened
