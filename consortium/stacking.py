"""Stacking (多头借贷) answers: per token type and window, distinct other members and their
applications, each hit explained by a reason code.

Several tokens of one type (two phones) are folded: other members are the union across them,
other applications the busiest token of the type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lianfang.v1 import common_pb2, consortium_pb2

from consortium.records import WINDOWS, TokenActivity, token_type_of

_TYPE_LABEL = {v: name.removeprefix("TOKEN_TYPE_") for name, v in common_pb2.TokenType.items() if v != 0}
_WINDOW_LABEL = {w: w.name[1:] + w.name[0] for w in WINDOWS}  # "1H", "24H", "7D", "30D", "90D"


def stacking_answer(
    token_keys: Sequence[str], activity: Mapping[str, TokenActivity], caller: str, now: float
) -> tuple[list[consortium_pb2.Stacking], list[common_pb2.Reason]]:
    by_type: dict[int, list[TokenActivity]] = {}
    for key in token_keys:
        by_type.setdefault(token_type_of(key), []).append(activity[key])
    cutoffs = [now - w.seconds for w in WINDOWS]
    stacking: list[consortium_pb2.Stacking] = []
    reasons: list[common_pb2.Reason] = []
    for token_type in sorted(by_type):
        acts = by_type[token_type]
        last_seen: dict[str, float] = {}
        for act in acts:
            for member, at in act.member_last_seen.items():
                if member != caller and last_seen.get(member, -1.0) < at:
                    last_seen[member] = at
        windows = []
        first_hit: tuple[int, int, int] | None = None
        for i, window in enumerate(WINDOWS):
            members = sum(1 for at in last_seen.values() if at >= cutoffs[i])
            apps = max(act.other_applications[i] for act in acts)
            windows.append(consortium_pb2.WindowCount(window=window, other_members=members, other_applications=apps))
            if members and first_hit is None:
                first_hit = (i, members, apps)
        stacking.append(consortium_pb2.Stacking(token_type=token_type, windows=windows))
        if first_hit is not None:
            i, members, apps = first_hit
            label = _WINDOW_LABEL[WINDOWS[i]]
            reasons.append(
                common_pb2.Reason(
                    code=f"STACKING_{_TYPE_LABEL[token_type]}_{label}",
                    token_type=token_type,
                    detail=f"{members} other member(s), {apps} application(s) within {label.lower()}",
                )
            )
    return stacking, reasons
