"""Sentinel errors raised by domain code, and their one mapping to gRPC status codes.

Domain and store code raise these; the error interceptor turns them into a gRPC status with
rich details. Anything else becomes INTERNAL with no internals leaked to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field, as in google.rpc.BadRequest.FieldViolation."""

    field: str
    description: str


class LianfangError(Exception):
    """Base of every error that is meant to reach the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(LianfangError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        summary = message or "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        super().__init__(summary)
        self.violations = violations

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(LianfangError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(LianfangError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(LianfangError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(LianfangError):
    """A concurrent operation on the same thing got there first; the caller may retry."""

    code = grpc.StatusCode.ABORTED


class PermissionDenied(LianfangError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(LianfangError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(LianfangError):
    """A dependency (the store, the hub) cannot be reached; the caller may retry."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(LianfangError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(LianfangError):
    """A quota or rate limit; ``retry_after`` seconds is sent as google.rpc.RetryInfo."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
