"""Operational behaviour of a hub process: health, reflection, store outage, logs, SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clients.channel import open_channel
from clients.demo.consortium import start_local_consortium
from clients.errors import LianfangRpcError
from consortium.config import HubConfig
from consortium.server import YOUNG_GC_THRESHOLD, start_hub, tune_gc_for_a_large_heap
from runtime.logs import configure_logging
from runtime.server import LIVENESS
from runtime.tls import DevCertificateAuthority
from tests.support.consortium import check_request, phone
from tests.support.redis_process import RedisProcess, free_port


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return int(response.status)


async def test_health_and_reflection(tmp_path: Path) -> None:
    c = await start_local_consortium(tmp_path, ["lender-a"])
    try:
        channel = c.hub_channel("lender-a")  # mutual TLS: even health needs a client certificate
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert await _health(channel, "lianfang.v1.ConsortiumService") == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = set()
        async for response in responses:
            names = {s.name for s in response.list_services_response.service}
            break
        assert {"lianfang.v1.ConsortiumService", "lianfang.v1.AdminService", "grpc.health.v1.Health"} <= names
        await channel.close()
    finally:
        await c.stop()


async def _hub_probing_redis(tmp_path: Path) -> tuple[RedisProcess, Any, grpc.aio.Channel]:
    """A real Redis, a TLS hub on it probing its store every 0.1 s, and a channel to the hub."""
    ca = DevCertificateAuthority(tmp_path / "certs")
    cert = ca.issue("hub")
    redis = RedisProcess(tmp_path / "redis").start()
    config = HubConfig(
        listen="127.0.0.1:0", store=redis.url, tls_cert=cert.cert_file, tls_key=cert.key_file, store_probe_seconds=0.1
    )
    hub = await start_hub(config)
    return redis, hub, open_channel(f"localhost:{hub.port}", ca_file=ca.ca_file)


async def test_not_serving_while_redis_is_down(tmp_path: Path) -> None:
    redis, hub, channel = await _hub_probing_redis(tmp_path)
    try:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        redis.kill()
        deadline = time.monotonic() + 10
        while await _health(channel) != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() < deadline, "health never turned NOT_SERVING"
            await asyncio.sleep(0.05)
        # not ready, but alive: a liveness probe must not restart the hub for a store outage
        assert await _health(channel, LIVENESS) == health_pb2.HealthCheckResponse.SERVING
        redis.start()
        while await _health(channel) != health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() < deadline + 10, "health never recovered"
            await asyncio.sleep(0.05)
    finally:
        await channel.close()
        await hub.stop(0)
        redis.stop()


async def test_not_serving_while_redis_refuses_writes(tmp_path: Path) -> None:
    """Redis at maxmemory (noeviction) or short of min-replicas-to-write answers PING but refuses
    every Check's record: readiness turns NOT_SERVING, and SERVING again once writes are taken."""
    import redis as redis_client

    redis, hub, channel = await _hub_probing_redis(tmp_path)
    admin = redis_client.Redis.from_url(redis.url)

    async def becomes(wanted: int) -> None:
        async with asyncio.timeout(10):
            while await _health(channel) != wanted:
                await asyncio.sleep(0.05)

    try:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)
        await becomes(health_pb2.HealthCheckResponse.NOT_SERVING)
        assert await _health(channel, LIVENESS) == health_pb2.HealthCheckResponse.SERVING
        admin.config_set("maxmemory", 0)
        await becomes(health_pb2.HealthCheckResponse.SERVING)
        admin.config_set("min-replicas-to-write", 1)  # no replica attached: NOREPLICAS
        await becomes(health_pb2.HealthCheckResponse.NOT_SERVING)
        admin.config_set("min-replicas-to-write", 0)
        await becomes(health_pb2.HealthCheckResponse.SERVING)
    finally:
        admin.close()
        await channel.close()
        await hub.stop(0)
        redis.stop()


async def test_check_with_store_down_is_unavailable(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path / "redis").start()
    c = await start_local_consortium(tmp_path / "c", ["lender-a"], store_url=redis.url)
    try:
        a = c.members["lender-a"].hub_client
        await a.check_request(check_request("a-1", phone(1)))
        redis.kill()
        with pytest.raises(LianfangRpcError) as err:
            await a.check_request(check_request("a-2", phone(1)))
        assert err.value.code == grpc.StatusCode.UNAVAILABLE
        assert "127.0.0.1" not in err.value.message  # internals do not leak to callers
    finally:
        await c.stop()
        redis.stop()


