"""Conversions between protobuf Timestamps and the hub's float seconds."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def from_timestamp(ts: Timestamp, default: float) -> float:
    """Seconds of ``ts``, or ``default`` when the field is unset (all zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return default
    return ts.seconds + ts.nanos / 1e9
