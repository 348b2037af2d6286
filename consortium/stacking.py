"""Stacking (多头借贷) answers: per token type and window, distinct other members and their
applications, each hit explained by a reason code.

Several tokens of one type (two phones) are folded: other members are the union across them,
other applications the busiest token of the type.

This runs on every Check (8 token types x 5 windows), so :func:`add_stacking` writes the
``Stacking`` messages into the response as protobuf wire bytes merged in one C call, rather than
building 48 small Python message objects (which cost more than the rest of the answer together).
:func:`stacking_answer` returns the same messages as objects; the unit tests hold both to one
straightforward reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lianfang.v1 import common_pb2, consortium_pb2

from consortium.records import WINDOWS, TokenActivity

_TYPE_LABEL = {v: name.removeprefix("TOKEN_TYPE_") for name, v in common_pb2.TokenType.items() if v != 0}
_WINDOW_LABEL = {w: w.name[1:] + w.name[0] for w in WINDOWS}  # "1H", "24H", "7D", "30D", "90D"

_WINDOW_SECONDS = tuple(w.seconds for w in WINDOWS)
_LABELS = tuple(_WINDOW_LABEL[w] for w in WINDOWS)
_CODES = {(t, i): f"STACKING_{label}_{_LABELS[i]}" for t, label in _TYPE_LABEL.items() for i in range(len(WINDOWS))}
_WITHIN = tuple(f" application(s) within {label.lower()}" for label in _LABELS)

# Wire format (proto3): Stacking = 1: token_type (varint), 2: windows (WindowCount, length-
# delimited); WindowCount = 1: window, 2: other_members, 3: other_applications (varints, zero
# values omitted as protobuf does). CheckResponse.stacking is field 3.
_WINDOW_ENUM = tuple(b"\x08" + bytes((int(w),)) for w in WINDOWS)
_NO_MEMBERS = (0,) * len(WINDOWS)
_CACHE_LIMIT = 8192
_blocks: dict[tuple[int, tuple[int, ...], tuple[int, ...]], bytes] = {}


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _length_delimited(tag: bytes, body: bytes) -> bytes:
    return tag + _varint(len(body)) + body


def _stacking_block(token_type: int, members: Sequence[int], apps: Sequence[int]) -> bytes:
    """One ``CheckResponse.stacking`` entry, as wire bytes (cached: answers repeat a lot)."""
    key = (token_type, tuple(members), tuple(apps))
    block = _blocks.get(key)
    if block is None:
        body = [b"\x08" + _varint(token_type)]
        for i, window in enumerate(_WINDOW_ENUM):
            count = window
            if members[i]:
                count += b"\x10" + _varint(members[i])
            if apps[i]:
                count += b"\x18" + _varint(apps[i])
            body.append(_length_delimited(b"\x12", count))
        block = _length_delimited(b"\x1a", b"".join(body))
        if len(_blocks) < _CACHE_LIMIT:
            _blocks[key] = block
    return block


def add_stacking(
    response: consortium_pb2.CheckResponse,
    token_keys: Sequence[str],
    activity: Mapping[str, TokenActivity],
    caller: str,
    now: float,
) -> list[common_pb2.Reason]:
    """Appends one ``Stacking`` per token type (ascending) to ``response.stacking``; returns the
    reasons, one per type with another member in some window (its shortest such window)."""
    by_type: dict[int, list[TokenActivity]] = {}
    for key in token_keys:
        token_type = int(key.split(".", 2)[1])
        acts = by_type.get(token_type)
        if acts is None:
            by_type[token_type] = [activity[key]]
        else:
            acts.append(activity[key])
    cutoffs = [now - seconds for seconds in _WINDOW_SECONDS]
    widest_first = range(len(cutoffs) - 1, -1, -1)
    reasons: list[common_pb2.Reason] = []
    wire: list[bytes] = []
    for token_type in sorted(by_type):
        acts = by_type[token_type]
        if len(acts) == 1:
            apps = acts[0].other_applications
            seen = [at for member, at in acts[0].member_last_seen.items() if member != caller]
        else:
            last_seen: dict[str, float] = {}
            for act in acts:
                for member, at in act.member_last_seen.items():
                    if member != caller and last_seen.get(member, -1.0) < at:
                        last_seen[member] = at
            seen = list(last_seen.values())
            apps = tuple(max(counts) for counts in zip(*(act.other_applications for act in acts), strict=True))
        if not seen:
            wire.append(_stacking_block(token_type, _NO_MEMBERS, apps))
            continue
        members = [0] * len(cutoffs)
        for at in seen:  # windows nest: a member in a window is in every wider one
            for i in widest_first:
                if at < cutoffs[i]:
                    break
                members[i] += 1
        wire.append(_stacking_block(token_type, members, apps))
        for i, count in enumerate(members):
            if count:
                reasons.append(
                    common_pb2.Reason(
                        code=_CODES[token_type, i],
                        token_type=token_type,
                        detail=f"{count} other member(s), {apps[i]}{_WITHIN[i]}",
                    )
                )
                break
    response.MergeFromString(b"".join(wire))
    return reasons


def stacking_answer(
    token_keys: Sequence[str], activity: Mapping[str, TokenActivity], caller: str, now: float
) -> tuple[list[consortium_pb2.Stacking], list[common_pb2.Reason]]:
    """The ``Stacking`` messages (one per token type, ascending) and their reasons."""
    response = consortium_pb2.CheckResponse()
    reasons = add_stacking(response, token_keys, activity, caller, now)
    return list(response.stacking), reasons
