"""Server interceptors shared by hub and node.

``ErrorAndLogInterceptor`` is outermost: it gives every call a request id, maps sentinel
errors (runtime.errors) to gRPC statuses with google.rpc details, hides unexpected exceptions
behind INTERNAL, and writes one JSON log line per RPC. Inner interceptors (authentication)
raise sentinel errors and record the principal on the call's ``CallInfo``.

Server-streaming methods are wrapped too (``stream_wrapper``): authentication runs before the
first message, and a stream is logged once, when it ends. An interceptor that wraps a method
but has no stream wrapper for it refuses the call (fail closed).
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from runtime.errors import InvalidArgument, LianfangError, PermissionDenied, ResourceExhausted
from runtime.handler_cache import HandlerCache
from runtime.logs import RPC_LOGGER, log_rpc, monotonic_ms

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


@dataclass
class CallInfo:
    """Per-call facts that interceptors and handlers share (no request payloads)."""

    method: str
    request_id: str
    principal: str = ""
    role: str = ""  # the caller's role on a node API (empty at the hub)


CURRENT_CALL: contextvars.ContextVar[CallInfo] = contextvars.ContextVar("lianfang_call")


def current_call() -> CallInfo:
    return CURRENT_CALL.get()


def bearer_token(context: grpc.aio.ServicerContext) -> str | None:
    """The token of an ``authorization: Bearer …`` header, or None."""
    header = metadata_value(context, "authorization") or ""
    return header[7:] if header[:7].lower() == "bearer " else None


def certificate_subject(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the verified client certificate (mutual TLS), if there is one."""
    names = context.auth_context().get("x509_common_name")
    return names[0].decode() if names else None


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


_DIGIT_RUN = re.compile(r"\d{11}")  # a phone, an ID or a card among hex digits: not opaque
_OPAQUE_ID = re.compile(r"[0-9a-f]{16,32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def request_id(context: grpc.aio.ServicerContext) -> str:
    """The caller's ``x-request-id`` when it is an opaque id (16-32 hex digits, or a UUID, with
    no 11 decimal digits in a row), else a new one. The id goes into every log line of the call and
    into INTERNAL errors, and logs never carry a raw identifier: a free-form caller id could
    be ``apply-<resident ID>`` and an all-digit one a card or phone number."""
    given = metadata_value(context, "x-request-id")
    if given is not None:
        given = given.lower()
        if _OPAQUE_ID.fullmatch(given) and not _DIGIT_RUN.search(given):
            return given
    return uuid.uuid4().hex[:16]


MAX_MESSAGE_BYTES = 700
"""UTF-8 bytes of an error message that travel. The message and the field violations go in
trailing metadata, which grpc caps (8 KiB by default), the message percent-encoded (a Chinese
character takes 9 bytes there), and a message may quote what the caller sent (a 20,000-character
id): past the cap the caller got RESOURCE_EXHAUSTED instead of the error."""

DETAILS_BUDGET = 2_000
"""UTF-8 bytes of field violations that travel (base64 in the trailers), the first ones first:
the rest of a batch full of bad entries would not fit."""


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes on a character boundary, with an ellipsis if cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def _violations(error: InvalidArgument) -> list[error_details_pb2.BadRequest.FieldViolation]:
    kept: list[error_details_pb2.BadRequest.FieldViolation] = []
    budget = DETAILS_BUDGET
    for v in error.violations:
        field, description = _short(v.field, 200), _short(v.description, 400)
        budget -= len(field.encode()) + len(description.encode()) + 8
        if budget < 0 and kept:
            break
        kept.append(error_details_pb2.BadRequest.FieldViolation(field=field, description=description))
    return kept


def rich_status(error: LianfangError) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """The (code, message, trailing metadata) for an error, with google.rpc details attached."""
    message = _short(error.message, MAX_MESSAGE_BYTES)
    status = status_pb2.Status(code=error.code.value[0], message=message)
    if isinstance(error, InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=_violations(error)))
        status.details.append(detail)
    if isinstance(error, ResourceExhausted):
        retry = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(max(error.retry_after, 0.0) * 1e9))
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(retry)
    return error.code, message, (("grpc-status-details-bin", status.SerializeToString()),)


Wrapper = Callable[[Behavior], Behavior]
StreamWrapper = Callable[[StreamBehavior], StreamBehavior]

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
"""Methods anyone may call (health, reflection). Every other method a server serves must be in
its authorisation table; one missing from it is refused (``refuse_unlisted``), not left open."""


