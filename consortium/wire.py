"""Protobuf wire-format encoding of the parts of a Check answer.

Every Check answers with ~40 fields (stacking per token type and window, reasons, a ring with its
scored factors). Set one by one through the protobuf API, each is a Python-to-C call and several
are small message objects: that cost more than the rest of the answer together. The hot parts
are written as wire bytes instead (the parts that repeat, such as a reason, a window-count block or
a factor's text, are cached) and merged into the message in one C call. Tests hold every encoder to
the message the protobuf API builds.

Only what the answers need: varints of non-negative numbers, length-delimited fields, doubles and
Timestamps. Proto3 leaves a field at its default value off the wire, and so do these encoders.
"""

from __future__ import annotations

import struct

_DOUBLE = struct.Struct("<d")
_NANOS_PER_SECOND = 1_000_000_000


def varint(n: int) -> bytes:
    """Base-128 varint of ``n`` ≥ 0."""
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
    """An unsigned (or enum, or bool) varint field; empty when ``value`` is 0."""
    return field_key + varint(value) if value else b""


def double(field_key: bytes, value: float) -> bytes:
    """A double field (``field_key`` of wire type 1); empty when ``value`` is 0.0."""
    return field_key + _DOUBLE.pack(value) if value else b""


def timestamp(field_key: bytes, seconds: float) -> bytes:
    """A ``google.protobuf.Timestamp`` field, rounded as ``Timestamp.FromNanoseconds(int(seconds * 1e9))``."""
    whole, nanos = divmod(int(seconds * 1e9), _NANOS_PER_SECOND)
    body = (b"\x08" + varint(whole) if whole > 0 else b"") + (b"\x10" + varint(nanos) if nanos else b"")
    if whole < 0:  # an int64 varint: two's complement over ten bytes
        body = b"\x08" + varint(whole + (1 << 64)) + (b"\x10" + varint(nanos) if nanos else b"")
    return length_delimited(field_key, body)


REASONS = key(5, 2)
"""``CheckResponse.reasons``: what :func:`reason` writes."""


def reason(code: str, token_type: int, detail: str) -> bytes:
    """One ``CheckResponse.reasons`` entry (``Reason`` = 1: code, 2: token_type, 3: detail)."""
    return length_delimited(REASONS, text(b"\x0a", code) + uint(b"\x10", token_type) + text(b"\x1a", detail))