async def test_one_json_log_line_per_rpc(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        c = await start_local_consortium(tmp_path, ["lender-a"])
        try:
            a = c.members["lender-a"].hub_client
            await a.check_request(check_request("a-1", phone(1)))
            with pytest.raises(LianfangRpcError):
                await a.check_request(check_request("", phone(1)))
            for i, given in enumerate(GIVEN_REQUEST_IDS):
                await a.check_request(check_request(f"a-id-{i}", phone(1)), metadata=[("x-request-id", given)])
        finally:
            await c.stop()
    finally:
        logging.getLogger("lianfang").handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [serving] = [entry for entry in lines if entry["msg"] == "hub serving"]
    assert serving["store_location"] == str(tmp_path / "hub.db")  # absolute: where the consortium lives
    rpcs = [entry for entry in lines if entry["msg"] == "rpc" and entry["method"].endswith("/Check")]
    assert [(r["code"], r["member"]) for r in rpcs[:2]] == [("OK", "lender-a"), ("INVALID_ARGUMENT", "lender-a")]
    for r in rpcs:
        assert r["duration_ms"] >= 0 and r["request_id"]
    # A caller's request id is logged only when opaque: free text could carry an identifier.
    logged = [r["request_id"] for r in rpcs[2:]]
    kept = {given.lower() for given, opaque in GIVEN_REQUEST_IDS.items() if opaque}
    assert [x in kept for x in logged] == list(GIVEN_REQUEST_IDS.values())
    assert not any(digits in stream.getvalue() for digits in ("310115197805120312", "13800138000", "203.0.113.77"))


GIVEN_REQUEST_IDS = {  # a caller's x-request-id -> logged as given (else replaced by a fresh id)
    "9F2C4E1A-07B3-4D5E-8A6F-1B2C3D4E5F60": True,
    "0123456789abcdef": True,
    "apply-310115197805120312": False,
    "13800138000138000": False,
    "a15895472306000000": False,  # a phone number among hex digits
    "203.0.113.77": False,
    "a" * 33: False,
}


def test_hub_serve_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LIANFANG_HUB_STORE": f"sqlite:///{tmp_path / 'hub.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "clients.cli.main", "hub", "serve", "--plaintext", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                    status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "hub did not come up"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        log = proc.stderr.read() if proc.stderr else ""
        assert '"msg":"shutting down"' in log
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_a_streaming_method_is_refused_not_served_unchecked(tmp_path: Path) -> None:
    """A server stream missing from the authorisation table is refused before its first message;
    an interceptor that wraps a method but cannot wrap its stream refuses it (fail closed)."""
    from consortium.auth import Authenticator, AuthInterceptor
    from consortium.store.sqlite import SqliteStore, SqliteStoreConfig
    from runtime.interceptors import UnaryWrappingInterceptor, Wrapper
    from runtime.server import create_server

    class UnaryOnly(UnaryWrappingInterceptor):
        def wrapper(self, method: str) -> Wrapper | None:
            return lambda behavior: behavior

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        yield b"secret"

    def add(servicer: object, server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "lianfang.v1.Sneaky", {"Stream": grpc.unary_stream_rpc_method_handler(stream)}
        )
        server.add_generic_rpc_handlers((handler,))

    store = SqliteStore(SqliteStoreConfig(path=str(tmp_path / "h.db")))
    for interceptor, expected in (
        (AuthInterceptor(Authenticator(store, {})), grpc.StatusCode.PERMISSION_DENIED),
        (UnaryOnly(), grpc.StatusCode.UNIMPLEMENTED),
    ):
        server, port, _ = await create_server(
            "127.0.0.1:0", [(add, None, "lianfang.v1.Sneaky")], tls=None, interceptors=[interceptor]
        )
        try:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            call = channel.unary_stream(
                "/lianfang.v1.Sneaky/Stream", request_serializer=bytes, response_deserializer=bytes
            )
            got = []
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for message in call(b"", timeout=5):
                    got.append(message)
            assert err.value.code() == expected and got == []
            await channel.close()
        finally:
            await server.stop(0)
    await store.close()


async def test_interceptors_wrap_each_method_once_not_on_every_call() -> None:
    """grpc.aio asks every interceptor for the handler on every RPC; ours build the wrapped
    handler once per method (runtime.handler_cache) and every call still goes through it."""
    from runtime.interceptors import UnaryWrappingInterceptor, Wrapper
    from runtime.server import create_server

    built: list[str] = []
    seen: list[bytes] = []

    class Counting(UnaryWrappingInterceptor):
        def wrapper(self, method: str) -> Wrapper | None:
            built.append(method)

            def around(behavior: Any) -> Any:
                async def counted(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                    seen.append(request)
                    return bytes(await behavior(request, context))

                return counted

            return around

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    def add(servicer: object, server: grpc.aio.Server) -> None:
        methods = {name: grpc.unary_unary_rpc_method_handler(echo) for name in ("A", "B")}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("lianfang.v1.Echo", methods),))

    server, port, _ = await create_server(
        "127.0.0.1:0", [(add, None, "lianfang.v1.Echo")], tls=None, interceptors=[Counting()]
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            for name in ("A", "B", "A", "A", "B"):
                call = channel.unary_unary(
                    f"/lianfang.v1.Echo/{name}", request_serializer=bytes, response_deserializer=bytes
                )
                assert await call(name.encode(), timeout=5) == name.encode()
    finally:
        await server.stop(0)
    assert sorted(built) == ["/lianfang.v1.Echo/A", "/lianfang.v1.Echo/B"]
    assert seen == [b"A", b"B", b"A", b"A", b"B"]


def test_the_hub_collects_its_young_generation_often_enough_to_keep_pauses_short() -> None:
    before = gc.get_threshold()
    try:
        tune_gc_for_a_large_heap()
        assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD <= 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
