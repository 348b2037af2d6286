"""Protobuf wire-format encoding of the parts of a Check answer that repeat.

Every Check answers with ~40 fields: stacking per token type and window, and reasons. Set one
by one through the protobuf API, each is a Python-to-C call and many are small message objects:
that cost more than the rest of the answer. These parts are written as wire bytes instead (the
stacking blocks and the stacking reasons are cached: answers repeat a lot) and merged into the
message in one C call. The ring is not: its fields are set through the API (``fill_ring``),
which measured as fast as writing their bytes in Python. Tests hold every encoder to the message
the protobuf API builds.

Only what the answers need: varints, length-delimited fields and Timestamps. Proto3 leaves a field
at its default value off the wire, and so do these encoders.
"""

from __future__ import annotations

_NANOS_PER_SECOND = 1_000_000_000
_INT64 = (1 << 64) - 1


def varint(n: int) -> bytes:
    """Base-128 varint of ``n`` (a negative ``n`` as a 64-bit two's complement: ten bytes)."""
    n &= _INT64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field_number: int, wire_type: int) -> bytes:
    """A field's key: ``field_number << 3 | wire_type`` (0 varint, 1 double, 2 length-delimited)."""
    return varint(field_number << 3 | wire_type)


def length_delimited(field_key: bytes, body: bytes) -> bytes:
    """A string, bytes or embedded-message field (``field_key`` from :func:`key` with type 2)."""
    return field_key + varint(len(body)) + body


def text(field_key: bytes, value: str) -> bytes:
    """A string field; empty when ``value`` is (proto3 default)."""
    return length_delimited(field_key, value.encode()) if value else b""


def uint(field_key: bytes, value: int) -> bytes:
    """A varint field (unsigned, enum, bool, or int64); empty when ``value`` is 0."""
    return field_key + varint(value) if value else b""


def timestamp(field_key: bytes, seconds: float) -> bytes:
    """A ``google.protobuf.Timestamp`` field, rounded as ``Timestamp.FromNanoseconds(int(seconds * 1e9))``."""
    whole, nanos = divmod(int(seconds * 1e9), _NANOS_PER_SECOND)
    return length_delimited(field_key, uint(b"\x08", whole) + uint(b"\x10", nanos))


REASONS = key(5, 2)
"""``CheckResponse.reasons``: what :func:`reason` writes."""


def reason(code: str, token_type: int, detail: str) -> bytes:
    """One ``CheckResponse.reasons`` entry (``Reason`` = 1: code, 2: token_type, 3: detail)."""
    return length_delimited(REASONS, text(b"\x0a", code) + uint(b"\x10", token_type) + text(b"\x1a", detail))
