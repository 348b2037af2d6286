"""The one error type SDK calls raise: the gRPC status code plus google.rpc field details."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from runtime.errors import FieldViolation

__all__ = ["FieldViolation", "LianfangRpcError"]


class LianfangRpcError(Exception):
    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        violations: tuple[FieldViolation, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = violations
        self.retry_after = retry_after
        """Seconds the server asked the caller to wait (google.rpc.RetryInfo), if it said."""

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> LianfangRpcError:
        violations: list[FieldViolation] = []
        retry_after: float | None = None
        for key, value in error.trailing_metadata() or ():
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                        bad = error_details_pb2.BadRequest()
                        detail.Unpack(bad)
                        violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
                    elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                        info = error_details_pb2.RetryInfo()
                        detail.Unpack(info)
                        retry_after = info.retry_delay.ToNanoseconds() / 1e9
        return cls(error.code(), error.details() or "", tuple(violations), retry_after)
