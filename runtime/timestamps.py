"""Conversions between protobuf Timestamps and the hub's float seconds."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument


def to_timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def from_timestamp(ts: Timestamp, default: float) -> float:
    """Seconds of ``ts``, or ``default`` when the field is unset (all zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return default
    return ts.seconds + ts.nanos / 1e9


# google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799


def timestamp_problem(ts: Timestamp) -> str | None:
    """Why ``ts`` is not a valid Timestamp (callers may send any seconds and nanos), or None."""
    if not 0 <= ts.nanos <= 999_999_999:
        return "nanos must be within 0..999999999"
    if not MIN_SECONDS <= ts.seconds <= MAX_SECONDS:
        return "must lie between the years 1 and 9999"
    return None


def seconds_of(ts: Timestamp, field: str) -> float:
    """Seconds of a set Timestamp field; INVALID_ARGUMENT naming ``field`` when out of range."""
    problem = timestamp_problem(ts)
    if problem is not None:
        raise InvalidArgument.one(field, problem)
    return ts.seconds + ts.nanos / 1e9
