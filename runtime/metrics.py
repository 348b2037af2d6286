"""Prometheus metrics of one server process, served on their own HTTP port.

Every server (hub or node) owns a ``CollectorRegistry``, so several servers in one process (the
demo, the tests) keep apart. ``RpcMetrics`` counts every call with the names and labels of
go-grpc-prometheus, which dashboards and alerts already know:

* ``grpc_server_started_total{grpc_type,grpc_service,grpc_method}``
* ``grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}``
* ``grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}`` (histogram)

``MetricsInterceptor`` is the outermost interceptor, so it sees the final status of every call,
including those refused by authentication or validation. ``MetricsEndpoint`` serves the
registry at ``http://<metrics_listen>/metrics``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from runtime.config import ConfigError
from runtime.handler_cache import HandlerCache

# Buckets for an RPC: from a cached Check (sub-millisecond) to a slow graph export.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RpcMetrics:
    """The standard per-RPC counters and latency histogram, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started_total", "RPCs started on the server.", labels, registry=registry)
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, in seconds.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def interceptor(self) -> MetricsInterceptor:
        return MetricsInterceptor(self)

    def handled_of(self, labels: tuple[str, ...]) -> Callable[[str], Any]:
        """``handled.labels(*labels, code)`` with one lookup per code (this runs on every RPC)."""
        children: dict[str, Any] = {}

        def child(code: str) -> Any:
            found = children.get(code)
            if found is None:
                found = children[code] = self.handled.labels(*labels, code)
            return found

        return child


def split_method(method: str) -> tuple[str, str]:
    """ "/lianfang.v1.ConsortiumService/Check" → ("lianfang.v1.ConsortiumService", "Check")."""
    service, _, name = method.lstrip("/").partition("/")
    return service, name


def _status_name(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):  # grpc.aio may report the raw number
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    if error is None:
        return "OK"
    return "CANCELLED" if isinstance(error, BaseException) and type(error).__name__ == "CancelledError" else "UNKNOWN"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times unary and server-streaming calls; other handlers pass unchanged."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self.metrics = metrics
        self._handlers = HandlerCache()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return self._handlers.get(handler_call_details.method, handler, lambda h: self._wrap(handler_call_details, h))

    def _wrap(
        self, handler_call_details: grpc.HandlerCallDetails, handler: grpc.RpcMethodHandler
    ) -> grpc.RpcMethodHandler:
        service, method = split_method(handler_call_details.method)
        m = self.metrics
        if handler.unary_unary is not None:
            unary = handler.unary_unary
            labels = ("unary", service, method)
            started, handling, handled = m.started.labels(*labels), m.handling.labels(*labels), m.handled_of(labels)

            async def counted(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started.inc()
                start, error = time.perf_counter(), None
                try:
                    return await unary(request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    handled(_status_name(context, error)).inc()
                    handling.observe(time.perf_counter() - start)

            return grpc.unary_unary_rpc_method_handler(
                counted, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream
            stream_labels = ("server_stream", service, method)

            async def counted_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                m.started.labels(*stream_labels).inc()
                start, error = time.perf_counter(), None
                try:
                    result = streaming(request, context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            yield item
                    else:  # a handler that writes with context.write and returns
                        await result
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    m.handled.labels(*stream_labels, _status_name(context, error)).inc()
                    m.handling.labels(*stream_labels).observe(time.perf_counter() - start)

            return grpc.unary_stream_rpc_method_handler(
                counted_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler


@dataclass
class MetricsEndpoint:
    """The HTTP server that exposes a registry to Prometheus (a daemon thread)."""

    server: WSGIServer
    port: int

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(address: str, registry: CollectorRegistry) -> MetricsEndpoint:
    """Serves ``registry`` on ``address`` ("host:port"; port 0 picks a free one)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"metrics_listen: expected host:port, got {address!r}")
    try:
        server, _thread = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=registry)
    except OSError as error:
        raise ConfigError(f"metrics_listen: cannot listen on {address!r} ({error.strerror or error})") from None
    return MetricsEndpoint(server, int(server.server_port))