def refuse_unlisted(behavior: Behavior) -> Behavior:
    """The wrapper of a method missing from the authorisation table: a bug, refused (fail closed)."""

    async def refused(request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise PermissionDenied("this method is not in the authorisation table")

    return refused


class UnaryWrappingInterceptor(grpc.aio.ServerInterceptor):
    """Base of our interceptors: each wraps the behaviour of unary-unary handlers.

    Subclasses return, per method, a wrapper of the handler's behaviour (or None to leave the
    method alone); the handler is rebuilt around it with the same (de)serialisers.
    """

    @abc.abstractmethod
    def wrapper(self, method: str) -> Wrapper | None:
        """The wrapper for ``method`` ("/package.Service/Method"), or None."""

    def stream_wrapper(self, method: str) -> StreamWrapper | None:
        """The wrapper of a server-streaming ``method`` that ``wrapper`` wraps; None refuses it."""
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        return self._handler_cache.get(method, handler, lambda h: self._wrap(method, h))

    @property
    def _handler_cache(self) -> HandlerCache:
        """Made on first use, so that subclasses need not call ``__init__``."""
        cache = self.__dict__.get("_handlers")
        if cache is None:
            cache = self.__dict__["_handlers"] = HandlerCache()
        return cache  # type: ignore[no-any-return]

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        around = self.wrapper(method)
        if around is None:
            return handler
        if handler.unary_stream is not None:
            around_stream = self.stream_wrapper(method)
            if around_stream is None:  # fail closed rather than let it through unchecked
                return _refused_stream(handler)
            return grpc.unary_stream_rpc_method_handler(
                around_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_unary is None:  # a client-streaming method no interceptor can wrap yet:
            return _refused_stream(handler)  # fail closed rather than let it through unchecked
        return grpc.unary_unary_rpc_method_handler(
            around(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _refused_stream(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler that refuses the call: streaming methods need interceptor support first."""

    async def refuse(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "streaming methods are not served yet")

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this streaming method is not served")
        yield  # pragma: no cover  (makes this an async generator, as outer stream wrappers expect)

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            refuse_stream, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)


class ErrorAndLogInterceptor(UnaryWrappingInterceptor):
    """Every call's request id, its sentinel errors mapped to gRPC statuses (internals never
    leak), and one JSON log line when it ends."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(RPC_LOGGER)

    def wrapper(self, method: str) -> Wrapper | None:
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return None

        def around(behavior: Behavior) -> Behavior:
            async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
                start = time.perf_counter()
                call = CallInfo(method, request_id(context))
                CURRENT_CALL.set(call)
                code = grpc.StatusCode.OK
                try:
                    return await behavior(request, context)
                except Exception as error:
                    failed = self._failed(error, context, call)
                    if failed is None:
                        code = context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[assignment]
                        raise  # the handler aborted the call itself
                    code = failed
                    await self._abort(error, failed, context, call)
                finally:
                    log_rpc(
                        self.logger,
                        method=method,
                        code=_code_name(code),
                        duration_ms=monotonic_ms(start),
                        member=call.principal,
                        request_id=call.request_id,
                    )

            return observed

        return around

    def _failed(self, error: Exception, context: grpc.aio.ServicerContext, call: CallInfo) -> grpc.StatusCode | None:
        """The status a call that raised ``error`` ends with: a sentinel error's own, INTERNAL for
        anything else (logged with its traceback and the request id); None when the handler
        aborted the call itself (its status stands)."""
        if isinstance(error, LianfangError):
            return error.code
        if _is_abort(error):
            return None
        self.logger.exception("unhandled error", extra={"fields": {"request_id": call.request_id}})
        return grpc.StatusCode.INTERNAL

    @staticmethod
    async def _abort(
        error: Exception, code: grpc.StatusCode, context: grpc.aio.ServicerContext, call: CallInfo
    ) -> None:
        """Ends the call with ``code``: a sentinel error with its rich details, anything else with
        the request id only (internals never reach the caller)."""
        if isinstance(error, LianfangError):
            await context.abort(*rich_status(error))
        await context.abort(code, f"internal error (request id {call.request_id})")

    def stream_wrapper(self, method: str) -> StreamWrapper | None:
        def around(behavior: StreamBehavior) -> StreamBehavior:
            async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                start = time.perf_counter()
                call = CallInfo(method, request_id(context))
                CURRENT_CALL.set(call)
                code: Any = grpc.StatusCode.OK
                sent = 0
                try:
                    async for message in behavior(request, context):
                        yield message
                        sent += 1
                except (asyncio.CancelledError, GeneratorExit):
                    code = grpc.StatusCode.CANCELLED  # the client went away: the usual end of a stream
                    raise
                except Exception as error:
                    failed = self._failed(error, context, call)
                    if failed is None:
                        code = context.code() or grpc.StatusCode.UNKNOWN
                        raise  # the handler aborted the call itself
                    code = failed
                    await self._abort(error, failed, context, call)
                finally:
                    log_rpc(
                        self.logger,
                        method=method,
                        code=_code_name(code),
                        duration_ms=monotonic_ms(start),
                        member=call.principal,
                        request_id=call.request_id,
                        messages=sent,
                    )

            return observed

        return around


def _is_abort(error: BaseException) -> bool:
    return type(error).__name__ in {"AbortError", "_AbortError"} or isinstance(error, grpc.aio.AbortError)


def _code_name(code: Any) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else str(code)
