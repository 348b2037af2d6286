"""Assembling a grpc.aio server the same way for hub and node.

``create_server`` returns ``(server, port, health)``: TLS when configured, interceptors in one
order (outermost first: the RPC metrics when given, observability, the process's own such as
authentication, ``DecodeGuard`` innermost), standard health and reflection, and message-size
limits. ``serve`` runs it until SIGTERM/SIGINT and then calls the process's own graceful stop
(NOT_SERVING, drain, close).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from runtime.config import ConfigError
from runtime.decoding import DecodeGuard
from runtime.interceptors import ErrorAndLogInterceptor
from runtime.metrics import RpcMetrics
from runtime.tls import TlsConfig, server_credentials

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
Registration = tuple[Callable[[Any, grpc.aio.Server], None], Any, str]  # (add_fn, servicer, full name)

log = logging.getLogger("lianfang.server")

LIVENESS = "lianfang.liveness"
"""A health service name that stays SERVING while the process runs (until it drains): what a
liveness probe asks, whereas "" follows the store (readiness) — a Redis outage must take a hub out
of rotation, not get it restarted into a log replay."""


def _ignore_registered_methods(service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]) -> None:
    """See ``_dispatch_generically``."""


def _dispatch_generically(server: grpc.aio.Server) -> None:
    """Serves every method through its service's generic handler (a dict lookup), never as a
    *registered* method. Why: grpc.aio's accept loop keeps one pending future per registered
    method and runs ``asyncio.wait`` over all of them for every incoming call. The generated
    ``add_*_to_server`` functions (ours, health's, reflection's) register each method both ways,
    so on the hub that wait spans 44 futures (43 methods and the generic one): ~22-26 µs per call
    against ~6-9 µs for one (measured under uvloop). Dropping the registered half leaves the
    generic future alone; a registered handler only ever shadowed the identical generic one, so
    every method is still served (``tests/integration/test_server_dispatch.py``; the hostile-input
    test calls every method of every service)."""
    server.add_registered_method_handlers = _ignore_registered_methods  # type: ignore[method-assign]


async def create_server(
    address: str,
    services: Sequence[Registration],
    *,
    tls: TlsConfig | None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    metrics: RpcMetrics | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Builds and starts a server on ``address`` ("host:port", port 0 picks a free one).

    ``metrics``: count every call on its registry (runtime.metrics); the outermost interceptor."""
    counting = [metrics.interceptor()] if metrics is not None else []
    server = grpc.aio.server(
        interceptors=[*counting, ErrorAndLogInterceptor(), *interceptors, DecodeGuard()],  # DecodeGuard innermost
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    _dispatch_generically(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [name for _, _, name in services]
    for add, servicer, _ in services:
        add(servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = listen(server, address, server_credentials(tls) if tls else None)
    await server.start()
    for name in ["", *names, LIVENESS]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port, health_servicer


def listen(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """Binds ``address`` ("host:port"), TLS with ``credentials``; the port. A port in use or a
    malformed address is a ConfigError naming the address (grpc raises a bare RuntimeError)."""
    try:
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise ConfigError(f"cannot listen on {address!r}: the port is in use, or it is not a host:port")
    return port


def check_port_free(address: str) -> None:
    """A ConfigError, as ``listen`` would raise, when ``address``'s port is already taken: asked
    before a server opens its store, so a hub or node refused for its port leaves no new
    database behind. (Binding the server itself first would leave the port accepting
    connections that wait, unanswered, through a hub's log replay, instead of being refused so
    their clients try another replica.) A port of 0 or a host that does not resolve is left to
    ``listen``."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:  # "" too: an optional port left off
        return
    try:
        addresses = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError):
        return
    for family, kind, protocol, _, bound in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc binds: TIME_WAIT is no obstacle
            try:
                probe.bind(bound)
            except OSError as error:
                if error.errno in (errno.EADDRINUSE, errno.EACCES):
                    reason = "the port is in use" if error.errno == errno.EADDRINUSE else "binding it is not permitted"
                    raise ConfigError(f"cannot listen on {address!r}: {reason}") from None


async def serve(
    server: grpc.aio.Server,
    stop: Callable[[float], Awaitable[None]],
    *,
    grace_seconds: float = 5.0,
) -> None:
    """Serves until SIGTERM/SIGINT (or until ``server`` terminates), then shuts down through
    ``stop(grace_seconds)``: the running process's own stop (``RunningHub.stop``,
    ``RunningNode.stop``, ...), which reports NOT_SERVING, drains and closes what it opened, the
    one shutdown path for a process and for the tests that start one in-process."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    waiter = asyncio.ensure_future(server.wait_for_termination())
    stopper = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down", extra={"fields": {"grace_seconds": grace_seconds}})
    await stop(grace_seconds)
    stopper.cancel()
