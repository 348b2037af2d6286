"""Stacking (多头借贷) answers: per token type and window, distinct other members and their
applications, each hit explained by a reason code.

Several tokens of one type (two phones) are folded: other members are the union across them,
other applications the busiest token of the type. A phone, device, e-mail or bank account that
several different applicants gave is *shared*, not stacked: its Stacking is marked ``shared`` and
its reason is one SHARED_<TYPE> instead of STACKING_<TYPE>_<WINDOW>.

This runs on every Check (8 token types x 5 windows), so the answer is written as protobuf wire
bytes (``consortium.wire``): :func:`stacking_wire` returns the ``Stacking`` entries and their
reasons, to be merged into the response in one C call. :func:`stacking_answer` returns the same
messages as objects; the unit tests hold both to one straightforward reference.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from lianfang.v1 import common_pb2, consortium_pb2

from consortium import wire
from consortium.records import WINDOWS, TokenActivity
from consortium.stacking_index import TypeCounts, counts_from_activity

_TYPE_LABEL = {v: name.removeprefix("TOKEN_TYPE_") for name, v in common_pb2.TokenType.items() if v != 0}
_WINDOW_LABEL = {w: w.name[1:] + w.name[0] for w in WINDOWS}  # "1H", "24H", "7D", "30D", "90D"

_WINDOW_SECONDS = tuple(w.seconds for w in WINDOWS)
_LABELS = tuple(_WINDOW_LABEL[w] for w in WINDOWS)
_CODES = {(t, i): f"STACKING_{label}_{_LABELS[i]}" for t, label in _TYPE_LABEL.items() for i in range(len(WINDOWS))}
_WITHIN = tuple(f" application(s) within {label.lower()}" for label in _LABELS)

SHAREABLE = {
    common_pb2.TOKEN_TYPE_PHONE: "PHONE",
    common_pb2.TOKEN_TYPE_DEVICE_ID: "DEVICE_ID",
    common_pb2.TOKEN_TYPE_EMAIL: "EMAIL",
    common_pb2.TOKEN_TYPE_BANK_ACCOUNT: "BANK_ACCOUNT",
}
"""Token types that can be shared by several applicants (a switchboard number, a family computer)."""
_SHARED_DETAIL = "given by several different applicants: counted as shared, not as this applicant's stacking"

# CheckResponse.stacking is field 3; Stacking = 1: token_type, 2: windows
# (WindowCount), 3: shared; WindowCount = 1: window, 2: other_members, 3: other_applications.
_STACKING = wire.key(3, 2)
_WINDOW_ENUM = tuple(b"\x08" + bytes((int(w),)) for w in WINDOWS)
_CACHE_LIMIT = 8192
_blocks: dict[tuple[int, tuple[int, ...], tuple[int, ...], bool], bytes] = {}
_reasons: dict[tuple[str, int, str], bytes] = {}


def reason_wire(code: str, token_type: int, detail: str) -> bytes:
    """One ``CheckResponse.reasons`` entry as wire bytes (cached: answers repeat a lot)."""
    k = (code, token_type, detail)
    encoded = _reasons.get(k)
    if encoded is None:
        encoded = wire.reason(code, token_type, detail)
        if len(_reasons) < _CACHE_LIMIT:
            _reasons[k] = encoded
    return encoded


def _stacking_block(token_type: int, members: Sequence[int], apps: Sequence[int], shared: bool) -> bytes:
    """One ``CheckResponse.stacking`` entry, as wire bytes (cached: answers repeat a lot)."""
    k = (token_type, tuple(members), tuple(apps), shared)
    block = _blocks.get(k)
    if block is None:
        body = [b"\x08" + wire.varint(token_type)]
        for i, window in enumerate(_WINDOW_ENUM):
            count = window + wire.uint(b"\x10", members[i]) + wire.uint(b"\x18", apps[i])
            body.append(wire.length_delimited(b"\x12", count))
        if shared:
            body.append(b"\x18\x01")
        block = wire.length_delimited(_STACKING, b"".join(body))
        if len(_blocks) < _CACHE_LIMIT:
            _blocks[k] = block
    return block


def stacking_wire(counts: Iterable[TypeCounts], shared: Collection[int] = ()) -> tuple[bytes, list[bytes]]:
    """The ``Stacking`` entries (one per type, in the order given) and their reasons, as wire
    bytes: for a type with another member in some window, STACKING_<TYPE>_<WINDOW> at its
    shortest such window; for the ``shared`` types, SHARED_<TYPE> instead, after the others."""
    blocks: list[bytes] = []
    reasons: list[bytes] = []
    for token_type, members, apps in counts:
        is_shared = token_type in shared
        blocks.append(_stacking_block(token_type, members, apps, is_shared))
        if is_shared or members[-1] == 0:  # windows nest: no member in the widest, none at all
            continue
        for i, count in enumerate(members):
            if count:
                reasons.append(
                    reason_wire(_CODES[token_type, i], token_type, f"{count} other member(s), {apps[i]}{_WITHIN[i]}")
                )
                break
    for token_type in sorted(shared):
        reasons.append(reason_wire(f"SHARED_{SHAREABLE[token_type]}", token_type, _SHARED_DETAIL))
    return b"".join(blocks), reasons


def stacking_answer(
    token_keys: Sequence[str],
    activity: Mapping[str, TokenActivity],
    caller: str,
    now: float,
    shared: Collection[int] = (),
) -> tuple[list[consortium_pb2.Stacking], list[common_pb2.Reason]]:
    """The ``Stacking`` messages (one per token type, ascending) and their reasons."""
    blocks, reasons = stacking_wire(counts_from_activity(token_keys, activity, caller, now), shared)
    response = consortium_pb2.CheckResponse.FromString(blocks + b"".join(reasons))
    return list(response.stacking), list(response.reasons)
