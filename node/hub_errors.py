"""What a node's caller sees when the consortium hub refuses or cannot answer a call the node
made on its behalf: the hub's own status where it means something to the caller (its field
violations, a quota with its retry delay, a refused precondition, something it does not know),
else UNAVAILABLE. Never
INTERNAL: the node did nothing wrong."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from clients.errors import LianfangRpcError
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
