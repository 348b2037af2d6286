"""Undecodable request bodies become INVALID_ARGUMENT, not UNKNOWN.

grpc fails a call whose bytes do not parse as the request message before any of our code runs,
with UNKNOWN and a stack trace in the server's log. ``DecodeGuard`` is the innermost interceptor:
it swaps the handler's deserializer for one that turns a parse failure into an ``Undecodable``
marker. Outer interceptors rebuild their handlers with the deserializer they are given, so the
marker passes through authentication (a caller learns nothing before it is authenticated) and
the guard answers it with a google.rpc.BadRequest naming the request message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from runtime.errors import InvalidArgument
from runtime.handler_cache import HandlerCache


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not parse."""

    reason: str


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, ValueError, UnicodeDecodeError) as error:
            return Undecodable(str(error) or type(error).__name__)

    return deserialize


class DecodeGuard(grpc.aio.ServerInterceptor):
    """Innermost interceptor of our (``/lianfang.``) unary and server-streaming methods; see the
    module docstring."""

    def __init__(self) -> None:
        self._handlers = HandlerCache()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith("/lianfang."):
            return handler
        return self._handlers.get(method, handler, lambda h: self._wrap(method, h))

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        message = method.rsplit("/", 1)[-1]

        def refuse(request: Undecodable) -> InvalidArgument:
            return InvalidArgument.one("(request)", f"not a valid {message} request: {request.reason}")

        if handler.unary_unary is not None:
            behavior = handler.unary_unary

            async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if isinstance(request, Undecodable):
                    raise refuse(request)
                return await behavior(request, context)

            return grpc.unary_unary_rpc_method_handler(
                guarded,
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream

            async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                if isinstance(request, Undecodable):
                    raise refuse(request)
                async for response in streaming(request, context):
                    yield response

            return grpc.unary_stream_rpc_method_handler(
                guarded_stream,
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler
