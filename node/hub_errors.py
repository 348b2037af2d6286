"""What a hub error means to the node.

To the node's caller (``hub_error``): the hub's own status where it means something to the
caller (its field violations, a quota with its retry delay, a refused precondition, something it
does not know), else UNAVAILABLE. Never INTERNAL: the node did nothing wrong.

To the node's retries (``is_transient``): worth sending again are the hub unreachable or slow
(UNAVAILABLE, DEADLINE_EXCEEDED, our own timeout, the circuit open), a quota or rate limit
(RESOURCE_EXHAUSTED — after its RetryInfo delay), ABORTED, and INTERNAL/UNKNOWN (a hub-side
blip; an outbox row stays visible in the queue with its error). Everything else —
INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED… — is the
hub's considered refusal: resending the same bytes cannot succeed, so an outbox row is
dead-lettered for a person to look at (except an outcome refused with NOT_FOUND after a person
discarded its application's Check: settled, ``node.outbox.queue``).

To the circuit breaker (``is_outage``): only outages (UNAVAILABLE, deadlines) count; any other
answer proves the hub is there. The OPRF key service (asked before the hub, for a Check queued
without tokens) is judged by the same codes and never counts against the hub's circuit; its
refusals and a proof that does not verify are permanent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from clients.circuit import CircuitOpen
from clients.errors import LianfangRpcError
from node.identity.oprf_tokens import KeyServiceUnavailable
from runtime.contract_limits import STALE_KEY_EPOCHS
from runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    LianfangError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
TRANSIENT = OUTAGE | {
    grpc.StatusCode.CANCELLED,  # e.g. the channel closing as the node stops: nobody refused it
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


def is_outage(error: BaseException) -> bool:
    """The hub did not answer (counts against the circuit breaker)."""
    if isinstance(error, LianfangRpcError):
        return error.code in OUTAGE
    return isinstance(error, TimeoutError | CircuitOpen)


def is_transient(error: BaseException) -> bool:
    """Worth sending again later."""
    if isinstance(error, LianfangRpcError):
        return error.code in TRANSIENT
    if isinstance(error, KeyServiceUnavailable):
        return error.key_service_code in TRANSIENT
    return isinstance(error, TimeoutError | CircuitOpen)


def describe(error: BaseException) -> str:
    """``CODE: message`` for the row's ``last_error`` and the logs (never a request body)."""
    if isinstance(error, LianfangRpcError):
        return f"{error.code.name}: {error.message}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


def hub_error(error: LianfangRpcError) -> LianfangError:
    """The node's answer for a hub error."""
    code = error.code
    if code == grpc.StatusCode.INVALID_ARGUMENT and error.violations:
        return InvalidArgument([FieldViolation(v.field, v.description) for v in error.violations], error.message)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded("consortium hub did not answer within the deadline")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(f"consortium hub refused this member: {error.message}")
    if code == grpc.StatusCode.NOT_FOUND:  # e.g. a marker id the hub does not know
        return NotFound(f"consortium hub: {error.message}")
    if code == grpc.StatusCode.FAILED_PRECONDITION:  # e.g. the borrower's authorisation expired
        return FailedPrecondition(f"consortium hub: {error.message}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:  # this member's quota or rate limit at the hub
        return ResourceExhausted(f"consortium hub: {error.message}", retry_after=error.retry_after or 1.0)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Unavailable("consortium hub refused this node's member credentials (UNAUTHENTICATED)")
    return Unavailable(f"consortium hub unavailable ({code.name})")


def refused_for_stale_keys(error: LianfangRpcError) -> bool:
    """The hub's refusal of a Check whose tokens are all of retired key epochs (or of OPRF
    epochs it was re-keyed out of): the node's keys, or a queued Check's tokens, are out of date."""
    return error.code == grpc.StatusCode.INVALID_ARGUMENT and any(
        v.field.endswith("tokens") and v.description.startswith(STALE_KEY_EPOCHS) for v in error.violations
    )


@contextmanager
def answered_by_hub() -> Iterator[None]:
    """Hub calls inside the block fail with the node's answer for them (``hub_error``)."""
    try:
        yield
    except LianfangRpcError as error:
        raise hub_error(error) from error
